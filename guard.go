package rsguard

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/authheader"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/internal/reqctx"
	"github.com/rsguard/rsguard/rsmeta"
)

// Authenticator is a credential kind: it reads the caller's credential from
// a request and proves who the caller is. validate.Validator (bearer JWTs)
// and apikey.Authenticator (API keys, composing a bearer authenticator)
// implement it; so can any other kind.
//
// Authenticate returns a new [Principal] owned by this request, or an error:
// an [*Error] (any other error is answered as 401 invalid_token with a
// generic description). A request without the credential the
// authenticator reads gets an *Error with reason
// [audit.ReasonNoCredential] (see [Error]). It must be
// safe for concurrent use, must not write to the response, and must not
// block past the request's context.
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// Challenger is an [Authenticator] that accepts credentials under schemes
// other than, or besides, Bearer, such as a validate.Validator that accepts
// DPoP-bound tokens (RFC 9449 §7.1). The [Guard] asks once, at [New], and
// sends every challenge returned, in order, one WWW-Authenticate field
// value each, each with the Guard's realm, resource_metadata and scope
// (which it sets: the challenges give a scheme and its own auth-params,
// such as DPoP's algs); an empty list means one Bearer challenge. A
// refusal's error code goes on the challenge of its [Error.Scheme].
type Challenger interface {
	Challenges() []rsmeta.Challenge
}

// Config configures a [Guard]. Authenticator and ResourceMetadata are
// required; every other field has a documented default.
type Config struct {
	// Authenticator proves who the caller is. Required.
	Authenticator Authenticator

	// ResourceMetadata is the URL of this resource's RFC 9728 protected
	// resource metadata document (rsmeta.Metadata.URL), sent as
	// resource_metadata in every challenge (RFC 9728 §5.1), so that a
	// client can discover where to get a token; the scope checks of
	// package scopes send it too. Required: an absolute https URL (http
	// only on a loopback host), checked by [New].
	ResourceMetadata string

	// Scopes, if set, are sent as the scope auth-param of the Guard's
	// challenges (MCP 2025-11-25 scope selection: the scopes a client
	// should ask for first), once each and never offline_access (a
	// resource server does not ask for refresh tokens). Default none.
	Scopes []string

	// Realm, if set, is sent as the realm auth-param of every challenge.
	Realm string

	// OnDecision, if set, receives one authenticate-stage audit.Decision per
	// request: allowed or refused, the stable reason code of the
	// [*Error], the credential kind, and the identity the credential
	// proved (a [Principal], or [Error.Principal] of a credential refused
	// after it was verified). If nil, no decision is made, at no cost.
	OnDecision audit.Func

	// Logger receives a debug line per refused request (status and
	// reason, never the credential). If nil, nothing is logged.
	Logger *slog.Logger
}

// Guard is the one authentication middleware of rsguard: it asks its
// [Authenticator] who the caller is, puts the [Principal] in the request's
// context, and answers refusals the standard way. Build it with [New]; it
// is safe for concurrent use.
type Guard struct {
	auth       Authenticator
	challenges []rsmeta.Challenge // each with realm, resource_metadata, scope; never empty
	onDecision audit.Func
	logger     *slog.Logger
	answers    answers
}

