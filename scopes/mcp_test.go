package scopes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
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
	require.NoError(t, err)
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
	require.NoError(t, err)
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
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	allowUnknown := testMCPConfig()
	allowUnknown.AllowUnknownTools = true
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
		cfg       *MCPConfig         // nil: testMCPConfig()
		grant     *rsguard.Principal // nil: no grant at all
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
		{name: "tool mapped to no scopes", grant: &rsguard.Principal{}, body: bodySearch, status: 200},
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
		{name: "tools/call method scope held", cfg: &callScope, grant: &rsguard.Principal{Scopes: []string{"inventory:read", "mcp:tools"}},
			body: bodyGetInv, status: 200},
		{name: "wildcard when configured", cfg: &wild, grant: &rsguard.Principal{Scopes: []string{"inventory:*"}}, body: bodySetPrice, status: 200},
		{name: "no wildcard by default", grant: &rsguard.Principal{Scopes: []string{"inventory:*"}}, body: bodySetPrice, status: 403,
			challenge: insufficientChallenge("inventory:read inventory:write",
				"the access token lacks scopes inventory:read inventory:write required for tool set_price")},

		// Other methods.
		{name: "restricted method", grant: reader, body: bodyResource, status: 403,
			challenge: insufficientChallenge("resources:read", "the access token lacks scope resources:read required for method resources/read")},
		{name: "restricted method allowed", grant: &rsguard.Principal{Scopes: []string{"resources:read"}}, body: bodyResource, status: 200},

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
		{name: "no grant, session set-up", body: bodyInitialize, status: 401, challenge: `Bearer realm="rsguard"`},
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
			require.Equal(t, tt.status, got.status, "status (%v)", got)
			assert.Equal(t, tt.challenge, strings.Join(got.challenge, "\n"), "WWW-Authenticate")
			if tt.wantBody != "" {
				assert.Equal(t, tt.wantBody, got.body, "body")
			}
			passed := tt.status < 300
			n := server.calls()
			require.Equal(t, passed, n == 1, "MCP server saw %d requests, want passed=%v", n, passed)
			if !passed {
				return
			}
			assert.Equal(t, tt.body, server.bodies[0], "MCP server read, want the identical body")
			wantLen := int64(len(tt.body))
			if tt.chunked {
				wantLen = -1
			}
			assert.Equal(t, wantLen, server.lengths[0], "ContentLength")
		})
	}
}

// TestMCPOtherMethods: GET opens the SSE stream, DELETE ends the session;
// neither calls a tool, both pass, unread, to the server, still streaming.
// Any other method is refused before the server (TestMCPMethodNotAllowed).
func TestMCPOtherMethods(t *testing.T) {
	g := &rsguard.Principal{Scopes: []string{"inventory:read"}}
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
			assert.Fail(t, "the server was reached with "+r.Method)
			w.WriteHeader(http.StatusTeapot)
		}
	})
	srv := httptest.NewServer(authAs(g, m.Handler(stream)))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode, "GET status")
	br := bufio.NewReader(res.Body)
	for _, want := range []string{"event: message\n", `data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}` + "\n", "\n"} {
		line, err := br.ReadString('\n')
		require.NoError(t, err, "read %q", line)
		require.Equal(t, want, line, "read")
	}
	close(step)
	line, _ := br.ReadString('\n')
	require.Contains(t, line, "roots/list", "second event")

	req, _ = http.NewRequest(http.MethodDelete, srv.URL+"/mcp", nil)
	got := do(t, srv, req)
	assert.Equal(t, http.StatusNoContent, got.status, "DELETE: %v", got)
	req, _ = http.NewRequest(http.MethodPut, srv.URL+"/mcp", strings.NewReader("not even JSON"))
	got = do(t, srv, req)
	assert.Equal(t, http.StatusMethodNotAllowed, got.status, "PUT is refused before the server: %v", got)
	assert.Equal(t, rpc405, got.body, "PUT is refused before the server")

	// Without a grant nothing passes, GET included.
	srv2 := httptest.NewServer(m.Handler(stream))
	defer srv2.Close()
	got = get(t, srv2, "/mcp")
	assert.Equal(t, 401, got.status, "GET without grant: %v", got)
	assert.Len(t, got.challenge, 1, "GET without grant: %v", got)
}

