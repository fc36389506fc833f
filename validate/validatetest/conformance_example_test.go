package validatetest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// A server's own test suite proves its wiring with one test: the server is
// built as in production, but trusting a test issuer, and the kit checks its
// metadata, challenges, step-up and refusals. Put in mcpServer your MCP
// server (any http.Handler speaking MCP over Streamable HTTP, such as the
// official Go SDK's mcp.NewStreamableHTTPHandler): the kit calls every tool
// in Tools with and without the scopes it needs.
//
// An example cannot receive a *testing.T, so the test is the function run
// here, compiled but not run; in your code it is func TestConformance(t
// *testing.T). This package's own tests run the kit against a server wired
// this way, and against servers wired wrongly, which it fails.
func ExampleConformance() {
	run := func(t *testing.T) {
		iss := validatetest.NewIssuer(t, nil)
		const resource = "https://mcp.example.com/mcp"
		tools := map[string][]string{"search": {"docs:read"}, "publish": {"docs:read", "docs:write"}}

		// The server, wired as in production.
		mux := http.NewServeMux()
		meta, err := rsmeta.Register(mux, rsmeta.Metadata{Resource: resource, AuthorizationServers: []string{iss.URL}})
		require.NoError(t, err)
		v, err := validate.New(context.Background(), validate.Config{Issuer: iss.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: iss.Client()}})
		require.NoError(t, err)
		guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: meta.URL(), Scopes: []string{"docs:read"}})
		require.NoError(t, err)
		perTool, err := scopes.NewMCP(scopes.MCPConfig{Tools: tools})
		require.NoError(t, err)
		var mcpServer http.Handler = http.NotFoundHandler() // your MCP server
		mux.Handle("/mcp", guard.Middleware(perTool.Handler(mcpServer)))

		validatetest.Conformance(t, validatetest.ConformanceConfig{
			Issuer:   iss,
			Handler:  mux,
			Resource: resource,
			Scopes:   []string{"docs:read"},
			MCP:      true,
			Tools:    tools,
		})
	}
	_ = run
}
