package scopes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// JSON-RPC bodies as an MCP client (2025-11-25; batches 2025-03-26) sends them.
const (
	bodyInitialize = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",` +
		`"capabilities":{"roots":{"listChanged":true},"elicitation":{}},"clientInfo":{"name":"example-client","version":"1.0.0"}}}`
	bodyInitialized = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	bodyCancelled   = `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"user cancelled"}}`
	bodyToolsList   = `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`
	bodyPing        = `{"jsonrpc":"2.0","id":"p-1","method":"ping"}`
	bodyClientReply = `{"jsonrpc":"2.0","id":"srv-1","result":{"roots":[{"uri":"file:///home/alice/project","name":"project"}]}}`
	bodyGetInv      = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_inventory",` +
		`"arguments":{"sku":"A-100","warehouse":"north"},"_meta":{"progressToken":2}}}`
	bodySetPrice = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"set_price","arguments":{"sku":"A-100","price":12.5}}}`
	bodySearch   = `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"search","arguments":{"q":"bolts"}}}`
	bodyUnknown  = `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"drop_tables","arguments":{}}}`
	bodyResource = `{"jsonrpc":"2.0","id":6,"method":"resources/read","params":{"uri":"inventory://north/A-100"}}`
)

func testMCPConfig() MCPConfig {
	return MCPConfig{
		Tools: map[string][]string{
			"get_inventory": {"inventory:read"},
			"set_price":     {"inventory:read", "inventory:write"},
			"search":        nil,
		},
		Methods: map[string][]string{"resources/read": {"resources:read"}},
	}
}

// fakeMCP stands in for an MCP server's Streamable HTTP endpoint. It records
// what reached it and answers like one: 202 to notifications and responses,
// 200 JSON to requests, an SSE stream to GET, 204 to DELETE.
type fakeMCP struct {
	mu      sync.Mutex
	bodies  []string
	lengths []int64
}

func (s *fakeMCP) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

func (s *fakeMCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	s.lengths = append(s.lengths, r.ContentLength)
	s.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, ": stream open\n\n")
		w.(http.Flusher).Flush()
		return
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var msgs []map[string]json.RawMessage
	if body = bytes.TrimSpace(body); len(body) > 0 && body[0] == '[' {
		_ = json.Unmarshal(body, &msgs)
	} else {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(body, &m)
		msgs = append(msgs, m)
	}
	var out []string
	for _, m := range msgs {
		if m["method"] != nil && m["id"] != nil {
			out = append(out, `{"jsonrpc":"2.0","id":`+string(m["id"])+`,"result":{}}`)
		}
	}
	if len(out) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if len(msgs) > 1 {
		_, _ = io.WriteString(w, "["+strings.Join(out, ",")+"]")
		return
	}
	_, _ = io.WriteString(w, out[0])
}

func mustMCP(t testing.TB, cfg MCPConfig) *MCP {
	t.Helper()
	m, err := NewMCP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// postMCP sends body as an MCP client does; chunked hides its length.
func postMCP(t *testing.T, srv *httptest.Server, body string, chunked bool) response {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/mcp", rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", "1868a90c")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	return do(t, srv, req)
}

const (
	rpc400Parse   = `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}` + "\n"
	rpc400Invalid = `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request"}}` + "\n"
	rpc403        = `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"not permitted"}}` + "\n"
	rpc413        = `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"request body too large"}}` + "\n"
)

// rpc403For and rpc400For are the JSON-RPC errors answering the request with
// the raw id id.
func rpc403For(id string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32000,"message":"not permitted"}}` + "\n"
}

func rpc400For(id string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32600,"message":"invalid request"}}` + "\n"
}

func insufficientChallenge(scope, desc string) string {
	return `Bearer resource_metadata="` + testRM + `", scope="` + scope + `", error="insufficient_scope", error_description="` + desc + `"`
}

