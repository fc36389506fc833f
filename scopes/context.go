package scopes

import (
	"context"
	"strings"
	"time"

	"github.com/rsguard/rsguard/rsmeta"
)

// Credential names the kind of credential that authenticated a request.
type Credential string

// The credential kinds rsguard's middlewares record in a [Grant].
const (
	// CredentialJWT is a bearer JWT access token verified by package validate.
	CredentialJWT Credential = "jwt"
	// CredentialAPIKey is a legacy API key checked by package apikey.
	CredentialAPIKey Credential = "apikey"
)

// Grant is what an authenticated credential entitles a request to: who holds
// it and which scopes it carries. The authenticating middleware (validate's
// bearer middleware, apikey's dual-mode middleware) puts one in the request
// context with [NewContext]; everything downstream reads it with
// [FromContext], whatever the credential was.
//
// Each request gets a Grant of its own from the authenticating middleware:
// changing it cannot change what another request sees. Within a request it
// is shared by every handler and later scope check, so treat it as
// read-only.
type Grant struct {
	// Scopes are the granted scopes, each one an RFC 6749 §3.3 scope token,
	// without duplicates. Comparison is exact and case-sensitive.
	Scopes []string

	// Subject is a stable identifier of the principal, unchanged when its
	// token is refreshed, whose prefix names its kind: "user:" + issuer +
	// "#" + sub for a user, "client:" + issuer + "#" + client id for a
	// client acting for itself (see validate.Claims.Principal),
	// "apikey:owner:" + owner or "apikey:client:" + client id for an API
	// key. Principals of different kinds are never equal. Use it to bind MCP
	// sessions to a caller. It is never derived from the credential's secret.
	Subject string

	// ClientID identifies the OAuth client (the "client_id" claim, or the
	// client an API key was issued to). Empty if unknown.
	ClientID string

	// Tenant is the tenant or organisation the credential belongs to, when
	// the authenticating middleware was configured to extract one. Empty
	// otherwise.
	Tenant string

	// Credential is the kind of credential that authenticated the request.
	Credential Credential

	// Issuer is the issuer of a JWT (its "iss" claim); empty for API keys.
	Issuer string

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

	// ResourceMetadata is the URL of the RFC 9728 protected resource
	// metadata document that challenges for this request point to
	// (the resource_metadata auth-param). The authenticating middleware sets
	// it so that a later 403 insufficient_scope challenge carries the same
	// URL as the 401 did. Empty if unknown.
	ResourceMetadata string
}

// Has reports whether the grant carries scope, compared exactly. A nil Grant
// has no scopes.
func (g *Grant) Has(scope string) bool {
	if g == nil {
		return false
	}
	for _, s := range g.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// contextKey is the type of the unexported key under which the Grant is
// stored; only this package can write it.
type contextKey struct{ name string }

var grantKey = &contextKey{"rsguard-scopes-grant"}

// NewContext returns a copy of ctx that carries g.
func NewContext(ctx context.Context, g *Grant) context.Context {
	return context.WithValue(ctx, grantKey, g)
}

// FromContext returns the Grant stored in ctx by an authenticating
// middleware, and whether there was one. A missing Grant means the request
// was not authenticated (or the middlewares are in the wrong order): callers
// must fail closed.
func FromContext(ctx context.Context) (*Grant, bool) {
	g, ok := ctx.Value(grantKey).(*Grant)
	return g, ok && g != nil
}

// Parse splits the string form of a scope grant — the RFC 9068 "scope"
// claim, a string "scp" claim — into the scope tokens it grants, by the one
// rule every rsguard credential applies:
//
//   - the string is split on single spaces (RFC 6749 §3.3: scope-token
//     *( SP scope-token )), and on nothing else: a tab or a newline is part
//     of a token, not a separator;
//   - a token outside the §3.3 character set (%x21 / %x23-5B / %x5D-7E: no
//     space, '"', '\', control or non-ASCII character), and the empty token
//     between two consecutive spaces or at either end, is never granted: it
//     is returned in dropped, and the others are granted;
//   - duplicates are granted once, in the order of their first occurrence.
//
// So "a  b" grants a and b and drops one empty token, and "a\tb" grants
// nothing. Callers log dropped at debug level; it is nil when nothing was
// dropped.
func Parse(s string) (granted, dropped []string) {
	if s == "" {
		return nil, nil
	}
	granted = make([]string, 0, strings.Count(s, " ")+1)
	for {
		tok, rest, more := strings.Cut(s, " ")
		granted, dropped = add(granted, dropped, tok)
		if !more {
			return granted, dropped
		}
		s = rest
	}
}

// ParseList applies the rule of [Parse] to the array form of a scope grant
// (an "scp" array, an API key's scopes): each element is one token and is
// never split, so an element with a space in it is dropped, not split.
func ParseList(list []string) (granted, dropped []string) {
	if len(list) == 0 {
		return nil, nil
	}
	granted = make([]string, 0, len(list))
	for _, tok := range list {
		granted, dropped = add(granted, dropped, tok)
	}
	return granted, dropped
}

func add(granted, dropped []string, tok string) ([]string, []string) {
	switch {
	case !rsmeta.IsScopeToken(tok):
		dropped = append(dropped, tok)
	case !contains(granted, tok):
		granted = append(granted, tok)
	}
	return granted, dropped
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
