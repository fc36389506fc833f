package scopes_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/scopes"
)

const metadataURL = "https://api.example.com/.well-known/oauth-protected-resource/mcp"

// authenticate puts an rsguard.Guard in front of next. In production its
// Authenticator is a validate.Validator or an apikey.Authenticator; here it
// proves the caller alice, granted scope, for every request.
func authenticate(scope string, next http.Handler) http.Handler {
	guard, err := rsguard.New(rsguard.Config{
		Authenticator: fixedCaller(scope),
		// Sent in every challenge, the Guard's and the scope checks' alike.
		ResourceMetadata: metadataURL,
	})
	if err != nil {
		panic(err)
	}
	return guard.Middleware(next)
}

// fixedCaller is an rsguard.Authenticator that proves alice with its scopes.
type fixedCaller string

func (s fixedCaller) Authenticate(*http.Request) (*rsguard.Principal, error) {
	granted, _ := rsguard.ParseScopes(string(s))
	return &rsguard.Principal{Subject: "alice", Scopes: granted}, nil
}

func show(res *http.Response, err error) {
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, strings.TrimSpace(string(body)))
	if c := res.Header.Get("WWW-Authenticate"); c != "" {
		fmt.Println(c)
	}
}

// Handler code checks scopes itself and lets WriteError answer.
func ExampleRequire() {
	setPrice := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := scopes.Require(r.Context(), "inventory:read", "inventory:write"); err != nil {
			scopes.WriteError(w, r, err)
			return
		}
		fmt.Fprintln(w, "price set")
	})
	srv := httptest.NewServer(authenticate("inventory:read", setPrice))
	defer srv.Close()

	show(srv.Client().Post(srv.URL, "application/json", strings.NewReader(`{"price":12}`)))
	// Output:
	// 403 {"error":"insufficient_scope","error_description":"the access token lacks scope inventory:write"}
	// Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="inventory:read inventory:write", error="insufficient_scope", error_description="the access token lacks scope inventory:write"
}

func ExampleHas() {
	ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{Scopes: []string{"tools:read", "tools:write"}})
	fmt.Println(scopes.Has(ctx, "tools:write"))
	fmt.Println(scopes.Has(ctx, "Tools:Write")) // exact, case-sensitive
	fmt.Println(scopes.Has(context.Background(), "tools:read"))
	// Output:
	// true
	// false
	// false
}

// The typed error says what was required and what was granted.
func ExampleRequireAny() {
	ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{Scopes: []string{"inventory:read"}})
	err := scopes.RequireAny(ctx, "inventory:admin", "root")
	var se *scopes.Error
	if errors.As(err, &se) {
		fmt.Println(errors.Is(err, audit.ReasonInsufficientScope), se.Any, se.Required, se.Granted)
	}
	// Output:
	// true true [inventory:admin root] [inventory:read]
}

// Per-route scopes on a ServeMux; chi's r.Use and r.With take the same
// middleware. Middleware requires all of its scopes; for any one of them,
// build the Route with NewRoute and mount its Handler.
func ExampleMiddleware() {
	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "items") })
	admin, err := scopes.NewRoute(scopes.RouteConfig{Scopes: []string{"inventory:admin", "root"}, Any: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /items", scopes.Middleware("inventory:read")(list))
	mux.Handle("DELETE /items/{id}", admin.Handler(list))
	srv := httptest.NewServer(authenticate("inventory:read", mux))
	defer srv.Close()

	show(srv.Client().Get(srv.URL + "/items"))
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/items/7", nil)
	show(srv.Client().Do(req))
	// Output:
	// 200 items
	// 403 {"error":"insufficient_scope","error_description":"the access token needs one of the scopes inventory:admin root"}
	// Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="inventory:admin", error="insufficient_scope", error_description="the access token needs one of the scopes inventory:admin root"
}

// Hierarchical scopes, only where the authorization server issues them.
func ExampleWildcard() {
	rt, err := scopes.NewRoute(scopes.RouteConfig{Scopes: []string{"tools:write"}, Implies: scopes.Wildcard})
	if err != nil {
		fmt.Println(err)
		return
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "written") })
	srv := httptest.NewServer(authenticate("tools:*", rt.Handler(ok)))
	defer srv.Close()
	show(srv.Client().Post(srv.URL, "text/plain", nil))
	// Output:
	// 200 written
}

// Per-tool scopes in front of an MCP server: the forbidden tools/call is
// answered before the server sees it.
func ExampleNewMCP() {
	mcp, err := scopes.NewMCP(scopes.MCPConfig{
		Tools: map[string][]string{
			"get_inventory": {"inventory:read"},
			"set_price":     {"inventory:read", "inventory:write"},
		},
		Methods: map[string][]string{"resources/read": {"inventory:read"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	server := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { // the MCP server
		body, _ := io.ReadAll(r.Body)
		fmt.Println("server got", len(body), "bytes")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`)
	})
	srv := httptest.NewServer(authenticate("inventory:read", mcp.Handler(server)))
	defer srv.Close()

	call := func(tool string) {
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":{"sku":"A-1"}}}`
		show(srv.Client().Post(srv.URL+"/mcp", "application/json", strings.NewReader(body)))
	}
	call("get_inventory")
	call("set_price")
	call("drop_tables") // not in the map: denied by default
	// Output:
	// server got 106 bytes
	// 200 {"jsonrpc":"2.0","id":1,"result":{"content":[]}}
	// 403 {"error":"insufficient_scope","error_description":"the access token lacks scope inventory:write required for tool set_price"}
	// Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="inventory:read inventory:write", error="insufficient_scope", error_description="the access token lacks scope inventory:write required for tool set_price"
	// 403 {"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"not permitted"}}
}

// Advertise only the tools the caller may call: the middleware rewrites
// tools/list answers of servers that write the JSON themselves.
func ExampleMCP_Handler_filterToolsList() {
	mcp, err := scopes.NewMCP(scopes.MCPConfig{
		Tools: map[string][]string{
			"get_inventory": {"inventory:read"},
			"set_price":     {"inventory:write"},
		},
		FilterToolsList: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	server := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_inventory","inputSchema":{"type":"object"}},`+
			`{"name":"set_price","inputSchema":{"type":"object"}}]}}`)
	})
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r = r.WithContext(rsguard.NewContext(r.Context(), &rsguard.Principal{Subject: "user:https://as.example#alice", Scopes: []string{"inventory:read"}}))
	w := httptest.NewRecorder()
	mcp.Handler(server).ServeHTTP(w, r)
	fmt.Println(w.Body.String())
	// Output:
	// {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_inventory","inputSchema":{"type":"object"}}],"cacheScope":"private"}}
}

// With an MCP SDK, filter the typed tools/list result by name.
func ExampleMCP_AllowsTool() {
	mcp, err := scopes.NewMCP(scopes.MCPConfig{Tools: map[string][]string{
		"get_inventory": {"inventory:read"},
		"set_price":     {"inventory:write"},
		"search":        nil, // any authenticated caller
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{Scopes: []string{"inventory:read"}})
	p, _ := rsguard.FromContext(ctx)
	for _, tool := range []string{"get_inventory", "set_price", "search", "unlisted"} {
		fmt.Println(tool, mcp.AllowsTool(p, tool))
	}
	// Output:
	// get_inventory true
	// set_price false
	// search true
	// unlisted false
}
