// Command mcpgo is an MCP server built with github.com/mark3labs/mcp-go,
// which has no authorization of its own, that rsguard alone turns into an
// OAuth 2.1 resource server: protected resource metadata (RFC 9728) at the
// path-inserted well-known URL, the 401 challenge, JWT access-token
// validation, MCP sessions bound to the caller that opened them, and per-tool
// scopes answered with 403 insufficient_scope before mcp-go sees the call.
//
// Usage, from the repository root:
//
//	go run -C examples ./mcpgo [-addr host:port] [-issuer URL] [-resource URL]
//
// The command line, the banner and serving are examples/mcpserver's, from
// examples/internal/mcpmain. With no -issuer it starts a development
// authorization server on loopback and prints a shell command that gets a
// token and calls a tool. See examples/README.md for the tools and their
// scopes.
package main

import (
	"context"
	"net/http"

	"github.com/rsguard/rsguard/examples/internal/mcpmain"
)

// program is this example for mcpmain; the printed command calls list_notes.
var program = mcpmain.Program{
	Name:      "mcpgo",
	Title:     "rsguard MCP example server (mcp-go)",
	Scopes:    supportedScopes,
	DemoScope: scopeRead,
	DemoTool:  "list_notes",
	Handler: func(ctx context.Context, cfg mcpmain.Config) (http.Handler, error) {
		return newServer(ctx, cfg, &notes{})
	},
}

func main() { program.Main() }
