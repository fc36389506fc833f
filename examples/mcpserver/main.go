// Command mcpserver is an MCP server, built with the official Go SDK, that
// rsguard turns into an OAuth 2.1 resource server: protected resource
// metadata (RFC 9728) at the path-inserted well-known URL, the 401 challenge,
// JWT access-token validation, and per-tool scopes answered with 403
// insufficient_scope before the SDK sees the call.
//
// Usage, from the repository root:
//
//	go run -C examples ./mcpserver [-addr host:port] [-issuer URL] [-resource URL]
//
// With no -issuer it starts a development authorization server on loopback
// and prints a shell command that gets a token and calls a tool. See
// examples/README.md for the tools and their scopes. The command line, the
// banner and serving are examples/internal/mcpmain's; this program is its
// server (server.go) and its tools (tools.go).
package main

import (
	"context"
	"net/http"

	"github.com/rsguard/rsguard/examples/internal/mcpmain"
)

// program is this example for mcpmain: the printed command calls list_items
// with inventory:read.
var program = mcpmain.Program{
	Name:      "mcpserver",
	Title:     "rsguard MCP example server",
	Scopes:    supportedScopes,
	DemoScope: scopeRead,
	DemoTool:  "list_items",
	Handler: func(ctx context.Context, cfg mcpmain.Config) (http.Handler, error) {
		return newServer(ctx, cfg, newInventory())
	},
}

func main() { program.Main() }
