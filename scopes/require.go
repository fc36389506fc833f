package scopes

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

// offlineAccess is the OpenID Connect scope that asks for a refresh token. It
// is never named in a challenge (MCP authorization, scope selection).
const offlineAccess = "offline_access"

// Error is the typed error of a failed scope check. [Require], [RequireAny],
// [RequireAuthentication], [Route.Check] and [MCP.Check] return it;
// [WriteError] turns it into the response. Match its class with
// errors.Is(err, audit.ReasonInsufficientScope) (or
// [audit.ReasonNoPrincipal], [audit.ReasonUnknownTool],
// [audit.ReasonInsufficientUserAuthentication]; see the package
// documentation for what each means) and read the fields with [errors.As].
type Error struct {
	// Err is the reason: audit.ReasonNoPrincipal,
	// audit.ReasonInsufficientScope, audit.ReasonUnknownTool or
	// audit.ReasonInsufficientUserAuthentication, or an error wrapping one.
	// Unwrap returns it.
	Err error

	// Required lists every scope the operation needs, in the order they
	// were required, without duplicates; with Any, the alternatives of
	// which one suffices. For an MCP batch it is the union over all its
	// calls. With an implication in force (Implies, [Hierarchy]), scopes
	// implied by another required scope are left out. Empty when nothing
	// was required (a bare principal check), nothing could be
	// (audit.ReasonUnknownTool), or the failure is a step-up
	// (audit.ReasonInsufficientUserAuthentication).
	Required []string

	// Any reports that Required are alternatives ([RequireAny]).
	Any bool

	// Missing lists the required scopes the principal does not satisfy. With
	// Any it equals Required.
	Missing []string

	// Granted lists the scopes the principal carries; nil with
	// audit.ReasonNoPrincipal.
	Granted []string

	// Authentication is the step-up requirement the principal failed, with
	// audit.ReasonInsufficientUserAuthentication; nil otherwise.
	Authentication *AuthRequirement

	// Operation names what was refused, for messages, such as
	// "tool deploy" or "method resources/read"; empty for a check made in
	// handler code. It only ever contains names from the configuration,
	// never text from the request.
	Operation string
}