func TestMCPPost(t *testing.T) {
	reader := &Grant{Scopes: []string{"inventory:read"}, ResourceMetadata: testRM}
	allowUnknown := testMCPConfig()
	allowUnknown.UnknownTools = AllowUnknownTools
	callScope := testMCPConfig()
	callScope.Methods["tools/call"] = []string{"mcp:tools"}
	small := testMCPConfig()
	small.MaxBodyBytes = int64(len(bodyGetInv))
	over := bodyGetInv + " "
	wild := testMCPConfig()
	wild.Tools["set_price"] = []string{"inventory:write"}
	wild.Implies = Wildcard

	tests := []struct {
		name      string
		cfg       *MCPConfig // nil: testMCPConfig()
		grant     *Grant     // nil: no grant at all
		body      string
		chunked   bool
		status    int
		challenge string
		wantBody  string
	}{
		// Session life cycle: never needs more than a grant.
		{name: "initialize", grant: reader, body: bodyInitialize, status: 200},
		{name: "initialized notification", grant: reader, body: bodyInitialized, status: 202},
		{name: "cancelled notification", grant: reader, body: bodyCancelled, status: 202},
		{name: "ping", grant: reader, body: bodyPing, status: 200},
		{name: "tools/list", grant: reader, body: bodyToolsList, status: 200},
		{name: "client's response", grant: reader, body: bodyClientReply, status: 202},

		// tools/call per tool.
		{name: "allowed tool", grant: reader, body: bodyGetInv, status: 200},
		{name: "tool mapped to no scopes", grant: &Grant{}, body: bodySearch, status: 200},
		{name: "forbidden tool: every needed scope, granted one too", grant: reader, body: bodySetPrice, status: 403,
			challenge: insufficientChallenge("inventory:read inventory:write",
				"the access token lacks scope inventory:write required for tool set_price")},
		{name: "forbidden tool, chunked body", grant: reader, body: bodySetPrice, chunked: true, status: 403,
			challenge: insufficientChallenge("inventory:read inventory:write",
				"the access token lacks scope inventory:write required for tool set_price")},
		{name: "forbidden tool as a notification", grant: reader, status: 403,
			body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"set_price","arguments":{}}}`,
			challenge: insufficientChallenge("inventory:read inventory:write",
				"the access token lacks scope inventory:write required for tool set_price")},
		{name: "unknown tool denied by default", grant: reader, body: bodyUnknown, status: 403, wantBody: rpc403For("5")},
		{name: "tool names are exact", grant: reader, status: 403, wantBody: rpc403For("3"),
			body: `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"Set_Price","arguments":{}}}`},
		{name: "unknown tool allowed by policy", cfg: &allowUnknown, grant: reader, body: bodyUnknown, status: 200},
		{name: "unknown tool allowed by policy still needs tools/call scopes", grant: reader, status: 403,
			cfg: func() *MCPConfig {
				c := allowUnknown
				c.Methods = map[string][]string{"tools/call": {"mcp:tools"}}
				return &c
			}(),
			body: bodyUnknown, challenge: `Bearer resource_metadata="` + testRM + `", scope="mcp:tools", error="insufficient_scope", ` +
				`error_description="the access token lacks scope mcp:tools required for unknown tool"`},
		{name: "tools/call method scope added to tool's", cfg: &callScope, grant: reader, body: bodyGetInv, status: 403,
			challenge: insufficientChallenge("mcp:tools inventory:read",
				"the access token lacks scope mcp:tools required for tool get_inventory")},
		{name: "tools/call method scope held", cfg: &callScope, grant: &Grant{Scopes: []string{"inventory:read", "mcp:tools"}},
			body: bodyGetInv, status: 200},
		{name: "wildcard when configured", cfg: &wild, grant: &Grant{Scopes: []string{"inventory:*"}}, body: bodySetPrice, status: 200},
		{name: "no wildcard by default", grant: &Grant{Scopes: []string{"inventory:*"}, ResourceMetadata: testRM}, body: bodySetPrice, status: 403,
			challenge: insufficientChallenge("inventory:read inventory:write",
				"the access token lacks scopes inventory:read inventory:write required for tool set_price")},

		// Other methods.
		{name: "restricted method", grant: reader, body: bodyResource, status: 403,
			challenge: insufficientChallenge("resources:read", "the access token lacks scope resources:read required for method resources/read")},
		{name: "restricted method allowed", grant: &Grant{Scopes: []string{"resources:read"}}, body: bodyResource, status: 200},

		// Batches: all or nothing, one challenge for the union.
		{name: "batch allowed", grant: reader, body: "[" + bodyGetInv + "," + bodyInitialized + "," + bodySearch + "]", status: 200},
		{name: "batch with one forbidden call", grant: reader, body: "[" + bodyGetInv + "," + bodySetPrice + "]", status: 403,
			challenge: insufficientChallenge("inventory:read inventory:write", "the access token lacks scope inventory:write required for batch")},
		{name: "batch: union of tools and methods", grant: reader, body: "[" + bodySetPrice + ",\n " + bodyResource + "]", status: 403,
			challenge: insufficientChallenge("inventory:read inventory:write resources:read",
				"the access token lacks scopes inventory:write resources:read required for batch")},
		{name: "batch with an unknown tool", grant: reader, body: "[" + bodySetPrice + "," + bodyUnknown + "]", status: 403,
			wantBody: "[" + strings.TrimSuffix(rpc403For("3"), "\n") + "," + strings.TrimSuffix(rpc403For("5"), "\n") + "]\n"},
		{name: "batch of responses", grant: reader, body: "[" + bodyClientReply + "]", status: 202},
		{name: "empty batch", grant: reader, body: "[]", status: 400, wantBody: rpc400Invalid},
		{name: "batch of non-objects", grant: reader, body: `[1,"tools/call"]`, status: 400, wantBody: rpc400Invalid},

		// Bodies that are not plainly JSON-RPC: 400, never passed on.
		{name: "not JSON", grant: reader, body: "method=tools/call&name=set_price", status: 400, wantBody: rpc400Parse},
		{name: "empty body", grant: reader, body: "", status: 400, wantBody: rpc400Parse},
		{name: "trailing data", grant: reader, body: bodyGetInv + " " + bodySetPrice, status: 400, wantBody: rpc400Parse},
		{name: "truncated", grant: reader, body: bodySetPrice[:40], status: 400, wantBody: rpc400Parse},
		{name: "JSON string", grant: reader, body: `"tools/call"`, status: 400, wantBody: rpc400Invalid},
		{name: "JSON null", grant: reader, body: `null`, status: 400, wantBody: rpc400Invalid},
		{name: "case-variant method smuggling", grant: reader, status: 400, wantBody: rpc400Invalid,
			body: `{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call","params":{"name":"set_price"}}`},
		{name: "long-s params smuggling", grant: reader, status: 400, wantBody: rpc400Invalid,
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_inventory"},"paramſ":{"name":"set_price"}}`},
		{name: "duplicate method", grant: reader, status: 400, wantBody: rpc400Invalid,
			body: `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"set_price"}}`},
		{name: "duplicate tool name", grant: reader, status: 400, wantBody: rpc400Invalid,
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_inventory","name":"set_price"}}`},
		{name: "case-variant tool name", grant: reader, status: 400, wantBody: rpc400For("1"),
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_inventory","NAME":"set_price"}}`},
		{name: "escaped key is the same key", grant: reader, status: 400, wantBody: rpc400Invalid,
			body: `{"jsonrpc":"2.0","id":1,"method":"ping","\u006dethod":"tools/call","params":{"name":"set_price"}}`},
		{name: "escaped method and tool name decode", grant: reader, status: 403,
			body: `{"jsonrpc":"2.0","id":1,"\u006dethod":"tools\/call","params":{"n\u0061me":"set\u005fprice"}}`,
			challenge: insufficientChallenge("inventory:read inventory:write",
				"the access token lacks scope inventory:write required for tool set_price")},
		{name: "method not a string", grant: reader, body: `{"jsonrpc":"2.0","id":1,"method":["tools/call"]}`, status: 400, wantBody: rpc400Invalid},
		{name: "tools/call without params", grant: reader, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`, status: 400, wantBody: rpc400For("1")},
		{name: "tools/call without name", grant: reader, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}`,
			status: 400, wantBody: rpc400For("1")},
		{name: "tool name not a string", grant: reader, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":null}}`,
			status: 400, wantBody: rpc400For("1")},
		{name: "params as array", grant: reader, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["set_price"]}`,
			status: 400, wantBody: rpc400For("1")},

		// The size bound.
		{name: "at the bound", cfg: &small, grant: reader, body: bodyGetInv, status: 200},
		{name: "at the bound, chunked", cfg: &small, grant: reader, body: bodyGetInv, chunked: true, status: 200},
		{name: "over the bound", cfg: &small, grant: reader, body: over, status: 413, wantBody: rpc413},
		{name: "over the bound, chunked", cfg: &small, grant: reader, body: over, chunked: true, status: 413, wantBody: rpc413},

		// No grant: fail closed before reading anything.
		{name: "no grant", body: bodyGetInv, status: 401, challenge: `Bearer realm="rsguard"`},
		{name: "no grant, configured metadata URL", body: bodyInitialize, status: 401,
			cfg:       func() *MCPConfig { c := testMCPConfig(); c.ResourceMetadata = testRM; return &c }(),
			challenge: `Bearer resource_metadata="` + testRM + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testMCPConfig()
			if tt.cfg != nil {
				cfg = *tt.cfg
			}
			server := &fakeMCP{}
			srv := httptest.NewServer(authAs(tt.grant, mustMCP(t, cfg).Handler(server)))
			defer srv.Close()
			got := postMCP(t, srv, tt.body, tt.chunked)
			if got.status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", got.status, tt.status, got)
			}
			if c := strings.Join(got.challenge, "\n"); c != tt.challenge {
				t.Errorf("WWW-Authenticate =\n%s\nwant\n%s", c, tt.challenge)
			}
			if tt.wantBody != "" && got.body != tt.wantBody {
				t.Errorf("body = %q, want %q", got.body, tt.wantBody)
			}
			passed := tt.status < 300
			if n := server.calls(); passed != (n == 1) {
				t.Fatalf("MCP server saw %d requests, want passed=%v", n, passed)
			}
			if !passed {
				return
			}
			if server.bodies[0] != tt.body {
				t.Errorf("MCP server read %q, want the identical body %q", server.bodies[0], tt.body)
			}
			wantLen := int64(len(tt.body))
			if tt.chunked {
				wantLen = -1
			}
			if server.lengths[0] != wantLen {
				t.Errorf("ContentLength = %d, want %d", server.lengths[0], wantLen)
			}
		})
	}
}

