package main

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/examples/internal/mcpmain"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
)

// sessionIdle ends an MCP session unused this long, in rsguard's binding
// (mcpguard.SessionConfig.IdleTimeout) and in mcp-go's per-session state
// (server.WithSessionIdleTTL) alike.
const sessionIdle = time.Hour

// challengeScopes is the scope auth-param of the 401 challenge: the scope a
// client should ask for to get started. Clients that need more are told so by
// the 403 insufficient_scope challenge of the tool they call (step-up).
var challengeScopes = []string{scopeRead}

// newServer builds the protected MCP server, whose tools serve store: the
// handler mcpmain.Program.Handler asks for. ctx bounds the validator's
// background key refresh and mcp-go's session sweeper: pass one that lives as
// long as the server. Like validate.New, it fails fast when the issuer cannot
// be reached.
//
// mcp-go has no authorization of its own; rsguard does all of it, through
// mcpguard.New, from the issuer, the resource and the tools' scopes
// (toolScopes) stated once. Its handler serves the RFC 9728 metadata (whose
// scopes_supported, the sorted union of the tools' scopes, is
// supportedScopes), and requests to the MCP endpoint go through, in order:
//
//  1. an rsguard.Guard over a validate.Validator: no token → 401 with
//     resource_metadata and scope; a bad token → 401 invalid_token; on
//     success the rsguard.Principal goes into the request context;
//  2. mcpguard.Sessions: binds each Mcp-Session-Id mcp-go issues to the
//     principal that opened the session, and answers anyone else, and any
//     unknown, ended or expired id, 404 before mcp-go sees the request;
//  3. scopes' per-tool MCP middleware: a tools/call of a tool whose scopes the
//     principal lacks → 403 insufficient_scope naming them, before mcp-go
//     reads the body; GET, DELETE, notifications, initialize and tools/list
//     pass;
//  4. mcp-go's Streamable HTTP server (stateful sessions), whose tool
//     handlers read the principal with rsguard.FromContext (see addTools),
//     and whose tool filter hides from tools/list the tools the caller may
//     not call (scopes.MCP.AllowsTool).
func newServer(ctx context.Context, cfg mcpmain.Config, store *notes) (http.Handler, error) {
	endpoint, err := mcpguard.New(ctx, mcpguard.Config{
		Issuer:          cfg.Issuer,
		Resource:        cfg.Resource,
		Tools:           toolScopes(),
		ChallengeScopes: challengeScopes,
		Metadata:        rsmeta.Metadata{ResourceName: "rsguard notes (mcp-go example)"},
		Sessions:        mcpguard.SessionConfig{IdleTimeout: sessionIdle},
		Logger:          cfg.Logger,
	})
	if err != nil {
		return nil, err // an unreachable issuer: validate's error names it
	}
	// The endpoint's own tool check is not exposed; the tools/list filter
	// makes the same decision from the same table.
	perTool, err := scopes.NewMCP(scopes.MCPConfig{Tools: toolScopes()})
	if err != nil {
		return nil, err
	}

	s := server.NewMCPServer("rsguard-notes", "0.1.0",
		server.WithInstructions("A shared notebook. Each tool names the OAuth scope it needs; tools/list shows only the tools your token may call."),
		server.WithToolCapabilities(false),
		// Advisory, and a second check at call time: tools/list names only
		// the tools the current request's principal may call.
		server.WithToolFilter(func(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
			p, _ := rsguard.FromContext(ctx) // nil: AllowsTool says no
			return slices.DeleteFunc(slices.Clone(tools), func(t mcp.Tool) bool { return !perTool.AllowsTool(p, t.Name) })
		}),
	)
	addTools(s, store)

	streamable := server.NewStreamableHTTPServer(s,
		// mcp-go validates the ids it issued, and ends them on DELETE;
		// rsguard decides whose they are.
		server.WithStateful(true),
		server.WithSessionIdleTTL(sessionIdle),
		server.WithStreamableHTTPLogger(cfg.Logger.With("component", "mcp")),
	)
	// Stop the session sweeper with ctx.
	context.AfterFunc(ctx, func() { _ = streamable.Shutdown(context.WithoutCancel(ctx)) })

	return endpoint.Handler(streamable), nil
}