// New checks cfg and returns a Guard. Errors wrap [ErrInvalidConfig] and
// name the field at fault.
func New(cfg Config) (*Guard, error) {
	switch {
	case cfg.Authenticator == nil || check.IsNil(cfg.Authenticator):
		return nil, fmt.Errorf("%w: Authenticator is required", ErrInvalidConfig)
	case cfg.ResourceMetadata == "":
		return nil, fmt.Errorf("%w: ResourceMetadata is required", ErrInvalidConfig)
	case cfg.Logger != nil && cfg.Logger.Handler() == nil:
		return nil, fmt.Errorf("%w: Logger has no handler: build it with slog.New, or leave it nil to log nothing", ErrInvalidConfig)
	}
	g := &Guard{
		auth:       cfg.Authenticator,
		onDecision: cfg.OnDecision,
		logger:     cfg.Logger,
	}
	var scope []string
	for _, s := range cfg.Scopes {
		if s != "offline_access" && !slices.Contains(scope, s) {
			scope = append(scope, s)
		}
	}
	var cs []rsmeta.Challenge
	if c, ok := cfg.Authenticator.(Challenger); ok {
		cs = c.Challenges()
	}
	if len(cs) == 0 {
		cs = []rsmeta.Challenge{{}}
	}
	for i, c := range cs {
		for _, prev := range cs[:i] {
			if strings.EqualFold(schemeOf(c), schemeOf(prev)) {
				return nil, fmt.Errorf("%w: Authenticator: the challenge scheme %s is given twice", ErrInvalidConfig, schemeOf(c))
			}
		}
		switch {
		case c.Realm != "" || c.ResourceMetadata != "" || len(c.Scope) != 0:
			return nil, fmt.Errorf("%w: Authenticator: a %s challenge sets realm, resource_metadata or scope, which are the Guard's", ErrInvalidConfig, schemeOf(c))
		case c.Error != "" || c.ErrorDescription != "" || c.ErrorURI != "":
			return nil, fmt.Errorf("%w: Authenticator: a %s challenge carries an error", ErrInvalidConfig, schemeOf(c))
		}
		c.Realm, c.ResourceMetadata, c.Scope = cfg.Realm, cfg.ResourceMetadata, scope
		c.Params = slices.Clone(c.Params)
		if _, err := c.Header(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		g.challenges = append(g.challenges, c)
	}
	return g, nil
}

// schemeOf returns c's auth-scheme, "Bearer" for "".
func schemeOf(c rsmeta.Challenge) string {
	if c.Scheme == "" {
		return "Bearer"
	}
	return c.Scheme
}

// challengeOf returns the index of the Guard's challenge of scheme, or 0
// (the first) when there is none.
func (g *Guard) challengeOf(scheme string) int {
	if scheme == "" || len(g.challenges) == 1 {
		return 0
	}
	for i, c := range g.challenges {
		if strings.EqualFold(schemeOf(c), scheme) {
			return i
		}
	}
	return 0
}

// Middleware authenticates every request to next.
//
//   - A request without a credential: 401 with
//     `WWW-Authenticate: Bearer resource_metadata="…"` (plus scope when
//     Config.Scopes is set) and no error code (RFC 6750 §3.1, RFC 9728 §5.1,
//     the MCP authorization specification); for a [Challenger], each of its
//     challenges, in order, one WWW-Authenticate field value each.
//   - A credential refused: the [*Error]'s status, with error and
//     error_description in the challenge (401 invalid_token for a bad token,
//     400 invalid_request for a malformed request), never the credential;
//     for a Challenger, in the challenge of the Error's Scheme, the others
//     sent without an error.
//   - A 503 (keys or a store unavailable) carries Retry-After.
//   - An authenticator's programming error — a principal without a Subject,
//     an [Error.Status] outside 400–599 — is answered 500; a 5xx other than
//     503 carries no challenge (no credential could do better).
//
// Every refusal has a short JSON body (Content-Type application/json) that
// says what happened without the challenge: {"error":"invalid_token",
// "error_description":"the access token expired"}, the [*Error]'s Code and
// Description; without a Code, an "error" chosen by status (see
// rsmeta.WriteError): {"error":"unauthorized","error_description":
// "authentication required"} for a request without a credential,
// {"error":"temporarily_unavailable",…} for a 503, {"error":"server_error"}
// for another 5xx. Descriptions are chosen text: never a credential, never
// a cause's message.
//
// On success, next gets the request with the [Principal] in its context
// ([FromContext]) and the Principal's response headers set. Later refusals
// of that request (package scopes' 403 insufficient_scope) use the Guard's
// challenge of the scheme of its Authorization header (DPoP for a DPoP
// request), else its first.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		if g.onDecision != nil {
			start = time.Now()
		}
		p, err := g.auth.Authenticate(r)
		if err == nil && (p == nil || p.Subject == "") {
			// A programming error of the authenticator: principals without
			// a subject would all look alike to session binding.
			err = &Error{Status: http.StatusInternalServerError, Reason: audit.ReasonInternalError, Err: errNoPrincipal}
		}
		var e *Error
		if err != nil {
			e = refusalOf(err)
		}
		if g.onDecision != nil {
			g.decide(r, p, e, start)
		}
		if e != nil {
			g.writeError(w, r, e)
			return
		}
		for k, vs := range p.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		c := &g.challenges[0]
		if len(g.challenges) > 1 {
			scheme, _, _ := authheader.Split(r)
			c = &g.challenges[g.challengeOf(scheme)]
		}
		next.ServeHTTP(w, r.WithContext(reqctx.With(r.Context(), reqctx.State{Principal: p, Challenge: c})))
	})
}