// TestMCPOtherMethods: GET opens the SSE stream, DELETE ends the session;
// neither calls a tool, both pass, unread, to the server, still streaming.
// Any other method is refused before the server (TestMCPMethodNotAllowed).
func TestMCPOtherMethods(t *testing.T) {
	g := &Grant{Scopes: []string{"inventory:read"}}
	m := mustMCP(t, testMCPConfig())

	step := make(chan struct{})
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n")
			w.(http.Flusher).Flush()
			<-step // the client has read the first event through the middleware
			_, _ = io.WriteString(w, "data: {\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"roots/list\"}\n\n")
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			t.Errorf("the server was reached with %s", r.Method)
			w.WriteHeader(http.StatusTeapot)
		}
	})
	srv := httptest.NewServer(authAs(g, m.Handler(stream)))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET status %d", res.StatusCode)
	}
	br := bufio.NewReader(res.Body)
	for _, want := range []string{"event: message\n", `data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}` + "\n", "\n"} {
		line, err := br.ReadString('\n')
		if err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
	close(step)
	if line, _ := br.ReadString('\n'); !strings.Contains(line, "roots/list") {
		t.Fatalf("second event: %q", line)
	}

	req, _ = http.NewRequest(http.MethodDelete, srv.URL+"/mcp", nil)
	if got := do(t, srv, req); got.status != http.StatusNoContent {
		t.Errorf("DELETE: %v", got)
	}
	req, _ = http.NewRequest(http.MethodPut, srv.URL+"/mcp", strings.NewReader("not even JSON"))
	if got := do(t, srv, req); got.status != http.StatusMethodNotAllowed || got.body != rpc405 {
		t.Errorf("PUT is refused before the server: %v", got)
	}

	// Without a grant nothing passes, GET included.
	srv2 := httptest.NewServer(m.Handler(stream))
	defer srv2.Close()
	if got := get(t, srv2, "/mcp"); got.status != 401 || len(got.challenge) != 1 {
		t.Errorf("GET without grant: %v", got)
	}
}

