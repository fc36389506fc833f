package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// sessionIdle ends an MCP session unused this long, in rsguard's binding
// (mcpguard.SessionConfig.IdleTimeout) and in mcp-go's per-session state
// (server.WithSessionIdleTTL) alike.
const sessionIdle = time.Hour

// serverConfig is what newServer needs to build the MCP server.
type serverConfig struct {
	// Issuer is the authorization server's issuer identifier. Its keys are
	// discovered from its RFC 8414 metadata. Required.
	Issuer string

	// Resource is the canonical URL of the MCP endpoint (RFC 8707 §2), the
	// "resource" of the metadata and the audience tokens must carry.
	// Required.
	Resource string

	// HTTPClient fetches the issuer's metadata and keys. If nil, validate's
	// default.
	HTTPClient *http.Client

	// Logger receives the server's log. If nil, nothing is logged.
	Logger *slog.Logger
}

// mcpServer is the example: the handler to serve, and what it publishes.
type mcpServer struct {
	// Handler serves the metadata, and the MCP endpoint at the resource's
	// path.
	Handler http.Handler
	// Resource is the canonical resource URL (the metadata's "resource").
	Resource string
	// MetadataURL is the path-inserted well-known URL of the metadata, the
	// resource_metadata of every challenge.
	MetadataURL string
	// Notes is the store behind the tools.
	Notes *notes
}

// challengeScopes is the scope auth-param of the 401 challenge: the scope a
// client should ask for to get started. Clients that need more are told so by
// the 403 insufficient_scope challenge of the tool they call (step-up).
var challengeScopes = []string{scopeRead}

// newServer builds the protected MCP server. ctx bounds the validator's
// background key refresh and mcp-go's session sweeper: pass one that lives as
// long as the server. Like validate.New, it fails fast when the issuer cannot
// be reached.
//
// mcp-go has no authorization of its own; rsguard does all of it. Requests
// to the MCP endpoint go through, in order:
//
//  1. an rsguard.Guard over the validate.Validator: no token → 401 with
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
func newServer(ctx context.Context, cfg serverConfig) (*mcpServer, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	resource, err := rsmeta.CanonicalResource(cfg.Resource)
	if err != nil {
		return nil, err
	}
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
		Fetch:    validate.FetchOptions{HTTPClient: cfg.HTTPClient},
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
		ResourceName:         "rsguard notes (mcp-go example)",
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
	sessions, err := mcpguard.NewSessions(mcpguard.SessionConfig{
		IdleTimeout: sessionIdle,
		Logger:      logger.With("component", "mcpguard"),
	})
	if err != nil {
		return nil, err
	}
	perTool, err := scopes.NewMCP(scopes.MCPConfig{Tools: toolScopes()})
	if err != nil {
		return nil, err
	}

	store := &notes{}
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
		server.WithStreamableHTTPLogger(logger.With("component", "mcp")),
	)
	// Stop the session sweeper with ctx.
	context.AfterFunc(ctx, func() { _ = streamable.Shutdown(context.WithoutCancel(ctx)) })

	mux.Handle(mcpPath, guard.Middleware(sessions.Middleware(perTool.Handler(streamable))))

	return &mcpServer{
		Handler:     accessLog(logger, mux),
		Resource:    resource,
		MetadataURL: meta.URL(),
		Notes:       store,
	}, nil
}

// accessLog logs one line per request: method, path, status and duration.
// It never logs headers, so never a token.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)))
	})
}

// statusRecorder remembers the status code; Unwrap keeps http.ResponseController
// (flushing of SSE streams) working through it.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	r.wroteHeader = true
	http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
