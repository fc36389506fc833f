// Package gosdk connects rsguard to the official MCP Go SDK
// (github.com/modelcontextprotocol/go-sdk), so that tool handlers see the
// caller of the current request.
//
// # What it fixes
//
// In a stateful Streamable HTTP session the SDK runs tool handlers with the
// context of the HTTP request that opened the session (initialize), not of the
// request that carries the call. rsguard.FromContext(ctx) and the checks of
// package scopes (scopes.Require, scopes.Has, scopes.RequireAuthentication)
// there see whoever initialized the session: after a step-up (a new token with
// more scopes) they still see the old scopes, and after a down-scoped token
// they still see the broader ones. The SDK does pass each HTTP request's
// identity to handlers through its own channel, req.Extra.TokenInfo, but only
// when its auth.RequireBearerToken middleware put an auth.TokenInfo in the
// request context.
//
// # Wiring
//
// [Handler] is the SDK's Streamable HTTP handler behind that middleware, with a
// verifier that reads the principal the rsguard.Guard stored instead of the
// token (which it never decodes again). The common case is one call of
// package mcpguard, which puts the Guard, the session binder and the
// per-tool scopes in front of it:
//
//	endpoint, err := mcpguard.New(ctx, mcpguard.Config{Issuer: issuer, Resource: resource, Tools: tools})
//	…
//	handler := endpoint.Handler(gosdk.Handler(server, nil))
//
// Composed by hand, the order is rsguard.Guard → mcpguard.Sessions →
// scopes.MCP.Handler → Handler. The TokenInfo's UserID is rsguard.Principal.Subject, so the SDK's
// own session-to-user binding (403 for another user's request on a session)
// stays on as a second line. The Guard alone decides whether a credential
// has expired: the SDK is given no expiry to check again. A Handler without a
// Guard in front refuses every request with 500 and a generic JSON-RPC error
// body. Principals from API keys, whose requests carry no
// Authorization header, are served too.
//
// # In tool handlers
//
// [Principal] returns the caller of the JSON-RPC request, and [Context] puts
// it in a context for rsguard.FromContext and package scopes:
//
//	func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
//		if err := scopes.Require(gosdk.Context(ctx, req), "inventory:write"); err != nil {
//			return nil, err
//		}
//		p, _ := gosdk.Principal(req)
//		…
//	}
//
// gosdk is its own module, so that the SDK stays out of rsguard's go.mod.
package gosdk