// TestMCPStreamedAnswer: a tools/call answered as an SSE stream passes
// through unbuffered.
func TestMCPStreamedAnswer(t *testing.T) {
	g := &Grant{Scopes: []string{"inventory:read"}}
	cfg := testMCPConfig()
	cfg.FilterToolsList = true // must not touch a tools/call answer
	step := make(chan struct{})
	srv := httptest.NewServer(authAs(g, mustMCP(t, cfg).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		if _, ok := w.(http.Flusher); !ok {
			t.Error("ResponseWriter lost http.Flusher")
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":2,\"progress\":1}}\n\n")
		w.(http.Flusher).Flush()
		<-step
		_, _ = io.WriteString(w, "data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[]}}\n\n")
	}))))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(bodyGetInv))
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	if line, _ := br.ReadString('\n'); !strings.Contains(line, "notifications/progress") {
		t.Fatalf("first event %q", line)
	}
	close(step)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), `"id":2`) {
		t.Fatalf("rest %q", rest)
	}
}

// TestMCPCheckRestoresBody: Check leaves a body that reads the same, also
// when it refuses it as too large, and large arguments survive intact.
func TestMCPCheckRestoresBody(t *testing.T) {
	big := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"get_inventory","arguments":{"blob":"` +
		strings.Repeat("xyz", 100_000) + `"}}}`
	tests := []struct {
		name    string
		max     int64
		wantErr error
	}{
		{"within", 1 << 20, nil},
		{"over", 4096, ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testMCPConfig()
			cfg.MaxBodyBytes = tt.max
			m := mustMCP(t, cfg)
			for _, hideLen := range []bool{false, true} {
				var rd io.Reader = strings.NewReader(big)
				if hideLen {
					rd = io.MultiReader(rd)
				}
				r := httptest.NewRequest(http.MethodPost, "/mcp", rd)
				if hideLen {
					r.ContentLength = -1
				}
				r = r.WithContext(NewContext(r.Context(), &Grant{Scopes: []string{"inventory:read"}}))
				if err := m.Check(r); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Fatalf("Check = %v, want %v", err, tt.wantErr)
				}
				got, err := io.ReadAll(r.Body)
				if err != nil || string(got) != big {
					t.Fatalf("body after Check: %d bytes, %v", len(got), err)
				}
				if err := r.Body.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestMCPOuterMaxBytesReader: an outer http.MaxBytesReader tighter than
// MaxBodyBytes also gives 413.
func TestMCPOuterMaxBytesReader(t *testing.T) {
	m := mustMCP(t, testMCPConfig())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16)
		m.Handler(&fakeMCP{}).ServeHTTP(w, r.WithContext(NewContext(r.Context(), &Grant{})))
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	if got := postMCP(t, srv, bodySearch, true); got.status != 413 || got.body != rpc413 {
		t.Fatalf("%v", got)
	}
}

func TestMCPAllowsTool(t *testing.T) {
	m := mustMCP(t, testMCPConfig())
	g := &Grant{Scopes: []string{"inventory:read"}}
	for tool, want := range map[string]bool{"get_inventory": true, "set_price": false, "search": true, "drop_tables": false} {
		if got := m.AllowsTool(g, tool); got != want {
			t.Errorf("AllowsTool(%q) = %v, want %v", tool, got, want)
		}
	}
	if m.AllowsTool(nil, "search") {
		t.Error("nil grant allowed")
	}
	cfg := testMCPConfig()
	cfg.UnknownTools = AllowUnknownTools
	if !mustMCP(t, cfg).AllowsTool(g, "drop_tables") {
		t.Error("AllowUnknownTools: unknown tool refused")
	}
}

func TestNewMCPRefuses(t *testing.T) {
	tests := map[string]MCPConfig{
		"empty tool name":        {Tools: map[string][]string{"": {"a"}}},
		"invalid UTF-8 tool":     {Tools: map[string][]string{"a\xff": {"a"}}},
		"replacement char tool":  {Tools: map[string][]string{"a\uFFFD": {"a"}}},
		"invalid scope":          {Tools: map[string][]string{"t": {"a b"}}},
		"empty scope":            {Tools: map[string][]string{"t": {""}}},
		"empty method":           {Methods: map[string][]string{"": {"a"}}},
		"invalid method scope":   {Methods: map[string][]string{"resources/read": {`"a"`}}},
		"negative bound":         {MaxBodyBytes: -1},
		"unknown unknown policy": {UnknownTools: 7},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := NewMCP(cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if _, err := NewMCP(MCPConfig{Tools: map[string][]string{"t": {"bad scope"}}}); !errors.Is(err, ErrInvalidScope) {
		t.Errorf("invalid scope error %v does not wrap ErrInvalidScope", err)
	}
}

// TestNewMCPCopiesMaps: the configuration cannot be changed afterwards.
func TestNewMCPCopiesMaps(t *testing.T) {
	cfg := testMCPConfig()
	m := mustMCP(t, cfg)
	cfg.Tools["set_price"] = nil
	cfg.Tools["get_inventory"][0] = "nothing"
	g := &Grant{Scopes: []string{"inventory:read"}}
	if m.AllowsTool(g, "set_price") || !m.AllowsTool(g, "get_inventory") {
		t.Fatal("NewMCP kept references to the caller's maps")
	}
}

// TestMCPConcurrent: one MCP serves many requests at once (run with -race).
func TestMCPConcurrent(t *testing.T) {
	cfg := testMCPConfig()
	cfg.FilterToolsList = true
	m := mustMCP(t, cfg)
	next := &fakeMCP{}
	srv := httptest.NewServer(authAs(&Grant{Scopes: []string{"inventory:read"}}, m.Handler(next)))
	defer srv.Close()
	bodies := map[string]int{bodyGetInv: 200, bodySetPrice: 403, bodyToolsList: 200, bodyUnknown: 403, "[" + bodyGetInv + "]": 200, "x": 400}
	const goroutines, rounds = 8, 25
	var wg sync.WaitGroup
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < rounds; j++ {
				for body, want := range bodies {
					res, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(body))
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != want {
						t.Errorf("%s: status %d, want %d", body, res.StatusCode, want)
					}
				}
			}
		}()
	}
	wg.Wait()

	// The end state: exactly the allowed calls reached the server, every
	// one of them, and nothing refused did.
	allowed := 0
	for _, want := range bodies {
		if want == http.StatusOK {
			allowed++
		}
	}
	next.mu.Lock()
	defer next.mu.Unlock()
	if got, want := len(next.bodies), goroutines*rounds*allowed; got != want {
		t.Errorf("%d calls reached the server, want %d", got, want)
	}
	for _, body := range next.bodies {
		if bodies[body] != http.StatusOK {
			t.Errorf("a refused call reached the server: %.60s", body)
			break
		}
	}
}

// mcpAllow is the Allow header of the 405 the MCP middleware answers.
const mcpAllow = "GET, POST, DELETE, OPTIONS"

const rpc405 = `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"method not allowed"}}` + "\n"

// sendMCP sends body with the request method method as an MCP client does
// and returns what came back, with the Allow header values.
func sendMCP(t *testing.T, srv *httptest.Server, method, body string) (response, []string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{
		status:    res.StatusCode,
		challenge: res.Header.Values("WWW-Authenticate"),
		cache:     res.Header.Get("Cache-Control"),
		ctype:     res.Header.Get("Content-Type"),
		body:      string(got),
	}, res.Header.Values("Allow")
}

// TestMCPMethodNotAllowed: once a request is authenticated, every request
// method but exactly POST, GET, DELETE and OPTIONS (compared
// case-sensitively, RFC 9110 §9.1) is answered 405 with
// Allow: GET, POST, DELETE, OPTIONS and never reaches the MCP server, whatever
// its body asks for and whatever the token may do. Without it a server that
// dispatches a PUT, a PATCH or a "post" on its body would run a tool the
// check never looked at.
func TestMCPMethodNotAllowed(t *testing.T) {
	reader := &Grant{Scopes: []string{"inventory:read"}, ResourceMetadata: testRM}
	writer := &Grant{Scopes: []string{"inventory:read", "inventory:write"}, ResourceMetadata: testRM}
	methods := []string{
		// Case variants of the methods MCP uses: methods are case-sensitive.
		"post", "Post", "pOST", "POSt", "get", "Get", "delete", "Delete", "options", "Options",
		// HEAD: Streamable HTTP defines only POST, GET and DELETE.
		"HEAD", "head",
		// Methods with a body that a server could dispatch like POST.
		"PUT", "put", "PATCH", "patch", "QUERY", "SEARCH", "REPORT",
		// WebDAV and the rest of the registry.
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "CONNECT", "TRACE", "LINK", "UNLINK",
		// Extension and made-up tokens.
		"PURGE", "M-POST", "BREW", "X-MCP-CALL", "TOOLS.CALL", "POST_", "_",
	}
	for _, tc := range []struct {
		name  string
		grant *Grant
		body  string
	}{
		{"tool the token may not call", reader, bodySetPrice},
		{"unknown tool", reader, bodyUnknown},
		{"tool the token may call", writer, bodySetPrice},
		{"batch", reader, "[" + bodySetPrice + "," + bodyUnknown + "]"},
	} {
		server := &fakeMCP{}
		srv := httptest.NewServer(authAs(tc.grant, mustMCP(t, testMCPConfig()).Handler(server)))
		for _, method := range methods {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				got, allow := sendMCP(t, srv, method, tc.body)
				if got.status != http.StatusMethodNotAllowed {
					t.Fatalf("status = %d, want 405 (%v)", got.status, got)
				}
				if len(allow) != 1 || allow[0] != mcpAllow {
					t.Errorf("Allow = %q, want one value %q", allow, mcpAllow)
				}
				if len(got.challenge) != 0 {
					t.Errorf("WWW-Authenticate = %q on a 405", got.challenge)
				}
				if got.cache != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", got.cache)
				}
				wantBody := rpc405
				if method == http.MethodHead {
					wantBody = ""
				}
				if got.body != wantBody {
					t.Errorf("body = %q, want %q", got.body, wantBody)
				}
			})
		}
		if n := server.calls(); n != 0 {
			t.Errorf("%s: the MCP server saw %d requests with a refused method: %q", tc.name, n, server.bodies)
		}
		srv.Close()
	}
}

