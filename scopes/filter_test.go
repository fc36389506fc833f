package scopes

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

const (
	toolGetInv = `{"name":"get_inventory","title":"Get inventory","inputSchema":{"type":"object","properties":{"sku":{"type":"string"}}}}`
	toolSet    = `{"name":"set_price","inputSchema":{"type":"object","properties":{"name":{"type":"string"}}}}`
	toolSearch = `{"name":"search","description":"Find \"items\"","inputSchema":{"type":"object"}}`
	toolDrop   = `{"name":"drop_tables","inputSchema":{"type":"object"}}`
)

func listAnswer(id string, tools ...string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"result":{"tools":[` + strings.Join(tools, ",") + `],"nextCursor":"page-2"}}`
}

// privateList is listAnswer as the filter rewrites it: a list that depends on
// who asks is marked cacheScope "private" (MCP 2026-07-28, caching).
func privateList(id string, tools ...string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"result":{"tools":[` + strings.Join(tools, ",") + `],"nextCursor":"page-2","cacheScope":"private"}}`
}

func TestFilterTools(t *testing.T) {
	m := mustMCP(t, testMCPConfig())
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	all := listAnswer("1", toolGetInv, toolSet, toolSearch, toolDrop)
	tests := []struct {
		name  string
		grant *rsguard.Principal
		msg   string
		want  string
	}{
		{"reader", reader, all, privateList("1", toolGetInv, toolSearch)},
		{"writer", &rsguard.Principal{Scopes: []string{"inventory:write", "inventory:read"}}, all, privateList("1", toolGetInv, toolSet, toolSearch)},
		{"no scopes", &rsguard.Principal{}, all, privateList("1", toolSearch)},
		{"nil grant", nil, all, privateList("1")},
		{"nothing to remove", reader, listAnswer("1", toolSearch), privateList("1", toolSearch)},
		{"pretty-printed", reader, "{\n  \"jsonrpc\": \"2.0\",\n  \"id\": 1,\n  \"result\": {\n    \"tools\": [\n      " + toolSet + ",\n      " +
			toolSearch + "\n    ]\n  }\n}\n", "{\n  \"jsonrpc\": \"2.0\",\n  \"id\": 1,\n  \"result\": {\n    \"tools\": [" + toolSearch + "],\"cacheScope\":\"private\"\n  }\n}\n"},
		{"batch", reader, "[" + listAnswer("1", toolSet, toolSearch) + "," + `{"jsonrpc":"2.0","id":2,"result":{}}` + "]",
			"[" + privateList("1", toolSearch) + "," + `{"jsonrpc":"2.0","id":2,"result":{}}` + "]"},
		{"error response", reader, `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}}`},
		{"unnamed tools dropped", reader, listAnswer("1", `{"title":"x"}`, `{"name":7}`, `"search"`, toolSearch), privateList("1", toolSearch)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.filterTools(tt.grant, []byte(tt.msg))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			assert.True(t, json.Valid(got), "output is not JSON")
		})
	}
	_, err := m.filterTools(reader, []byte(`{"result":`))
	assert.ErrorIs(t, err, audit.ReasonInvalidRequest, "invalid JSON")
}

// listServer answers tools/list like an MCP server, as JSON or as SSE with
// an unrelated server request before the answer, in awkward pieces. With a
// gate, the SSE answer waits until the gate is closed.
func listServer(sse bool, gate chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal(body, &req)
		answer := listAnswer(string(req.ID), toolGetInv, toolSet, toolSearch, toolDrop)
		if !sse {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
			_, _ = io.WriteString(w, answer[:10])
			_, _ = io.WriteString(w, answer[10:])
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		f := w.(http.Flusher)
		_, _ = io.WriteString(w, "id: 1\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"roots/list\"}\r\n\r")
		f.Flush()
		_, _ = io.WriteString(w, "\n: keep-alive\n\n")
		f.Flush()
		if gate != nil {
			<-gate
		}
		event := "id: 2\nevent: message\ndata: " + answer + "\n\n"
		for len(event) > 0 { // in pieces that split lines and the JSON
			n := min(37, len(event))
			_, _ = io.WriteString(w, event[:n])
			f.Flush()
			event = event[n:]
		}
	})
}

