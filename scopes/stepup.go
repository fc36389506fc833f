package scopes

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/rsmeta"
)

// AuthRequirement is an RFC 9470 step-up requirement on how the user
// authenticated: checked against the principal's [rsguard.Principal].ACR and
// AuthTime (the token's "acr" and "auth_time" claims).
type AuthRequirement struct {
	// ACRValues are the acceptable authentication context class values, in
	// order of preference (RFC 9470 §3 acr_values); the principal's ACR must be
	// one of them. If empty, any ACR is accepted.
	ACRValues []string

	// MaxAge is the longest time since the user last authenticated (RFC
	// 9470 §3 max_age, whole seconds). A principal without an auth time fails
	// it. If zero, the age is not checked.
	MaxAge time.Duration
}

func (a *AuthRequirement) validate() error {
	for _, v := range a.ACRValues {
		if !check.IsScopeToken(v) { // acr values travel space-separated, like scopes
			return fmt.Errorf("invalid acr value %q: not a scope token", v)
		}
	}
	if a.MaxAge < 0 || (a.MaxAge > 0 && a.MaxAge%time.Second != 0) {
		return fmt.Errorf("MaxAge %v must be a positive whole number of seconds", a.MaxAge)
	}
	return nil
}

// met reports whether p satisfies a at now.
func (a *AuthRequirement) met(p *rsguard.Principal, now time.Time) bool {
	if len(a.ACRValues) > 0 && !slices.Contains(a.ACRValues, p.ACR) {
		return false
	}
	if a.MaxAge > 0 && (p.AuthTime.IsZero() || now.Sub(p.AuthTime) > a.MaxAge) {
		return false
	}
	return true
}

// params are the RFC 9470 §3 auth-params of the challenge.
func (a *AuthRequirement) params() []rsmeta.Param {
	var ps []rsmeta.Param
	if len(a.ACRValues) > 0 {
		ps = append(ps, rsmeta.Param{Name: "acr_values", Value: strings.Join(a.ACRValues, " ")})
	}
	if a.MaxAge > 0 {
		ps = append(ps, rsmeta.Param{Name: "max_age", Value: strconv.FormatInt(int64(a.MaxAge/time.Second), 10)})
	}
	return ps
}

// RequireAuthentication checks, in handler code, that the request's principal
// meets req at time now. It returns nil if so; otherwise an [*Error] of
// class [audit.ReasonInsufficientUserAuthentication] (or
// [audit.ReasonNoPrincipal]) for [WriteError], which answers 401 with the
// step-up challenge. An invalid req (an acr value that is not a scope token,
// a MaxAge that is negative or not whole seconds) is a programming error,
// returned as an error wrapping [rsguard.ErrInvalidConfig].
func RequireAuthentication(ctx context.Context, req AuthRequirement, now time.Time) error {
	if err := req.validate(); err != nil {
		return fmt.Errorf("%w: AuthRequirement: %w", rsguard.ErrInvalidConfig, err)
	}
	p, ok := rsguard.FromContext(ctx)
	if !ok {
		return &Error{Err: audit.ReasonNoPrincipal}
	}
	if req.met(p, now) {
		return nil
	}
	return stepUpError(p, &req, "")
}

func stepUpError(p *rsguard.Principal, req *AuthRequirement, op string) *Error {
	a := *req // the configured requirement stays the route's: an ErrorHandler may write into the error
	a.ACRValues = slices.Clone(req.ACRValues)
	return &Error{Err: audit.ReasonInsufficientUserAuthentication, Granted: granted(p), Authentication: &a, Operation: op}
}