// decide sends the authenticate-stage decision of r to OnDecision: p
// allowed, or refused with e.
func (g *Guard) decide(r *http.Request, p *Principal, e *Error, start time.Time) {
	var d audit.Decision
	if e != nil {
		d = NewDecision(r, audit.StageAuthenticate, e.Principal)
		d.Reason, d.Status, d.Credential = e.reason(), e.Status, e.Credential
	} else {
		d = NewDecision(r, audit.StageAuthenticate, p)
		d.Allowed, d.Reason = true, audit.ReasonOK
	}
	d.Time, d.Latency = start, time.Since(start)
	g.onDecision(r.Context(), d)
}

// writeError answers a request refused with e (from refusalOf): its status,
// and the Guard's challenges, the one of e.Scheme with its code and
// description. Every challenge carries resource_metadata, so that a client
// can discover how to get a token.
func (g *Guard) writeError(w http.ResponseWriter, r *http.Request, e *Error) {
	h := w.Header()
	if g.logger != nil && g.logger.Enabled(r.Context(), slog.LevelDebug) {
		g.logger.DebugContext(r.Context(), "rsguard: request refused", "status", e.Status, "reason", string(e.reason()))
	}
	switch {
	case e.Status == http.StatusServiceUnavailable && h.Get("Retry-After") == "":
		h.Set("Retry-After", strconv.Itoa(max(1, int((e.RetryAfter+time.Second-1)/time.Second))))
	case e.Status >= 500 && e.Status != http.StatusServiceUnavailable:
		// A server error: no credential could do better, so no challenge,
		// and nothing about the cause.
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(serverErrorBody)))
		w.WriteHeader(e.Status)
		_, _ = w.Write([]byte(serverErrorBody))
		return
	}
	at := g.challengeOf(e.Scheme) // the challenge that carries the error
	if len(e.Header) == 0 && g.answers.replay(w, e, at) {
		return
	}
	cs := g.challenges
	if e.Code != "" {
		cs = slices.Clone(cs)
		cs[at].Error, cs[at].ErrorDescription = e.Code, e.Description
	}
	if len(e.Header) != 0 { // its own headers: never recorded
		rsmeta.WriteError(&extraHeaders{ResponseWriter: w, h: e.Header}, e.Status, e.Code, e.Description, cs...)
		return
	}
	g.answers.record(e, at, cs)
	rsmeta.WriteError(w, e.Status, e.Code, e.Description, cs...)
}

// serverErrorBody is the body of the Guard's 5xx answers other than 503.
const serverErrorBody = `{"error":"server_error"}`

// extraHeaders adds an Error's own headers when the status is written,
// after the ones the wrapped writer's caller set (so a further challenge
// follows the Bearer one).
type extraHeaders struct {
	http.ResponseWriter
	h    http.Header
	done bool
}

func (x *extraHeaders) WriteHeader(status int) {
	if !x.done {
		x.done = true
		for k, vs := range x.h {
			for _, v := range vs {
				x.Header().Add(k, v)
			}
		}
	}
	x.ResponseWriter.WriteHeader(status)
}

func (x *extraHeaders) Write(b []byte) (int, error) {
	if !x.done {
		x.WriteHeader(http.StatusOK)
	}
	return x.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (x *extraHeaders) Unwrap() http.ResponseWriter { return x.ResponseWriter }