func TestFilterToolsListMiddleware(t *testing.T) {
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	cfg := testMCPConfig()
	cfg.FilterToolsList = true
	m := mustMCP(t, cfg)
	want := privateList("1", toolGetInv, toolSearch)

	t.Run("json", func(t *testing.T) {
		srv := httptest.NewServer(authAs(reader, m.Handler(listServer(false, nil))))
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(bodyToolsList))
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		assert.Equal(t, want, string(body))
		assert.Equal(t, int64(len(want)), res.ContentLength, "Content-Length")
	})
	t.Run("sse", func(t *testing.T) {
		gate := make(chan struct{})
		srv := httptest.NewServer(authAs(reader, m.Handler(listServer(true, gate))))
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(bodyToolsList))
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		// The server's own request and the comment stream through before
		// the answer is written.
		head := "id: 1\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"roots/list\"}\r\n\r\n: keep-alive\n\n"
		got := make([]byte, len(head))
		_, err = io.ReadFull(br, got)
		require.NoError(t, err, "head %q", got)
		require.Equal(t, head, string(got), "head")
		close(gate)
		rest, _ := io.ReadAll(br)
		wantRest := "id: 2\nevent: message\ndata: " + want + "\n\n"
		assert.Equal(t, wantRest, string(rest))
	})
	t.Run("other id untouched", func(t *testing.T) {
		srv := httptest.NewServer(authAs(reader, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, listAnswer("99", toolSet))
		}))))
		defer srv.Close()
		assert.Equal(t, listAnswer("99", toolSet), postMCP(t, srv, bodyToolsList, false).body, "body")
	})
	t.Run("error status untouched", func(t *testing.T) {
		srv := httptest.NewServer(authAs(reader, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			_, _ = io.WriteString(w, listAnswer("1", toolSet))
		}))))
		defer srv.Close()
		got := postMCP(t, srv, bodyToolsList, false)
		assert.Equal(t, 500, got.status, "%v", got)
		assert.Equal(t, listAnswer("1", toolSet), got.body, "%v", got)
	})
	t.Run("batch", func(t *testing.T) {
		srv := httptest.NewServer(authAs(reader, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, "["+listAnswer(`"a"`, toolSet, toolSearch)+`,{"jsonrpc":"2.0","id":0,"result":{"tools":[`+toolSet+`]}}]`)
		}))))
		defer srv.Close()
		got := postMCP(t, srv, `[{"jsonrpc":"2.0","id":"a","method":"tools/list"},{"jsonrpc":"2.0","id":0,"method":"x/custom"}]`, false)
		want := "[" + privateList(`"a"`, toolSearch) + `,{"jsonrpc":"2.0","id":0,"result":{"tools":[` + toolSet + `]}}]`
		assert.Equal(t, want, got.body)
	})
	t.Run("off by default", func(t *testing.T) {
		srv := httptest.NewServer(authAs(reader, mustMCP(t, testMCPConfig()).Handler(listServer(false, nil))))
		defer srv.Close()
		assert.Equal(t, listAnswer("1", toolGetInv, toolSet, toolSearch, toolDrop), postMCP(t, srv, bodyToolsList, false).body, "body")
	})
}

func TestEventLen(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"data: x\n\n", 9},
		{"data: x\r\n\r\n", 11},
		{"data: x\r\rrest", 9},
		{"data: x\n", 0},
		{"data: x\r\n\r", 0},
		{"\n", 1},
		{"data: x\ndata: y\n\nnext", 17},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, eventLen([]byte(tt.in)), "eventLen(%q)", tt.in)
	}
}

