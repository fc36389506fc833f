package mcpguard_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// The resource, the issuer and the tools' scopes are stated once; the
// metadata document, the challenges and the token checks follow from them.
func ExampleNew() {
	ctx, cancel := context.WithCancel(context.Background()) // the server's lifetime
	defer cancel()
	// An authorization server for the example; in production, its issuer
	// identifier, such as "https://auth.example.com".
	iss := validatetest.NewIssuer(nil, &validatetest.Options{PlainHTTP: true})
	defer iss.Close()
	// Stands in for the MCP SDK's Streamable HTTP handler.
	mcpServer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rsguard.FromContext(r.Context())
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"result":{"caller":%q}}`, p.Subject)
	})

	endpoint, err := mcpguard.New(ctx, mcpguard.Config{
		Issuer:   iss.URL,
		Resource: "https://mcp.example.com/mcp",
		Tools:    map[string][]string{"read_items": {"items:read"}, "write_items": {"items:write"}},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(endpoint.Handler(mcpServer)) // or http.ListenAndServe(addr, endpoint.Handler(mcpServer))
	defer srv.Close()

	send := func(method, path, token, body string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		out := res.Header.Get("WWW-Authenticate") // a refusal's challenge, else the body
		if out == "" {
			out = strings.TrimSpace(string(b))
		}
		fmt.Println(res.StatusCode, strings.ReplaceAll(out, iss.URL, "<issuer>"))
	}
	call := func(tool string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `"}}`
	}
	reader := iss.Token(map[string]any{"aud": "https://mcp.example.com/mcp", "scope": "items:read"})

	send(http.MethodPost, "/mcp", "", call("read_items"))                     // no token: where to get one
	send(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", "", "") // the document the challenge names
	send(http.MethodPost, "/mcp", reader, call("read_items"))                 // allowed
	send(http.MethodPost, "/mcp", reader, call("write_items"))                // step up
	send(http.MethodGet, "/other", reader, "")                                // no other path
	// Output:
	// 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// 200 {"resource":"https://mcp.example.com/mcp","authorization_servers":["<issuer>"],"scopes_supported":["items:read","items:write"],"bearer_methods_supported":["header"]}
	// 200 {"jsonrpc":"2.0","id":1,"result":{"caller":"user:<issuer>#test-subject"}}
	// 403 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="items:write", error="insufficient_scope", error_description="the access token lacks scope items:write required for tool write_items"
	// 404 404 page not found
}

// As the catch-all of a mux, the endpoint serves the MCP endpoint and its
// metadata document; the mux's more specific routes stay beside it, without
// a token, and every other path is 404.
func ExampleEndpoint_Handler() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	iss := validatetest.NewIssuer(nil, &validatetest.Options{PlainHTTP: true})
	defer iss.Close()
	mcpServer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"jsonrpc":"2.0","id":1,"result":{}}`) // the MCP SDK's handler
	})
	endpoint, err := mcpguard.New(ctx, mcpguard.Config{
		Issuer:   iss.URL,
		Resource: "https://mcp.example.com/mcp",
		Tools:    map[string][]string{"read_items": {"items:read"}},
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/", endpoint.Handler(mcpServer))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })

	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/healthz", "/mcp", "/.well-known/oauth-protected-resource/mcp", "/other"} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		res.Body.Close()
		fmt.Println(path, res.StatusCode)
	}
	// Output:
	// /healthz 200
	// /mcp 401
	// /.well-known/oauth-protected-resource/mcp 200
	// /other 404
}