// TestMCPStreamedAnswer: a tools/call answered as an SSE stream passes
// through unbuffered.
func TestMCPStreamedAnswer(t *testing.T) {
	g := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	cfg := testMCPConfig()
	cfg.FilterToolsList = true // must not touch a tools/call answer
	step := make(chan struct{})
	srv := httptest.NewServer(authAs(g, mustMCP(t, cfg).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		_, ok := w.(http.Flusher)
		assert.True(t, ok, "ResponseWriter lost http.Flusher")
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":2,\"progress\":1}}\n\n")
		w.(http.Flusher).Flush()
		<-step
		_, _ = io.WriteString(w, "data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[]}}\n\n")
	}))))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(bodyGetInv))
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, _ := br.ReadString('\n')
	require.Contains(t, line, "notifications/progress", "first event")
	close(step)
	rest, _ := io.ReadAll(br)
	require.Contains(t, string(rest), `"id":2`, "rest")
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
		{"over", 4096, audit.ReasonBodyTooLarge},
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
				r = r.WithContext(rsguard.NewContext(r.Context(), &rsguard.Principal{Scopes: []string{"inventory:read"}}))
				err := m.Check(r)
				if tt.wantErr == nil {
					require.NoError(t, err, "Check")
				} else {
					require.ErrorIs(t, err, tt.wantErr, "Check")
				}
				got, err := io.ReadAll(r.Body)
				require.NoError(t, err, "body after Check")
				require.Equal(t, big, string(got), "body after Check")
				require.NoError(t, r.Body.Close())
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
		m.Handler(&fakeMCP{}).ServeHTTP(w, r.WithContext(rsguard.NewContext(r.Context(), &rsguard.Principal{})))
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	got := postMCP(t, srv, bodySearch, true)
	require.Equal(t, 413, got.status, "%v", got)
	require.Equal(t, rpc413, got.body, "%v", got)
}

func TestMCPAllowsTool(t *testing.T) {
	m := mustMCP(t, testMCPConfig())
	g := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	for tool, want := range map[string]bool{"get_inventory": true, "set_price": false, "search": true, "drop_tables": false} {
		assert.Equal(t, want, m.AllowsTool(g, tool), "AllowsTool(%q)", tool)
	}
	assert.False(t, m.AllowsTool(nil, "search"), "nil grant allowed")
	cfg := testMCPConfig()
	cfg.AllowUnknownTools = true
	assert.True(t, mustMCP(t, cfg).AllowsTool(g, "drop_tables"), "AllowUnknownTools: unknown tool refused")
}

func TestNewMCPRefuses(t *testing.T) {
	tests := map[string]MCPConfig{
		"empty tool name":         {Tools: map[string][]string{"": {"a"}}},
		"invalid UTF-8 tool":      {Tools: map[string][]string{"a\xff": {"a"}}},
		"replacement char tool":   {Tools: map[string][]string{"a\uFFFD": {"a"}}},
		"invalid scope":           {Tools: map[string][]string{"t": {"a b"}}},
		"empty scope":             {Tools: map[string][]string{"t": {""}}},
		"empty method":            {Tools: map[string][]string{"t": nil}, Methods: map[string][]string{"": {"a"}}},
		"invalid method scope":    {Tools: map[string][]string{"t": nil}, Methods: map[string][]string{"resources/read": {`"a"`}}},
		"negative bound":          {Tools: map[string][]string{"t": nil}, MaxBodyBytes: -1},
		"step-up of unknown tool": {Tools: map[string][]string{"u": nil}, ToolAuthentication: map[string]AuthRequirement{"t": {}}},
		"no tools":                {},
		"no tools, methods only":  {Methods: map[string][]string{"resources/read": {"a"}}},
		"empty tools":             {Tools: map[string][]string{}},
		"invalid acr value":       {Tools: map[string][]string{"t": nil}, ToolAuthentication: map[string]AuthRequirement{"t": {ACRValues: []string{"a b"}}}},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewMCP(cfg)
			require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
		})
	}
	_, err := NewMCP(MCPConfig{Tools: map[string][]string{"t": {"bad scope"}}})
	assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "invalid scope error does not wrap ErrInvalidConfig")
	assert.ErrorContains(t, err, `MCPConfig.Tools["t"]: invalid scope token "bad scope"`, "invalid scope error")
}