// TestMCPMethodControls: the positive controls beside
// TestMCPMethodNotAllowed. POST is checked as it always was; GET, DELETE and
// OPTIONS pass; without a grant every method, a refused one too, gets the
// fail-closed 401 first.
func TestMCPMethodControls(t *testing.T) {
	reader := &Grant{Scopes: []string{"inventory:read"}, ResourceMetadata: testRM}
	writer := &Grant{Scopes: []string{"inventory:read", "inventory:write"}, ResourceMetadata: testRM}
	tests := []struct {
		name      string
		grant     *Grant
		method    string
		body      string
		status    int
		challenge string
		reached   bool
	}{
		{"POST, token may call the tool", writer, "POST", bodySetPrice, 200, "", true},
		{"POST, token lacks the scope", reader, "POST", bodySetPrice, 403,
			insufficientChallenge("inventory:read inventory:write", "the access token lacks scope inventory:write required for tool set_price"), false},
		{"GET opens the stream", reader, "GET", "", 200, "", true},
		{"DELETE ends the session", reader, "DELETE", "", 204, "", true},
		{"OPTIONS passes", reader, "OPTIONS", "", 202, "", true},
		{"no grant, PUT: 401 before 405", nil, "PUT", bodySetPrice, 401, `Bearer realm="rsguard"`, false},
		{"no grant, post: 401 before 405", nil, "post", bodySetPrice, 401, `Bearer realm="rsguard"`, false},
		{"no grant, GET", nil, "GET", "", 401, `Bearer realm="rsguard"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := &fakeMCP{}
			srv := httptest.NewServer(authAs(tt.grant, mustMCP(t, testMCPConfig()).Handler(server)))
			defer srv.Close()
			got, allow := sendMCP(t, srv, tt.method, tt.body)
			if got.status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", got.status, tt.status, got)
			}
			if c := strings.Join(got.challenge, "\n"); c != tt.challenge {
				t.Errorf("WWW-Authenticate =\n%s\nwant\n%s", c, tt.challenge)
			}
			if len(allow) != 0 {
				t.Errorf("Allow = %q on a %d", allow, got.status)
			}
			if n := server.calls(); (n == 1) != tt.reached {
				t.Fatalf("MCP server saw %d requests, want reached=%v", n, tt.reached)
			}
			if tt.reached && server.bodies[0] != tt.body {
				t.Errorf("MCP server read %q, want %q", server.bodies[0], tt.body)
			}
		})
	}

	// Behind an authenticating middleware, a request without credentials
	// gets that middleware's 401, not the 405.
	authn := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+testRM+`"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), reader)))
		})
	}
	server := &fakeMCP{}
	srv := httptest.NewServer(authn(mustMCP(t, testMCPConfig()).Handler(server)))
	defer srv.Close()
	for _, method := range []string{"PUT", "PATCH", "post", "HEAD"} {
		got, allow := sendMCP(t, srv, method, bodySetPrice)
		if got.status != http.StatusUnauthorized || len(allow) != 0 {
			t.Errorf("%s without credentials: %v, Allow %q; want the authenticator's 401", method, got, allow)
		}
	}
	if server.calls() != 0 {
		t.Error("the MCP server was reached without credentials")
	}
}