// FuzzFilterTools: any valid JSON in, valid JSON out, never a panic.
func FuzzFilterTools(f *testing.F) {
	f.Add([]byte(listAnswer("1", toolGetInv, toolSet, toolSearch, toolDrop)))
	f.Add([]byte("[" + listAnswer("1", toolSet) + "]"))
	f.Add([]byte(`{"result":{"tools":[1,{"name":"set_price"},[]]}}`))
	f.Add([]byte(`{"result":{"tools":[],"CacheScope":"public","cacheScope":null},"result":{"tools":[{"name":"search"}]}}`))
	m, err := NewMCP(testMCPConfig())
	require.NoError(f, err)
	g := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	f.Fuzz(func(t *testing.T, msg []byte) {
		out, err := m.filterTools(g, msg)
		if err != nil {
			return
		}
		require.True(t, json.Valid(out), "FilterTools(%q) = %q, not JSON", msg, out)
		again, _ := m.filterTools(g, out)
		require.Equal(t, out, again, "FilterTools is not idempotent on %q", msg)
	})
}

// TestFilterToolsCacheScope: a filtered tools/list result depends on who
// asks, so the filter marks it cacheScope "private" (MCP 2026-07-28,
// caching: such a result "MAY be cached and reused only within the same
// authorization context"), also when this caller happened to lose no tool:
// a shared cache must not hand a caller's list to another. Only the result's
// own cacheScope changes; results without a tools array are left alone.
func TestFilterToolsCacheScope(t *testing.T) {
	m := mustMCP(t, testMCPConfig())
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	result := func(members string) string { return `{"jsonrpc":"2.0","id":1,"result":{` + members + `}}` }
	tools := `"tools":[` + toolSet + `,` + toolSearch + `]`
	kept := `"tools":[` + toolSearch + `]`
	tests := []struct {
		name string
		msg  string
		want string
	}{
		{"public made private", result(tools + `,"cacheScope":"public","ttlMs":60000`),
			result(kept + `,"cacheScope":"private","ttlMs":60000`)},
		{"public first", result(`"ttlMs":0,"cacheScope":"public",` + tools), result(`"ttlMs":0,"cacheScope":"private",` + kept)},
		{"public, nothing removed", result(kept + `,"cacheScope":"public"`), result(kept + `,"cacheScope":"private"`)},
		{"absent: added", result(tools), result(kept + `,"cacheScope":"private"`)},
		{"absent, empty list: added", result(`"tools":[]`), result(`"tools":[],"cacheScope":"private"`)},
		{"not a string", result(`"cacheScope":null,` + tools), result(`"cacheScope":"private",` + kept)},
		{"unknown value", result(`"cacheScope":"shared",` + tools), result(`"cacheScope":"private",` + kept)},
		{"duplicate", result(`"cacheScope":"private",` + tools + `,"cacheScope":"public"`),
			result(`"cacheScope":"private",` + kept + `,"cacheScope":"private"`)},
		{"case variant, which Go decoders read", result(tools + `,"CacheScope":"public"`),
			result(kept + `,"CacheScope":"private","cacheScope":"private"`)},
		{"spaces around", "{\"id\":1,\"result\":{ \"cacheScope\" : \"public\" , \"tools\" : [] }}",
			"{\"id\":1,\"result\":{ \"cacheScope\" : \"private\" , \"tools\" : [] }}"},
		{"batch: each list", "[" + result(tools+`,"cacheScope":"public"`) + "," + result(kept) + "]",
			"[" + result(kept+`,"cacheScope":"private"`) + "," + result(kept+`,"cacheScope":"private"`) + "]"},

		// Controls: already private stays byte for byte; other results and
		// nested members are not the list's cacheScope.
		{"already private", result(kept + `,"cacheScope":"private"`), result(kept + `,"cacheScope":"private"`)},
		{"already private, escaped", result(kept + `,"cacheScope":"priv\u0061te"`), result(kept + `,"cacheScope":"priv\u0061te"`)},
		{"not a tools result", result(`"resources":[],"cacheScope":"public"`), result(`"resources":[],"cacheScope":"public"`)},
		{"error response", `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x","data":{"cacheScope":"public"}}}`,
			`{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x","data":{"cacheScope":"public"}}}`},
		{"nested member", result(`"tools":[{"name":"search","_meta":{"cacheScope":"public"}}],"cacheScope":"private"`),
			result(`"tools":[{"name":"search","_meta":{"cacheScope":"public"}}],"cacheScope":"private"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.filterTools(reader, []byte(tt.msg))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			assert.True(t, json.Valid(got), "output is not JSON")
		})
	}
}

// TestFilterToolsListCaching: through the middleware, a filtered tools/list
// answer, JSON or SSE, says cacheScope "private" and is not storable by a
// shared cache (RFC 9111 §5.2.2.7 private; no-store left as it is). Without
// the filter, and for answers it does not rewrite, nothing changes.
func TestFilterToolsListCaching(t *testing.T) {
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	on := testMCPConfig()
	on.FilterToolsList = true
	upstream := `{"jsonrpc":"2.0","id":1,"result":{"tools":[` + toolSet + `,` + toolSearch + `],"cacheScope":"public","ttlMs":60000}}`
	filtered := `{"jsonrpc":"2.0","id":1,"result":{"tools":[` + toolSearch + `],"cacheScope":"private","ttlMs":60000}}`
	tests := []struct {
		name         string
		filter       bool
		sse          bool
		status       int
		body         string // the request
		cacheControl []string
		wantCache    string
		wantAnswer   string
	}{
		{"json, public", true, false, 200, bodyToolsList, []string{"public, max-age=60"}, "private, max-age=60", filtered},
		{"json, none", true, false, 200, bodyToolsList, nil, "private", filtered},
		{"json, no-store kept", true, false, 200, bodyToolsList, []string{"no-store"}, "no-store", filtered},
		{"json, private kept", true, false, 200, bodyToolsList, []string{"private, max-age=60"}, "private, max-age=60", filtered},
		{"json, qualified private is not private", true, false, 200, bodyToolsList,
			[]string{`private="Set-Cookie, Authorization", max-age=60`}, "private, max-age=60", filtered},
		{"json, directives are case-insensitive", true, false, 200, bodyToolsList, []string{"PUBLIC, Max-Age=60"}, "private, Max-Age=60", filtered},
		{"json, several lines", true, false, 200, bodyToolsList, []string{"public", "max-age=60, s-maxage=600"},
			"private, max-age=60, s-maxage=600", filtered},
		{"sse, no-cache", true, true, 200, bodyToolsList, []string{"no-cache"}, "private, no-cache", filtered},

		// Controls.
		{"filter off", false, false, 200, bodyToolsList, []string{"public, max-age=60"}, "public, max-age=60", upstream},
		{"filter off, sse", false, true, 200, bodyToolsList, []string{"no-cache"}, "no-cache", upstream},
		{"not a tools/list request", true, false, 200, bodyGetInv, []string{"public, max-age=60"}, "public, max-age=60", upstream},
		{"error status", true, false, 500, bodyToolsList, []string{"public, max-age=60"}, "public, max-age=60", upstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testMCPConfig()
			if tt.filter {
				cfg = on
			}
			srv := httptest.NewServer(authAs(reader, mustMCP(t, cfg).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				for _, v := range tt.cacheControl {
					w.Header().Add("Cache-Control", v)
				}
				if tt.sse {
					w.Header().Set("Content-Type", "text/event-stream")
					w.WriteHeader(tt.status)
					_, _ = io.WriteString(w, "event: message\ndata: "+upstream+"\n\n")
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, upstream)
			}))))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(tt.body))
			res, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			require.Equal(t, tt.status, res.StatusCode, "status")
			assert.Equal(t, tt.wantCache, strings.Join(res.Header.Values("Cache-Control"), ", "), "Cache-Control")
			want := tt.wantAnswer
			if tt.sse {
				want = "event: message\ndata: " + want + "\n\n"
			}
			assert.Equal(t, want, string(body))
		})
	}
}