// TestNewMCPNoTools: a configuration without tools would refuse every
// tools/call; it is refused, saying what to do, unless AllowUnknownTools
// says tools are not checked here.
func TestNewMCPNoTools(t *testing.T) {
	_, err := NewMCP(MCPConfig{Methods: map[string][]string{"resources/read": {"a"}}})
	require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
	assert.ErrorContains(t, err, "MCPConfig.Tools is empty")
	assert.ErrorContains(t, err, "AllowUnknownTools", "the error names the way out")

	m, err := NewMCP(MCPConfig{AllowUnknownTools: true, Methods: map[string][]string{"tools/call": {"tools"}}})
	require.NoError(t, err, "no tools, every tool allowed by choice")
	assert.True(t, m.AllowsTool(&rsguard.Principal{Scopes: []string{"tools"}}, "anything"))
}

// TestNewMCPCopiesMaps: the configuration cannot be changed afterwards.
func TestNewMCPCopiesMaps(t *testing.T) {
	cfg := testMCPConfig()
	m := mustMCP(t, cfg)
	cfg.Tools["set_price"] = nil
	cfg.Tools["get_inventory"][0] = "nothing"
	g := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	require.False(t, m.AllowsTool(g, "set_price"), "NewMCP kept references to the caller's maps")
	require.True(t, m.AllowsTool(g, "get_inventory"), "NewMCP kept references to the caller's maps")
}

// TestMCPConcurrent: one MCP serves many requests at once (run with -race).
func TestMCPConcurrent(t *testing.T) {
	cfg := testMCPConfig()
	cfg.FilterToolsList = true
	m := mustMCP(t, cfg)
	next := &fakeMCP{}
	srv := httptest.NewServer(authAs(&rsguard.Principal{Scopes: []string{"inventory:read"}}, m.Handler(next)))
	defer srv.Close()
	bodies := map[string]int{bodyGetInv: 200, bodySetPrice: 403, bodyToolsList: 200, bodyUnknown: 403, "[" + bodyGetInv + "]": 200, "x": 400}
	const goroutines, rounds = 8, 25
	// The goroutines record failures and the test goroutine asserts on
	// them: testify's assertions synchronise on t even when they pass,
	// which would order the goroutines and could hide a race.
	var (
		failMu   sync.Mutex
		failures []string
	)
	fail := func(format string, args ...any) {
		failMu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		failMu.Unlock()
	}
	var wg sync.WaitGroup
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < rounds; j++ {
				for body, want := range bodies {
					res, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(body))
					if err != nil {
						fail("%v", err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != want {
						fail("%s: status %d, want %d", body, res.StatusCode, want)
					}
				}
			}
		}()
	}
	wg.Wait()
	assert.Empty(t, failures, "failures in the concurrent goroutines")

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
	assert.Len(t, next.bodies, goroutines*rounds*allowed, "calls that reached the server")
	for _, body := range next.bodies {
		if !assert.Equal(t, http.StatusOK, bodies[body], "a refused call reached the server: %.60s", body) {
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
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
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
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	writer := &rsguard.Principal{Scopes: []string{"inventory:read", "inventory:write"}}
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
		grant *rsguard.Principal
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
				require.Equal(t, http.StatusMethodNotAllowed, got.status, "status (%v)", got)
				assert.Equal(t, []string{mcpAllow}, allow, "Allow, want one value")
				assert.Empty(t, got.challenge, "WWW-Authenticate on a 405")
				assert.Equal(t, "no-store", got.cache, "Cache-Control")
				wantBody := rpc405
				if method == http.MethodHead {
					wantBody = ""
				}
				assert.Equal(t, wantBody, got.body, "body")
			})
		}
		n := server.calls()
		assert.Zero(t, n, "%s: the MCP server saw requests with a refused method: %q", tc.name, server.bodies)
		srv.Close()
	}
}