// TestMCPCheckMethod: the decision method reports a refused method with
// ErrMethodNotAllowed and leaves the body unread.
func TestMCPCheckMethod(t *testing.T) {
	m := mustMCP(t, testMCPConfig())
	for _, method := range []string{"PUT", "post", "HEAD"} {
		r := httptest.NewRequest(method, "/mcp", strings.NewReader(bodySetPrice))
		r = r.WithContext(NewContext(r.Context(), &Grant{}))
		err := m.Check(r)
		if !errors.Is(err, ErrMethodNotAllowed) {
			t.Fatalf("%s: Check = %v, want ErrMethodNotAllowed", method, err)
		}
		if body, _ := io.ReadAll(r.Body); string(body) != bodySetPrice {
			t.Errorf("%s: body after Check %q", method, body)
		}
		w := httptest.NewRecorder()
		WriteError(w, r, err)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != mcpAllow || w.Body.String() != rpc405 {
			t.Errorf("%s: WriteError wrote %d Allow=%q %q", method, w.Code, w.Header().Get("Allow"), w.Body)
		}
	}
	r := httptest.NewRequest("PUT", "/mcp", strings.NewReader(bodySetPrice))
	if err := m.Check(r); !errors.Is(err, ErrNoGrant) {
		t.Errorf("PUT without grant: Check = %v, want ErrNoGrant", err)
	}
	for _, method := range []string{"GET", "DELETE", "OPTIONS"} {
		r := httptest.NewRequest(method, "/mcp", nil)
		r = r.WithContext(NewContext(r.Context(), &Grant{}))
		if err := m.Check(r); err != nil {
			t.Errorf("%s: Check = %v", method, err)
		}
	}
}

