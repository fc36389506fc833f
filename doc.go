// Package rsguard is the core of rsguard: it turns a net/http handler into an
// OAuth 2.1 resource server, whatever the credential kind.
//
// An [Authenticator] reads a request's credential and returns the caller as a
// [Principal] — identity, issuer, client, tenant, scopes, expiry, credential
// kind — owned by that request, or refuses it with an [*Error] that carries
// everything needed to answer (status, RFC 6750 error code, a description
// safe for clients, the audit reason). Package validate implements it for
// bearer JWT access tokens; package apikey for legacy API keys, composing any
// bearer Authenticator during a migration; a credential kind of your own
// plugs in the same way.
//
// A [Guard] is the one middleware for every kind:
//
//	v, err := validate.New(ctx, validate.Config{Issuer: issuer, Resource: resource})
//	meta, err := rsmeta.Register(mux, rsmeta.Metadata{Resource: resource, AuthorizationServers: []string{issuer}})
//	guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: meta.URL()})
//	mux.Handle("/mcp", guard.Middleware(mcpHandler))
//
// A request without a credential gets 401 with a challenge carrying
// resource_metadata (RFC 9728 §5.1), from which an MCP client discovers
// where to get a token; a refused credential gets the *Error's answer; an
// authenticated request reaches the handler with its Principal in the
// context ([FromContext]), where package scopes checks scopes per route, per
// MCP tool or in handler code. Every decision can be audited (package audit).
//
// An Authenticator that accepts other schemes than Bearer, such as a
// validate.Validator with DPoP on (RFC 9449), is a [Challenger]: the Guard
// sends each of its challenges (`Bearer …`, `DPoP algs="…"`), puts a
// refusal's error on the challenge of its [Error.Scheme], and, for a request
// it let through, hands later checks the challenge of the request's scheme.
//
// A refusal's class is its audit reason, the same for every credential kind:
// errors.Is(err, audit.ReasonExpired) matches an expired JWT and an expired
// API key alike (see [Error]). There are no per-package sentinel errors for
// refusals; [ErrInvalidConfig] marks configuration errors.
//
// [BearerToken] reads an RFC 6750 bearer token the one way every bearer
// credential kind reads it, and [ParseScopes] reads a scope grant by the one
// rule every kind applies.
package rsguard
