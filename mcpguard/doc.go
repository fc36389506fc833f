// Package mcpguard is the MCP-server wiring that sits on top of rsguard's
// packages, for servers on the Streamable HTTP transport whatever SDK they
// are built with. This step holds session binding only; a later step adds
// one-call wiring of the Guard, the scope checks and sessions.
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
// memory, bounded by [SessionConfig.MaxSessions]; a store shared by the
// replicas of a server lets any replica check any session.
//
// Stateless servers, and MCP revisions without sessions, issue no session
// ids: nothing is bound and every request passes.
package mcpguard
