package rsguard

import (
	"context"
	"net/http"
	"time"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/internal/reqctx"
)

// Principal is the caller of one request, as its credential proves it: who,
// for which issuer and client, in which tenant, with which scopes, until when.
// An [Authenticator] returns a new Principal for each request, which the
// [Guard] puts in the request's context ([FromContext]); package scopes
// checks its scopes, whatever the credential was.
//
// A Principal belongs to its request: nothing in it is shared with another
// request or with the authenticator's caches, so changing it cannot change
// what another request sees. Within its request it is read by every later
// handler and scope check: treat it as read-only.
type Principal struct {
	// Subject is a stable identifier of the caller, unchanged when its
	// token is refreshed, whose prefix names its kind: "user:" + issuer +
	// "#" + sub for a user, "client:" + issuer + "#" + client id for a
	// client acting for itself (validate.Claims.Principal), "apikey:owner:"
	// + owner or "apikey:client:" + client id for an API key. Principals
	// of different kinds are never equal. Bind MCP sessions to it. It is
	// never derived from the credential's secret. Never empty.
	Subject string

	// Credential is the kind of credential that authenticated the request.
	Credential audit.Credential

	// Issuer is the issuer of a token (its "iss" claim); empty for API keys.
	Issuer string

	// ClientID identifies the OAuth client (the "client_id" claim, or the
	// client an API key was issued to). Empty if unknown.
	ClientID string

	// Tenant is the tenant or organisation of the credential, when its
	// authenticator was configured to extract one. Empty otherwise.
	Tenant string

	// Scopes are the granted scopes, each one an RFC 6749 §3.3 scope token,
	// without duplicates (read by the rule of [ParseScopes]). Comparison is
	// exact and case-sensitive.
	Scopes []string

	// Expiry is when the credential stops being valid (a token's "exp");
	// zero when it does not expire.
	Expiry time.Time

	// TokenID identifies the credential without revealing it, for audit
	// trails: a JWT's "jti" claim, an API key's public id. Never the token
	// or the key itself.
	TokenID string

	// ACR is the authentication context class the user authenticated with
	// (the "acr" claim, RFC 9068 §2.2.1), for step-up checks (RFC 9470).
	// Empty when unknown, and always for API keys.
	ACR string

	// AuthTime is when the user last authenticated (the "auth_time" claim).
	// Zero when unknown, and always for API keys.
	AuthTime time.Time

	// Header holds response headers the Guard adds to the answer of this
	// request, such as apikey's Deprecation, Sunset and Link for a
	// deprecated key. Nil for most credentials.
	Header http.Header

	// Details holds what is specific to the credential kind, owned by the
	// request like the rest: *validate.Claims for a JWT, *apikey.Use for
	// an API key. Read it through the credential's package
	// (validate.ClaimsFromContext).
	Details any
}

// NewContext returns a copy of ctx that carries p, as the [Guard] stores it.
// Use it in tests of handler code, and in middlewares of your own that
// authenticate by other means. The challenge of a Guard that ran before is
// kept, so that later refusals still point to its metadata.
func NewContext(ctx context.Context, p *Principal) context.Context {
	s := reqctx.State{Principal: p}
	if prev := reqctx.From(ctx); prev != nil {
		s.Challenge = prev.Challenge
	}
	return reqctx.With(ctx, s)
}

// FromContext returns the Principal stored in ctx by the [Guard] (or
// [NewContext]), and whether there was one. A missing Principal means the
// request was not authenticated, or the middlewares are in the wrong order:
// callers must fail closed.
func FromContext(ctx context.Context) (*Principal, bool) {
	s := reqctx.From(ctx)
	if s == nil {
		return nil, false
	}
	p, ok := s.Principal.(*Principal)
	return p, ok && p != nil
}

// NewDecision starts the audit.Decision of a request at stage: Method, Path
// and MCPSession (the tag of its Mcp-Session-Id, never the id) from r, and, when p is not nil, the identity it proved
// (credential kind, issuer, subject, client, tenant, token id and granted
// scopes, sharing p's slice). The caller sets the outcome: Allowed, Reason,
// Status, Time and Latency. Middlewares that make decisions of their own —
// the Guard, the scope checks of package scopes — use it.
func NewDecision(r *http.Request, stage audit.Stage, p *Principal) audit.Decision {
	d := audit.Decision{Stage: stage, Method: check.Text(r.Method)}
	if r.URL != nil {
		d.Path = check.Text(r.URL.Path)
	}
	if v := r.Header["Mcp-Session-Id"]; len(v) == 1 && check.IsSessionID(v[0]) {
		d.MCPSession = check.SessionTag(v[0])
	}
	if p != nil {
		d.Credential, d.Issuer, d.Subject, d.ClientID = p.Credential, p.Issuer, p.Subject, p.ClientID
		d.Tenant, d.TokenID, d.Granted = p.Tenant, p.TokenID, p.Scopes
	}
	return d
}
