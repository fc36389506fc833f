// Package scopes enforces least privilege on requests that an authenticating
// middleware (package validate for JWT access tokens, package apikey for
// legacy keys) has already accepted: it holds the granted scopes in the
// request context and answers 403 insufficient_scope when they fall short.
//
// # The grant
//
// The authenticating middleware stores a [Grant] with [NewContext]; everything
// downstream reads it with [FromContext], whatever the credential was. A
// request without a grant is never allowed: every check here fails closed
// with [ErrNoGrant] and a 401, which is what a misordered middleware chain
// produces.
//
// # Three places to require scopes
//
// In handler code, [Require] (all of), [RequireAny] (any of) and [Has] check
// the grant; [WriteError] writes the response for their typed [*Error]:
//
//	if err := scopes.Require(r.Context(), "inventory:write"); err != nil {
//		scopes.WriteError(w, r, err)
//		return
//	}
//
// Per route, [Middleware], [MiddlewareAny] and [NewRoute] build a
// func(http.Handler) http.Handler for [http.ServeMux], chi, or any router.
//
// Per MCP tool, [NewMCP] builds a middleware for an MCP server's endpoint
// that reads the JSON-RPC body of each POST, looks up the scopes of the
// method and, for tools/call, of the tool, and refuses the call before the
// MCP server sees it; see [MCP] for how it treats batches, unknown tools,
// bodies that are not JSON, GET and DELETE requests, and bodies over the
// size bound. [MCP.AllowsTool] and [MCP.FilterTools] let the server advertise
// in tools/list only the tools a caller may call.
//
// # Responses
//
// A grant without the needed scopes gets 403 with
//
//	WWW-Authenticate: Bearer resource_metadata="…", scope="…", error="insufficient_scope", error_description="…"
//
// (RFC 6750 §3.1; MCP 2025-11-25 step-up authorization). scope names, in one
// challenge, every scope the operation needs, including those the client
// already holds (MCP 2026-07-28, SEP-2350), so that a client can obtain in
// one re-authorization a token for exactly the operation (for [RequireAny],
// the first alternative); offline_access is never named. resource_metadata (RFC 9728 §5.1) comes from
// [Grant.ResourceMetadata], set by the authenticating middleware, or from
// the middleware configuration. Challenges are built by package
// [github.com/rsguard/rsguard/rsmeta].
//
// # Matching
//
// Scope tokens are compared exactly and case-sensitively (RFC 6749 §3.3).
// Hierarchical matching such as "tools:*" is off unless a configuration sets
// Implies (for example to [Wildcard]).
package scopes
