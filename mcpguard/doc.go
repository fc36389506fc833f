// Package mcpguard is the MCP-server wiring that sits on top of rsguard's
// packages, for servers on the Streamable HTTP transport whatever SDK they
// are built with: one call that protects an MCP endpoint ([New]), and the
// binding of MCP sessions to their callers ([Sessions]) it includes.
//
// # One endpoint, stated once
//
// A protected MCP server needs the same facts in several places: its URL is
// the audience of its tokens and the "resource" of its RFC 9728 metadata;
// the authorization server is the issuer tokens must carry and the
// document's "authorization_servers"; the scopes its tools need are checked
// per call and advertised as "scopes_supported". Stated twice, they drift
// apart — "localhost" in one place and "127.0.0.1" in the other starts
// cleanly, and every client then refuses the document (RFC 9728 §3.3) — and
// the pieces can be forgotten (no document: every challenge points at a 404)
// or stacked in the wrong order.
//
// [Config] states the issuer, the resource and each tool's scopes once. [New]
// checks them (a canonical resource URL without query, an https issuer,
// valid scope tokens, and equality with anything stated again in
// Config.Metadata or Config.Validate), derives the metadata document from
// them, and builds the layers: a [validate.Validator] (or the
// [Config].Authenticator composed over it, for API keys), an
// [rsguard.Guard] whose challenges name the document, [Sessions], and the
// per-tool check of [scopes.MCP]. [Endpoint.Handler] then wraps the MCP
// server's handler into one self-contained handler: the document at the
// well-known URLs the challenges name, the endpoint at the resource's path,
// 404 anywhere else, and the layers composed in the only working order:
//
//	Guard (who is calling?) → Sessions (is the session theirs?) → scopes.MCP (may they call this tool?) → the MCP server
//
// Serve that handler as it is, or make it the catch-all ("/") of a mux
// beside your other routes. To compose the layers differently (behind a
// proxy that rewrites paths, under a path other than the resource's), use
// the packages themselves; this package's [Sessions] works behind any
// [rsguard.Guard].
//
// The handler also validates the Origin header, as the MCP transport
// requires of every server ("Servers MUST validate the Origin header on all
// incoming connections to prevent DNS rebinding attacks"): a browser request
// from an origin other than the resource's own or one of
// [Config].AllowedOrigins gets 403 before the Guard; requests without Origin
// (not from a browser) are not affected. Browser clients from an allowed
// origin get the CORS answers they need, preflights included (a preflight
// carries no credentials, so the Guard would answer it 401): no CORS handler
// is needed in front. Composed by hand, the layers above do not check
// Origin: put an Origin check of your own in front of them.
//
// # Sessions belong to callers
//
// An MCP server may assign a session id in the Mcp-Session-Id header of its
// answer to initialize; the client then sends it on every later request
// (POST, GET for the SSE stream, DELETE to end the session). The id is not
// a credential: anyone who learns it could otherwise act in the session of
// the user who created it. The MCP security best practices ask servers to
// bind a session to its user, never to treat an id as authentication.
//
// [Sessions.Middleware] does that in front of any MCP server: it runs after
// an [rsguard.Guard], binds every session id the server issues to the
// [rsguard.Principal.Subject] of the request that created it, and answers a
// request naming a session that is unknown, ended, expired or bound to
// another principal with 404 — the answer MCP gives an unknown session, so
// the client starts a new one — without the server ever seeing it. A
// not-owned session and an unknown one get byte-identical answers, so ids
// cannot be probed. Principals of different kinds (a user and a client with
// the same name) never match.
//
// Bindings live in a [SessionStore]: by default one in the process's
// memory, bounded by [SessionConfig.MaxSessions] and, for each caller, by
// [SessionConfig.MaxSessionsPerOwner], so that no caller can exhaust it; a
// store shared by the replicas of a server lets any replica check any
// session. A session the server answers 404 (it no longer knows it) or
// ends (DELETE) is unbound.
//
// Stateless servers (the official Go SDK's StreamableHTTPOptions.Stateless,
// mcp-go without WithStateful), and requests of MCP revisions without
// sessions (2026-07-28 requests on mcp-go), carry no session id: there is
// nothing to bind, every request passes, and each request's own token is
// all that authorises it.
package mcpguard
