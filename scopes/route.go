package scopes

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

// RouteConfig configures a [Route]: the scopes every request under it needs.
type RouteConfig struct {
	// Scopes are the RFC 6749 §3.3 scope tokens required. Empty means a
	// principal is required and nothing more, which still fails closed when
	// the [rsguard.Guard] did not run.
	Scopes []string

	// Any, if true, accepts a principal with any one of Scopes (then Scopes
	// must not be empty, and the 403 challenge names the first, so list the
	// least privileged first). If false (the default), every one of Scopes
	// is required and the challenge names them all.
	Any bool

	// Implies, if set, lets a granted scope satisfy a required scope it is
	// not equal to, for authorization servers that issue hierarchical
	// scopes (see [Wildcard] and [Hierarchy.Implies]). If nil (the default),
	// a required scope is
	// satisfied only by the identical granted scope (RFC 6749 §3.3).
	Implies func(granted, required string) bool

	// ErrorHandler, if set, answers requests that fail the check, with the
	// error Check returned. If nil, [WriteError] answers, with the realm and
	// resource_metadata of the [rsguard.Guard] that authenticated the
	// request.
	ErrorHandler func(http.ResponseWriter, *http.Request, error)

	// Authentication, if set, is an RFC 9470 step-up requirement on how
	// the user authenticated, checked after the scopes: a principal that
	// fails it gets 401 insufficient_user_authentication with acr_values
	// and max_age. If nil (the default), none.
	Authentication *AuthRequirement

	// Now returns the current time, for Authentication.MaxAge. If nil,
	// time.Now.
	Now func() time.Time

	// OnDecision, if set, receives one authorize-stage [audit.Decision] per
	// request, allowed or refused, with the route's scopes as Required. If
	// nil (the default), none is made, at no cost.
	OnDecision audit.Func
}

// Route requires scopes of every request routed through it. Create it with
// [NewRoute] and mount its [Route.Handler]; [Middleware] is a shorthand for
// all-of routes. It is safe for concurrent use.
type Route struct {
	scopes  []string
	any     bool
	implies func(granted, required string) bool
	onError func(http.ResponseWriter, *http.Request, error)
	auth    *AuthRequirement
	now     func() time.Time

	onDecision audit.Func
}

// NewRoute checks cfg and returns the Route it describes. It refuses, with
// an error wrapping [rsguard.ErrInvalidConfig], a scope that is not an RFC
// 6749 §3.3 scope token, Any with no Scopes, and an invalid Authentication
// (an acr value that is not a scope token, a MaxAge that is negative or not
// whole seconds).
func NewRoute(cfg RouteConfig) (*Route, error) {
	if err := validScopes(cfg.Scopes); err != nil {
		return nil, fmt.Errorf("%w: RouteConfig.Scopes: %w", rsguard.ErrInvalidConfig, err)
	}
	if cfg.Any && len(cfg.Scopes) == 0 {
		return nil, fmt.Errorf("%w: RouteConfig.Any needs at least one scope", rsguard.ErrInvalidConfig)
	}
	var auth *AuthRequirement
	if cfg.Authentication != nil {
		a := *cfg.Authentication
		a.ACRValues = append([]string(nil), a.ACRValues...)
		if err := a.validate(); err != nil {
			return nil, fmt.Errorf("%w: RouteConfig.Authentication: %w", rsguard.ErrInvalidConfig, err)
		}
		auth = &a
	}
	rt := &Route{
		auth:    auth,
		now:     cfg.Now,
		scopes:  dedup(cfg.Scopes),
		any:     cfg.Any,
		implies: cfg.Implies,
		onError: cfg.ErrorHandler,

		onDecision: cfg.OnDecision,
	}
	if rt.onError == nil {
		rt.onError = WriteError
	}
	if rt.now == nil {
		rt.now = time.Now
	}
	return rt, nil
}

// Check decides r: nil if the request's [rsguard.Principal] meets the
// route's requirement, else an [*Error] (see [Require]). It does not read
// the body.
func (rt *Route) Check(r *http.Request) error {
	if err := checkScopes(r.Context(), rt.scopes, rt.any, rt.implies, ""); err != nil || rt.auth == nil {
		return err
	}
	p, _ := rsguard.FromContext(r.Context()) // check has failed closed without one
	if !rt.auth.met(p, rt.now()) {
		return stepUpError(p, rt.auth, "")
	}
	return nil
}

// Handler returns next guarded by the route: a request that fails [Route.Check]
// is answered by the ErrorHandler (by default 401 or 403, see [WriteError])
// and never reaches next. It is an ordinary func(http.Handler) http.Handler
// middleware, so it composes with [http.ServeMux], chi's Use and With, and any
// router. Place it after the [rsguard.Guard] (its Middleware).
func (rt *Route) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		if rt.onDecision != nil {
			start = time.Now()
		}
		err := rt.Check(r)
		if rt.onDecision != nil {
			p, _ := rsguard.FromContext(r.Context())
			d := authorizeDecision(r, p, start, err)
			d.Required = slices.Clone(rt.scopes) // the sink's own: never the configuration
			d.Latency = time.Since(start)
			rt.onDecision(r.Context(), d)
		}
		if err != nil {
			rt.onError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Middleware returns a middleware that requires every one of scopes, as
// [NewRoute] with RouteConfig{Scopes: scopes} would. It panics if a scope is
// not a valid scope token, like [regexp.MustCompile], so call it with
// literals at start-up. For any one of several scopes, or any other
// [RouteConfig] setting, use NewRoute and its [Route.Handler].
func Middleware(scopes ...string) func(http.Handler) http.Handler {
	rt, err := NewRoute(RouteConfig{Scopes: scopes})
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return rt.Handler
}