// TestMCPMethodControls: the positive controls beside
// TestMCPMethodNotAllowed. POST is checked as it always was; GET, DELETE and
// OPTIONS pass; without a grant every method, a refused one too, gets the
// fail-closed 401 first.
func TestMCPMethodControls(t *testing.T) {
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	writer := &rsguard.Principal{Scopes: []string{"inventory:read", "inventory:write"}}
	tests := []struct {
		name      string
		grant     *rsguard.Principal
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
			require.Equal(t, tt.status, got.status, "status (%v)", got)
			assert.Equal(t, tt.challenge, strings.Join(got.challenge, "\n"), "WWW-Authenticate")
			assert.Empty(t, allow, "Allow on a %d", got.status)
			n := server.calls()
			require.Equal(t, tt.reached, n == 1, "MCP server saw %d requests, want reached=%v", n, tt.reached)
			if tt.reached {
				assert.Equal(t, tt.body, server.bodies[0], "MCP server read")
			}
		})
	}

	// Behind a Guard, a request without credentials gets the Guard's 401,
	// not the 405.
	authn := func(next http.Handler) http.Handler {
		g, err := rsguard.New(rsguard.Config{
			ResourceMetadata: testRM,
			Authenticator: authFunc(func(r *http.Request) (*rsguard.Principal, error) {
				if r.Header.Get("Authorization") == "" {
					return nil, &rsguard.Error{Status: http.StatusUnauthorized, Err: audit.ReasonNoCredential, Reason: audit.ReasonNoCredential}
				}
				return reader, nil
			}),
		})
		require.NoError(t, err)
		return g.Middleware(next)
	}
	server := &fakeMCP{}
	srv := httptest.NewServer(authn(mustMCP(t, testMCPConfig()).Handler(server)))
	defer srv.Close()
	for _, method := range []string{"PUT", "PATCH", "post", "HEAD"} {
		got, allow := sendMCP(t, srv, method, bodySetPrice)
		assert.Equal(t, http.StatusUnauthorized, got.status, "%s without credentials: %v; want the Guard's 401", method, got)
		assert.Empty(t, allow, "%s without credentials: Allow; want the Guard's 401", method)
		assert.Equal(t, `Bearer resource_metadata="`+testRM+`"`, strings.Join(got.challenge, "\n"), "%s without credentials: want the Guard's 401", method)
	}
	assert.Zero(t, server.calls(), "the MCP server was reached without credentials")
}

// TestMCPCheckMethod: the decision method reports a refused method with
// audit.ReasonMethodNotAllowed and leaves the body unread.
func TestMCPCheckMethod(t *testing.T) {
	m := mustMCP(t, testMCPConfig())
	for _, method := range []string{"PUT", "post", "HEAD"} {
		r := httptest.NewRequest(method, "/mcp", strings.NewReader(bodySetPrice))
		r = r.WithContext(rsguard.NewContext(r.Context(), &rsguard.Principal{}))
		err := m.Check(r)
		require.ErrorIs(t, err, audit.ReasonMethodNotAllowed, "%s: Check", method)
		body, _ := io.ReadAll(r.Body)
		assert.Equal(t, bodySetPrice, string(body), "%s: body after Check", method)
		w := httptest.NewRecorder()
		WriteError(w, r, err)
		assert.Equal(t, http.StatusMethodNotAllowed, w.Code, "%s: WriteError status", method)
		assert.Equal(t, mcpAllow, w.Header().Get("Allow"), "%s: WriteError Allow", method)
		assert.Equal(t, rpc405, w.Body.String(), "%s: WriteError body", method)
	}
	r := httptest.NewRequest("PUT", "/mcp", strings.NewReader(bodySetPrice))
	assert.ErrorIs(t, m.Check(r), audit.ReasonNoPrincipal, "PUT without grant: Check")
	for _, method := range []string{"GET", "DELETE", "OPTIONS"} {
		r := httptest.NewRequest(method, "/mcp", nil)
		r = r.WithContext(rsguard.NewContext(r.Context(), &rsguard.Principal{}))
		assert.NoError(t, m.Check(r), "%s: Check", method)
	}
}

// TestMCPErrorEchoesID: a JSON-RPC error answer carries the id of the
// request it refuses, in its raw JSON form (JSON-RPC 2.0 §5); null only when
// the request had none or it could not be read. A refused batch is answered
// with one error per request in it (§6).
func TestMCPErrorEchoesID(t *testing.T) {
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}}
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
			assert.Equal(t, tt.status, got.status, "status (body %s)", got.body)
			assert.Equal(t, tt.want, got.body, "body")
			assert.True(t, json.Valid([]byte(got.body)), "body is not JSON: %q", got.body)
			assert.Zero(t, server.calls(), "the MCP server was reached")
		})
	}
}