// TestMCPErrorEchoesID: a JSON-RPC error answer carries the id of the
// request it refuses, in its raw JSON form (JSON-RPC 2.0 §5); null only when
// the request had none or it could not be read. A refused batch is answered
// with one error per request in it (§6).
func TestMCPErrorEchoesID(t *testing.T) {
	reader := &Grant{Scopes: []string{"inventory:read"}, ResourceMetadata: testRM}
	notPermitted := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32000,"message":"not permitted"}}`
	}
	invalid := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32600,"message":"invalid request"}}`
	}
	unknown := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"drop_tables","arguments":{}}}`
	}
	tests := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"number id", bodyUnknown, 403, notPermitted("5") + "\n"},
		{"string id", unknown(`"req-7"`), 403, notPermitted(`"req-7"`) + "\n"},
		{"string id with escapes kept raw", unknown(`"a\"b\u00e9\/"`), 403, notPermitted(`"a\"b\u00e9\/"`) + "\n"},
		{"zero id", unknown(`0`), 403, notPermitted(`0`) + "\n"},
		{"large number kept raw", unknown(`123456789012345678901234567890`), 403, notPermitted(`123456789012345678901234567890`) + "\n"},
		{"negative fraction kept raw", unknown(`-1.50e+3`), 403, notPermitted(`-1.50e+3`) + "\n"},
		{"id after params", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"drop_tables"},"id":"late"}`, 403, notPermitted(`"late"`) + "\n"},
		{"tools/call without a name", `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"arguments":{}}}`, 400, invalid("8") + "\n"},
		{"tools/call without params", `{"jsonrpc":"2.0","id":"x","method":"tools/call"}`, 400, invalid(`"x"`) + "\n"},

		// null: no id, or none that can be read alike by every decoder.
		{"notification", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"drop_tables"}}`, 403, rpc403},
		{"null id", unknown(`null`), 403, rpc403},
		{"object id", unknown(`{"n":1}`), 403, rpc403},
		{"boolean id", unknown(`true`), 403, rpc403},
		{"string id, invalid UTF-8", unknown("\"a\xffb\""), 403, rpc403},
		{"duplicate id", `{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"drop_tables"}}`, 400, rpc400Invalid},
		{"case-variant id", `{"jsonrpc":"2.0","id":1,"ID":2,"method":"tools/call","params":{"name":"drop_tables"}}`, 403, rpc403},
		{"unreadable message", `{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call"}`, 400, rpc400Invalid},
		{"not JSON", `{"jsonrpc":"2.0","id":1,`, 400, rpc400Parse},

		// Batches: one error per request, none for notifications.
		{"batch", "[" + bodySetPrice + "," + bodyUnknown + "]", 403, "[" + notPermitted("3") + "," + notPermitted("5") + "]\n"},
		{"batch with a notification and a response", "[" + bodyInitialized + "," + unknown(`"u"`) + "," + bodyClientReply + "]", 403,
			"[" + notPermitted(`"u"`) + "]\n"},
		{"batch with an unreadable id", "[" + unknown(`[1]`) + "," + unknown(`9`) + "]", 403,
			"[" + notPermitted("null") + "," + notPermitted("9") + "]\n"},
		{"batch of notifications", `[{"jsonrpc":"2.0","method":"tools/call","params":{"name":"drop_tables"}}]`, 403, rpc403},
		{"batch with a nameless call", "[" + bodyGetInv + `,{"jsonrpc":"2.0","id":"n","method":"tools/call","params":{}}]`, 400,
			"[" + invalid("2") + "," + invalid(`"n"`) + "]\n"},
		{"unreadable batch", "[" + bodyGetInv + `,{"jsonrpc":"2.0","id":3,"method":1}]`, 400, rpc400Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := &fakeMCP{}
			srv := httptest.NewServer(authAs(reader, mustMCP(t, testMCPConfig()).Handler(server)))
			defer srv.Close()
			got := postMCP(t, srv, tt.body, false)
			if got.status != tt.status || got.body != tt.want {
				t.Errorf("got %d %s\nwant %d %s", got.status, got.body, tt.status, tt.want)
			}
			if !json.Valid([]byte(got.body)) {
				t.Errorf("body is not JSON: %q", got.body)
			}
			if server.calls() != 0 {
				t.Error("the MCP server was reached")
			}
		})
	}
}
