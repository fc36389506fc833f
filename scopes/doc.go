// Package scopes enforces least privilege on requests that an
// [rsguard.Guard] has already authenticated (package validate for JWT access
// tokens, package apikey for legacy keys, or any other
// [rsguard.Authenticator]): it checks the scopes of the request's
// [rsguard.Principal] and answers 403 insufficient_scope when they fall
// short.
//
// # The principal
//
// The Guard stores the [rsguard.Principal] in the request context; every
// check here reads it with [rsguard.FromContext], whatever the credential
// was. A request without a principal is never allowed: every check here
// fails closed with [audit.ReasonNoPrincipal] and a 401, which is what a
// misordered middleware chain produces. In tests of handler code, store one
// with [rsguard.NewContext].
//
// # Three places to require scopes
//
// In handler code, [Require] (all of), [RequireAny] (any of) and [Has] check
// the principal's scopes; [WriteError] writes the response for their typed
// [*Error]:
//
//	if err := scopes.Require(r.Context(), "inventory:write"); err != nil {
//		scopes.WriteError(w, r, err)
//		return
//	}
//
// Per route, [NewRoute] builds a [Route] whose [Route.Handler] is a
// func(http.Handler) http.Handler for [http.ServeMux], chi, or any router;
// [Middleware] is a shorthand for "all of these scopes". For "any one of
// them":
//
//	admin, err := scopes.NewRoute(scopes.RouteConfig{Scopes: []string{"inventory:admin", "root"}, Any: true})
//	…
//	mux.Handle("DELETE /items/{id}", admin.Handler(del))
//
// Per MCP tool, [NewMCP] builds a middleware for an MCP server's endpoint
// that reads the JSON-RPC body of each POST, looks up the scopes of the
// method and, for tools/call, of the tool, and refuses the call before the
// MCP server sees it; see [MCP] for how it treats batches, unknown tools,
// bodies that are not JSON, and bodies over the size bound.
// The server advertises in tools/list only the tools a caller may call with
// [MCPConfig.FilterToolsList] (the middleware rewrites the JSON answer) or,
// with an SDK that hands over the typed result, [MCP.AllowsTool]; such a
// list is marked cacheScope "private".
//
// # Request methods at the MCP endpoint
//
// Only POST bodies are checked, so the MCP middleware passes on only the
// methods MCP Streamable HTTP uses: exactly POST (checked), GET (the SSE
// stream) and DELETE (ending a session), unread, and OPTIONS (CORS
// preflight). Methods are case-sensitive (RFC 9110 §9.1): every other method
// of an authenticated request, "post", "Get", HEAD, PUT, PATCH, QUERY or any
// extension method included, is answered 405 Method Not Allowed with
// Allow: GET, POST, DELETE, OPTIONS ([audit.ReasonMethodNotAllowed]) and
// never reaches the MCP server, whatever its body asks for, so that a server
// which would dispatch such a body cannot run a tool the check did not see. A request
// without a principal still gets the 401 first.
//
// # Refusals
//
// A check refuses with an error whose class is an [audit.Reason]: match it
// with errors.Is(err, audit.ReasonInsufficientScope), and read the fields of
// an [*Error] (Required, Missing, Granted, …) with [errors.As]. [WriteError]
// answers each class as listed here, and an OnDecision hook receives the
// same reason. Every answer carries Cache-Control: no-store; its text is
// chosen by WriteError, never an error's message.
//
//   - [audit.ReasonNoPrincipal] (an [*Error]), 401: the context holds no
//     [rsguard.Principal]: the request was not authenticated, or the
//     [rsguard.Guard] does not run before the check. A Bearer challenge
//     with no error code (RFC 6750 §3.1: the request was not
//     authenticated), plus scope= when the required scopes are known.
//   - [audit.ReasonInsufficientScope] (an [*Error]), 403: the principal
//     lacks scopes the operation needs, and a token with more scopes would
//     be accepted. A Bearer challenge with error="insufficient_scope" (see
//     Challenges below).
//   - [audit.ReasonInsufficientUserAuthentication] (an [*Error] with
//     Authentication), 401: the scopes suffice, but the user's
//     authentication is not strong or recent enough (RFC 9470 §3). A Bearer
//     challenge with error="insufficient_user_authentication", acr_values
//     and/or max_age: the client must have the user authenticate again.
//   - [audit.ReasonUnknownTool] (an [*Error]), 403: an MCP tools/call of a
//     tool missing from [MCPConfig.Tools], without
//     [MCPConfig.AllowUnknownTools]. No scope could authorise it, so there
//     is no challenge (clients do not re-authorise in vain): a JSON-RPC
//     error body, code -32000.
//   - [audit.ReasonInvalidRequest], 400: an MCP POST body the check cannot
//     read for sure, which it therefore never passes on: not JSON (JSON-RPC
//     -32700, parse error), or (-32600, invalid request) not a JSON-RPC
//     message or batch, JSON that decoders read in different ways (a member
//     name given twice in any object, at any depth, however escaped; a lone
//     surrogate escape such as "\ud800", which Go's encoding/json reads as
//     U+FFFD and JavaScript keeps; a number beyond float64), a case variant
//     of a member such as "Method" or "paramſ" (which encoding/json folds
//     onto "method" and "params"), or a body that could not be read; as
//     MCP's Streamable HTTP transport prescribes for input a server cannot
//     accept. [WriteError] gives this answer to any error whose class
//     (errors.As finds an [audit.Reason]) is invalid_request.
//   - [audit.ReasonBodyTooLarge], 413: an MCP POST body longer than
//     [MCPConfig.MaxBodyBytes]. The check cannot see what such a body calls,
//     so it refuses it (fail closed). JSON-RPC error -32600.
//   - [audit.ReasonMethodNotAllowed], 405: a request to the MCP endpoint
//     whose method is not exactly POST, GET, DELETE or OPTIONS (see above).
//     Allow: GET, POST, DELETE, OPTIONS (RFC 9110 §15.5.6) and JSON-RPC
//     error -32000.
//   - [audit.ReasonInternalError], 500 with {"error":"server_error"} and no
//     detail: every other error. A scope that is not an RFC 6749 §3.3 scope
//     token given to [Require], [RequireAny] or their [Hierarchy]
//     counterparts, or an invalid [AuthRequirement] given to
//     [RequireAuthentication], is such an error (wrapping
//     [rsguard.ErrInvalidConfig]): a programming error, never a client's. So
//     is one of the first four classes without the [*Error] that carries
//     its details.
//
// A JSON-RPC error body names the id of the request refused, when the check
// read one, else null; for a refused batch it is an array of one error per
// request (JSON-RPC 2.0 §5, §6).
//
// # Challenges
//
// A principal without the needed scopes gets 403 with
//
//	WWW-Authenticate: Bearer resource_metadata="…", scope="…", error="insufficient_scope", error_description="…"
//
// (RFC 6750 §3.1; MCP 2025-11-25 step-up authorization). scope names, in one
// challenge, every scope the operation needs, including those the client
// already holds (MCP 2026-07-28, SEP-2350), so that a client can obtain in
// one re-authorization a token for exactly the operation (for [RequireAny],
// the first alternative); offline_access is never named. resource_metadata
// (RFC 9728 §5.1) and realm are those of the Guard that authenticated the
// request ([rsguard.Config]), so that every challenge a client sees points
// to the same protected resource metadata; without a Guard in front (a
// misordered chain) a 401 challenge carries realm="rsguard" instead.
// Challenges are built by package [github.com/rsguard/rsguard/rsmeta].
//
// # Matching
//
// Scope tokens are compared exactly and case-sensitively (RFC 6749 §3.3).
// Hierarchical matching is off unless a configuration sets Implies: to
// [Wildcard] for "tools:*" style scopes, or to a [Hierarchy] built by
// [NewHierarchy] from an implication table ("inventory:admin" ⇒
// "inventory:write" ⇒ "inventory:read"), which MCP asks servers that define
// one to honour. With an implication, the 403 challenge names the smallest set
// of scopes that satisfies the operation.
//
// # Step-up authentication (RFC 9470)
//
// A route ([RouteConfig.Authentication]) or an MCP tool
// ([MCPConfig.ToolAuthentication]) can require that the user authenticated
// with given acr values and/or recently (max_age), judged from
// the principal's ACR and AuthTime (the token's "acr" and "auth_time"). A
// principal with the scopes but not the authentication gets 401 with
// error="insufficient_user_authentication", acr_values and max_age, so the
// client can send the user back to the authorization server.
// [RequireAuthentication] does the same in handler code.
//
// # Inside MCP SDK tool handlers
//
// Check scopes per tool with [MCP], in front of the SDK's handler, where the
// request's own principal is in the context. Inside tool handlers of the
// official Go SDK, the context of a stateful session is that of the request
// that opened the session: [rsguard.FromContext] there returns the first
// token's principal, not the current request's (after a step-up, or with a
// down-scoped token). Module github.com/rsguard/rsguard/gosdk fixes that:
// serve the SDK through gosdk.Handler, wrapped by mcpguard.Endpoint.Handler
// (the Guard, the session binder and [MCP], in that order); then, in a tool
// handler, take the current caller with gosdk.Principal(req) before calling
// [MCP.AllowsTool], and check with [Require], [Has] or [RequireAuthentication]
// on gosdk.Context(ctx, req), not on ctx.
//
// # Decisions: audit trail and metrics
//
// [Route] and [MCP] can report each decision they make as an authorize-stage
// [audit.Decision] to an OnDecision hook ([audit.Func]), as the Guard does
// for authentication: allowed or refused, a stable [audit.Reason] code, the
// credential kind and verified identity, the route, the MCP session, method
// and tool, the scopes required and granted, and the latency. Never a token
// or a key. Package audit writes them as log records ([audit.Slog]), feeds
// metrics ([audit.Count]) or both ([audit.Multi]). A nil hook costs nothing.
package scopes