// Error returns a message for logs. It is not meant for clients:
// [WriteError] chooses the client-facing text.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("scopes: ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("scope check failed")
	}
	if e.Operation != "" {
		b.WriteString(": ")
		b.WriteString(e.Operation)
	}
	if len(e.Missing) > 0 {
		if e.Any {
			b.WriteString(": needs one of ")
		} else {
			b.WriteString(": missing ")
		}
		b.WriteString(strings.Join(e.Missing, " "))
	}
	if e.Granted != nil {
		b.WriteString(" (granted: ")
		b.WriteString(strings.Join(e.Granted, " "))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// challengeScope is the scope auth-param value for e (MCP step-up
// authorization): every required scope when all are needed, including the
// ones the client already holds, so that one re-authorization yields a token
// good for the operation; the first alternative when any one suffices (list
// the least privileged first). offline_access is never named.
func (e *Error) challengeScope() []string {
	out := make([]string, 0, len(e.Required))
	for _, s := range e.Required {
		if s == offlineAccess {
			continue
		}
		out = append(out, s)
		if e.Any {
			break
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Require checks that the request's [rsguard.Principal] (see
// [rsguard.FromContext]) carries every one of scopes. It returns nil if so;
// otherwise an [*Error] of class [audit.ReasonInsufficientScope], or
// [audit.ReasonNoPrincipal] when ctx holds no principal at all (fail closed).
// With no scopes it only requires a principal.
//
// Scope tokens are compared exactly and case-sensitively (RFC 6749 §3.3);
// there is no hierarchical or wildcard matching here (see [Hierarchy.Require]
// and [RouteConfig.Implies] for that). A scope that is not a valid scope
// token is never satisfied: it is a programming error, returned as an error
// wrapping [rsguard.ErrInvalidConfig], which [WriteError] answers 500.
//
// Pass the error to [WriteError] to answer the request.
func Require(ctx context.Context, scopes ...string) error {
	if err := validScopes(scopes); err != nil {
		return fmt.Errorf("%w: %w", rsguard.ErrInvalidConfig, err)
	}
	return checkScopes(ctx, scopes, false, nil, "")
}

// RequireAny checks that the request's [rsguard.Principal] carries at least one of
// scopes, compared as [Require] does. On failure the [*Error] has Any set and
// its 403 challenge names the first alternative only, asking the client for
// the least it needs: list the least privileged scope first. With no scopes
// it only requires a principal.
func RequireAny(ctx context.Context, scopes ...string) error {
	if err := validScopes(scopes); err != nil {
		return fmt.Errorf("%w: %w", rsguard.ErrInvalidConfig, err)
	}
	return checkScopes(ctx, scopes, true, nil, "")
}

// Has reports whether the request's [rsguard.Principal] carries every one of
// scopes, compared exactly as [Require] does. It is false when ctx holds no
// principal.
func Has(ctx context.Context, scopes ...string) bool {
	return Require(ctx, scopes...) == nil
}

// checkScopes is the one decision behind Require, RequireAny, Route and MCP.
// want must have been validated.
func checkScopes(ctx context.Context, want []string, anyOf bool, implies func(granted, required string) bool, op string) error {
	p, ok := rsguard.FromContext(ctx)
	if !ok {
		return &Error{Err: audit.ReasonNoPrincipal, Required: dedup(want), Any: anyOf, Operation: op}
	}
	if len(want) == 0 {
		return nil
	}
	if anyOf {
		for _, s := range want {
			if satisfies(p, s, implies) {
				return nil
			}
		}
		req := dedup(want)
		return &Error{Err: audit.ReasonInsufficientScope, Required: req, Any: true, Missing: req,
			Granted: granted(p), Operation: op}
	}
	if satisfiesAll(p, want, implies) {
		return nil
	}
	return insufficient(p, dedup(want), implies, op)
}

// insufficient builds the error for an all-of requirement req that p fails.
func insufficient(p *rsguard.Principal, req []string, implies func(granted, required string) bool, op string) *Error {
	req = minimal(req, implies)
	var missing []string
	for _, s := range req {
		if !satisfies(p, s, implies) {
			missing = append(missing, s)
		}
	}
	return &Error{Err: audit.ReasonInsufficientScope, Required: req, Missing: missing,
		Granted: granted(p), Operation: op}
}

func satisfiesAll(p *rsguard.Principal, want []string, implies func(granted, required string) bool) bool {
	for _, s := range want {
		if !satisfies(p, s, implies) {
			return false
		}
	}
	return true
}

// satisfies reports whether p carries required exactly (compared
// case-sensitively, RFC 6749 §3.3), or, with implies, a scope that implies
// it. A nil principal carries nothing.
func satisfies(p *rsguard.Principal, required string, implies func(granted, required string) bool) bool {
	if p == nil {
		return false
	}
	for _, s := range p.Scopes {
		if s == required || (implies != nil && implies(s, required)) {
			return true
		}
	}
	return false
}

// granted returns a copy of p's scopes, never nil for a principal.
func granted(p *rsguard.Principal) []string {
	return append(make([]string, 0, len(p.Scopes)), p.Scopes...)
}

// dedup returns a copy of list without duplicates, first occurrence first.
func dedup(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Wildcard is an implication for [RouteConfig.Implies] and
// [MCPConfig.Implies] that gives a granted scope ending in "*" every scope
// that extends the text before the "*": "tools:*" satisfies "tools:read" and
// "tools:read:all", but neither "tools:" nor "tools" nor "toolsx". A granted
// "*" satisfies every scope. Exact equality is checked before it is called.
//
// RFC 6749 gives scopes no structure: use it only if your authorization
// server issues such scopes with this meaning. Off unless configured.
func Wildcard(granted, required string) bool {
	if !strings.HasSuffix(granted, "*") {
		return false
	}
	prefix := granted[:len(granted)-1]
	return len(required) > len(prefix) && strings.HasPrefix(required, prefix)
}

// validScopes returns an error naming the first of list that is not an RFC
// 6749 §3.3 scope token (one or more of %x21 / %x23-5B / %x5D-7E: printable
// ASCII except space, '"' and '\'). Callers wrap it with
// [rsguard.ErrInvalidConfig].
func validScopes(list []string) error {
	for _, s := range list {
		if !check.IsScopeToken(s) {
			return fmt.Errorf("invalid scope token %q", s)
		}
	}
	return nil
}

// validName reports whether s can be a tool or method name in a
// configuration map: non-empty valid UTF-8 without U+FFFD, so that no
// request's name can decode to it by replacement of invalid bytes.
func validName(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError)
}
