package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/scopes"
)

// The scopes of this server (RFC 6749 §3.3), published in scopes_supported.
const (
	scopeRead  = "notes:read"
	scopeWrite = "notes:write"
)

// supportedScopes lists the scopes in the order the metadata publishes them.
var supportedScopes = []string{scopeRead, scopeWrite}

// toolScopes maps each tool to the scopes a tools/call of it needs, all of
// them. It is the single source of truth: the per-tool middleware enforces it
// (403 insufficient_scope before mcp-go sees the call), the tool filter hides
// from tools/list what the caller may not call, and a test checks that every
// registered tool has an entry. A tool missing here cannot be called at all
// (MCPConfig.AllowUnknownTools is false).
func toolScopes() map[string][]string {
	return map[string][]string{
		"whoami":     {}, // any valid token
		"list_notes": {scopeRead},
		"add_note":   {scopeWrite},
	}
}

// note is one entry of the store.
type note struct {
	ID     int       `json:"id"`
	Text   string    `json:"text"`
	Author string    `json:"author"` // rsguard.Principal.Subject of its writer
	At     time.Time `json:"at"`
}

// notes is an in-memory store, safe for concurrent use.
type notes struct {
	mu    sync.Mutex
	items []note
}

func (n *notes) list() []note {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]note{}, n.items...)
}

func (n *notes) add(text, author string) note {
	n.mu.Lock()
	defer n.mu.Unlock()
	it := note{ID: len(n.items) + 1, Text: text, Author: author, At: time.Now().UTC()}
	n.items = append(n.items, it)
	return it
}

// whoami is the answer of the whoami tool.
type whoami struct {
	Subject   string    `json:"subject"` // user:issuer#sub or client:issuer#client_id
	ClientID  string    `json:"client_id,omitempty"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

var errNoPrincipal = errors.New("no principal: the server is wired without rsguard")

// addTools registers the tools on s.
//
// The tool handlers read the caller with rsguard.FromContext(ctx): mcp-go
// runs a tools/call with the context of the HTTP request that carried it
// (StreamableHTTPServer.handlePost derives it from r.Context()), so in a
// stateful session ctx holds the principal of the current request — the
// renewed or stepped-up token, not the one that opened the session. Scopes
// are checked before mcp-go reads the call (toolScopes); add_note checks its
// scope again with scopes.Require, which only passes if ctx is the current
// request's.
func addTools(s *server.MCPServer, store *notes) {
	s.AddTool(mcp.NewTool("whoami",
		mcp.WithDescription("Who the server thinks you are: your stable subject, client and granted scopes. Needs any valid token."),
		mcp.WithReadOnlyHintAnnotation(true),
	), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		p, ok := rsguard.FromContext(ctx)
		if !ok {
			return nil, errNoPrincipal
		}
		out := whoami{Subject: p.Subject, ClientID: p.ClientID, Scopes: slices.Clone(p.Scopes), ExpiresAt: p.Expiry.UTC()}
		if out.Scopes == nil {
			out.Scopes = []string{}
		}
		return mcp.NewToolResultJSON(out)
	})

	s.AddTool(mcp.NewTool("list_notes",
		mcp.WithDescription("List every note. Scope: "+scopeRead+"."),
		mcp.WithReadOnlyHintAnnotation(true),
	), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultJSON(map[string][]note{"notes": store.list()})
	})

	s.AddTool(mcp.NewTool("add_note",
		mcp.WithDescription("Add a note, signed with your subject. Scope: "+scopeWrite+"."),
		mcp.WithString("text", mcp.Required(), mcp.Description("the note")),
	), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		// Defence in depth: the per-tool middleware has checked this scope
		// already, on this very request.
		if err := scopes.Require(ctx, scopeWrite); err != nil {
			return nil, fmt.Errorf("add_note: %w", err)
		}
		p, _ := rsguard.FromContext(ctx)
		text, err := req.RequireString("text")
		if err != nil || text == "" {
			return mcp.NewToolResultError("text is required"), nil
		}
		return mcp.NewToolResultJSON(store.add(text, p.Subject))
	})
}
