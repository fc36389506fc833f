package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/examples/internal/mcpmain"
	"github.com/rsguard/rsguard/gosdk"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// challengeScopes is the scope auth-param of the 401 challenge: the scope a
// client should ask for to get started. Clients that need more are told so by
// the 403 insufficient_scope challenge of the tool they call (step-up).
var challengeScopes = []string{scopeRead}

// newServer builds the protected MCP server, whose tools serve inv: the
// handler mcpmain.Program.Handler asks for. ctx bounds the validator's
// background key refresh: pass one that lives as long as the server. Like
// validate.New, it fails fast when the issuer cannot be reached.
//
// The layers are wired by hand, not with mcpguard.New (as examples/mcpgo
// does): mcpguard.Config publishes scopes_supported sorted, and this server
// publishes its scopes in its own order (supportedScopes: read, write,
// admin), which TestMetadata and examples/interop pin; and each layer logs
// under a component of its own. Requests to the MCP endpoint go through, in
// order:
//
//  0. net/http's CrossOriginProtection: a browser's POST, PUT, PATCH or
//     DELETE from another origin gets 403 before anything else (MCP
//     transport: servers validate Origin and answer 403 to an invalid one).
//     It is less than mcpguard.New's check, which answers 403 to every
//     method from an origin not in its AllowedOrigins: GET, HEAD and
//     OPTIONS pass it, and so does an Origin equal to the Host (DNS
//     rebinding), which only the Guard's token check then stops;
//  1. an rsguard.Guard over the validate.Validator: no token → 401 with
//     resource_metadata and scope; a bad or expired token → 401
//     invalid_token; on success the rsguard.Principal (with the verified
//     claims as its Details) goes into the request context;
//  2. mcpguard's session binding (Sessions.Middleware): the session id the
//     SDK issues to initialize is bound to the principal's Subject
//     (user:issuer#sub, or client:issuer#client_id for a client acting for
//     itself); a request naming a session that is unknown, ended, or bound
//     to anyone else → 404, as for an unknown session, before anything
//     else reads it; the owner's DELETE ends the binding;
//  3. scopes' per-tool MCP middleware: a tools/call of a tool whose scopes the
//     principal lacks → 403 insufficient_scope naming them, with the Guard's
//     resource_metadata, before the SDK reads the body; GET, DELETE,
//     notifications, initialize and tools/list pass;
//  4. gosdk.Handler: the SDK's Streamable HTTP handler (stateful sessions),
//     handed the Guard's principal of each HTTP request (never the token
//     again), which tool handlers read with gosdk.Principal and
//     gosdk.Context.
func newServer(ctx context.Context, cfg mcpmain.Config, inv *inventory) (http.Handler, error) {
	logger, resource := cfg.Logger, cfg.Resource
	u, err := url.Parse(resource)
	if err != nil {
		return nil, err
	}
	mcpPath := u.EscapedPath()
	if mcpPath == "" {
		mcpPath = "/"
	}
	if u.RawQuery != "" {
		return nil, errors.New("the resource URL must not have a query: the MCP endpoint is served at its path")
	}

	v, err := validate.New(ctx, validate.Config{
		Issuer:   cfg.Issuer,
		Resource: resource,
		Logger:   logger.With("component", "validate"),
	})
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", cfg.Issuer, err)
	}

	mux := http.NewServeMux()
	meta, err := rsmeta.Register(mux, rsmeta.Metadata{
		Resource:             resource,
		AuthorizationServers: []string{cfg.Issuer},
		ScopesSupported:      slices.Clone(supportedScopes),
		ResourceName:         "rsguard inventory (MCP example)",
	})
	if err != nil {
		return nil, err
	}

	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    v,
		ResourceMetadata: meta.URL(),
		Scopes:           challengeScopes,
		Logger:           logger.With("component", "rsguard"),
	})
	if err != nil {
		return nil, err
	}

	perTool, err := scopes.NewMCP(scopes.MCPConfig{Tools: toolScopes()})
	if err != nil {
		return nil, err
	}

	mcpServer := mcp.NewServer(&mcp.Implementation{Name: "rsguard-inventory", Version: "0.1.0"}, &mcp.ServerOptions{
		Instructions: "A small inventory. Each tool names the OAuth scope it needs; tools/list shows only the tools your token may call.",
	})
	addTools(mcpServer, inv)
	mcpServer.AddReceivingMiddleware(filterToolsList(perTool))

	sessions, err := mcpguard.NewSessions(mcpguard.SessionConfig{
		Logger: logger.With("component", "mcpguard"),
	})
	if err != nil {
		return nil, err
	}
	mcpHandler := gosdk.Handler(mcpServer, &mcp.StreamableHTTPOptions{
		// Plain JSON answers to POSTs keep curl transcripts readable; GET
		// still opens the SSE stream for server-initiated messages.
		JSONResponse: true,
		Logger:       logger.With("component", "mcp"),
	})
	mux.Handle(mcpPath, http.NewCrossOriginProtection().Handler(guard.Middleware(sessions.Middleware(perTool.Handler(mcpHandler)))))

	return mux, nil
}

// filterToolsList is an SDK receiving middleware that removes from tools/list
// answers the tools the caller may not call, with the same decision the
// per-tool middleware makes (scopes.MCP.AllowsTool). It is advisory: calls are
// checked whether or not a client saw the tool.
//
// The principal is the one of the HTTP request that carried the tools/list
// (gosdk.Principal). Not ctx's: in a stateful session the SDK hands method
// handlers a context carrying the values of the request that opened the
// session (initialize), so rsguard.FromContext(ctx) there would answer with
// the first token's scopes after a step-up or a down-scoped token.
func filterToolsList(perTool *scopes.MCP) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			res, err := next(ctx, method, req)
			list, ok := res.(*mcp.ListToolsResult)
			if err != nil || !ok || method != "tools/list" {
				return res, err
			}
			p, _ := gosdk.Principal(req) // nil if none: AllowsTool is then false
			filtered := *list
			filtered.Tools = slices.DeleteFunc(slices.Clone(list.Tools), func(t *mcp.Tool) bool {
				return !perTool.AllowsTool(p, t.Name)
			})
			// The list now depends on who asks.
			filtered.CacheScope = "private"
			return &filtered, nil
		}
	}
}
