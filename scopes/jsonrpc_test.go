package scopes

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/strictjson"
)

// call is one message as the tests see it: its method and, for tools/call,
// its tool name.
type call struct{ method, tool string }

// extract is the extraction under test: parseMessages, and the tool name
// it recorded for tools/call.
func extract(body []byte) ([]call, error) {
	msgs, err := parseMessages(body, nil)
	if err != nil {
		return nil, err
	}
	out := make([]call, 0, len(msgs))
	for _, m := range msgs {
		var c call
		if m.method != nil {
			c.method = string(unquote(m.method))
		}
		if c.method == methodToolsCall {
			if m.nameErr != nil {
				return nil, m.nameErr
			}
			c.tool = string(unquote(m.name))
		}
		out = append(out, c)
	}
	return out, nil
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []call
		wantErr error
	}{
		{"tools/call", bodyGetInv, []call{{"tools/call", "get_inventory"}}, nil},
		{"name after arguments", `{"params":{"arguments":{"name":"decoy","n":[{"name":"x"}]},"name":"real"},"method":"tools/call","id":1,"jsonrpc":"2.0"}`,
			[]call{{"tools/call", "real"}}, nil},
		{"whitespace everywhere", " \r\n\t{ \"method\" :\n\"tools/call\" , \"params\" : { \"name\" : \"a b\" } }\n ", []call{{"tools/call", "a b"}}, nil},
		{"escapes", `{"method":"tools\u002fcall","params":{"name":"caf\u00e9 \"q\" \\ \ud83d\ude00"}}`,
			[]call{{"tools/call", "café \"q\" \\ 😀"}}, nil},
		{"raw UTF-8", `{"method":"tools/call","params":{"name":"café"}}`, []call{{"tools/call", "café"}}, nil},
		{"invalid UTF-8 becomes U+FFFD", "{\"method\":\"tools/call\",\"params\":{\"name\":\"a\xffb\"}}", []call{{"tools/call", "a\uFFFDb"}}, nil},
		{"lone surrogate", `{"method":"tools/call","params":{"name":"a\ud800b"}}`, nil, strictjson.ErrSurrogate},
		{"duplicate method", `{"method":"ping","method":"tools/call","params":{"name":"a"}}`, nil, strictjson.ErrDuplicate},
		{"duplicate method, escaped", `{"method":"ping","\u006dethod":"tools/call","params":{"name":"a"}}`, nil, strictjson.ErrDuplicate},
		{"duplicate name", `{"method":"tools/call","params":{"name":"a","name":"b"}}`, nil, strictjson.ErrDuplicate},
		{"duplicate name, escaped", `{"method":"tools/call","params":{"name":"a","\u006eame":"b"}}`, nil, strictjson.ErrDuplicate},
		{"duplicate in arguments", `{"method":"tools/call","params":{"name":"a","arguments":{"x":[{"k":1,"k":2}]}}}`, nil, strictjson.ErrDuplicate},
		{"1e400 in arguments", `{"method":"tools/call","params":{"name":"a","arguments":{"x":1e400}}}`, nil, strictjson.ErrRange},
		{"duplicate, then not JSON", `{"method":"tools/call","method":1,`, nil, errNotJSON},
		{"notification", bodyInitialized, []call{{method: "notifications/initialized"}}, nil},
		{"response", bodyClientReply, []call{{}}, nil},
		{"other method's params unchecked", `{"method":"x","params":{"name":1,"Name":2}}`, []call{{method: "x"}}, nil},
		{"batch", "[" + bodyGetInv + ", " + bodyPing + "]", []call{{"tools/call", "get_inventory"}, {method: "ping"}}, nil},
		{"nested batch element", `[[` + bodyPing + `]]`, nil, audit.ReasonInvalidRequest},
		{"Method", `{"Method":"tools/call"}`, nil, audit.ReasonInvalidRequest},
		{"METHOD", `{"METHOD":"tools/call"}`, nil, audit.ReasonInvalidRequest},
		{"Params", `{"method":"ping","Params":{}}`, nil, audit.ReasonInvalidRequest},
		{"Kelvin sign folds? not in method", `{"method":"ping","\u212aey":1}`, []call{{method: "ping"}}, nil},
		{"nAme", `{"method":"tools/call","params":{"nAme":"x","name":"y"}}`, nil, audit.ReasonInvalidRequest},
		{"name number", `{"method":"tools/call","params":{"name":1}}`, nil, audit.ReasonInvalidRequest},
		{"method null", `{"method":null}`, nil, audit.ReasonInvalidRequest},
		{"duplicate params", `{"method":"tools/call","params":{"name":"a"},"params":{"name":"b"}}`, nil, strictjson.ErrDuplicate},
		{"deep nesting in arguments", `{"method":"tools/call","params":{"arguments":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `,"name":"t"}}`,
			[]call{{"tools/call", "t"}}, nil},
		{"not JSON", `{method:"tools/call"}`, nil, errNotJSON},
		{"number", `42`, nil, audit.ReasonInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extract([]byte(tt.body))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, err, audit.ReasonInvalidRequest)
				require.Equal(t, tt.wantErr == errNotJSON, errors.Is(err, errNotJSON), "err = %v: -32700 is for what json.Valid refuses, and only that", err)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, len(tt.want), "got %q, want %q", got, tt.want)
			for i := range got {
				assert.Equal(t, tt.want[i], got[i], "message %d", i)
			}
		})
	}
}

// reference extracts the calls with encoding/json twice: exact member names
// (a map, as JavaScript's JSON.parse reads them) and Go's case-insensitive
// struct matching (as servers on encoding/json v1 read them). It reports ok
// false when the two disagree or the body is not a message or batch.
func reference(body []byte) (calls []call, ok bool) {
	var top any
	if json.Unmarshal(body, &top) != nil {
		return nil, false
	}
	var raws []json.RawMessage
	switch top.(type) {
	case map[string]any:
		raws = []json.RawMessage{body}
	case []any:
		if json.Unmarshal(body, &raws) != nil || len(raws) == 0 {
			return nil, false
		}
	default:
		return nil, false
	}
	for _, raw := range raws {
		var exact map[string]json.RawMessage
		if json.Unmarshal(raw, &exact) != nil {
			return nil, false
		}
		var folded struct {
			Method *string          `json:"method"`
			Params *json.RawMessage `json:"params"`
		}
		_ = json.Unmarshal(raw, &folded)
		var c call
		if m, has := exact["method"]; has {
			if json.Unmarshal(m, &c.method) != nil {
				return nil, false
			}
		}
		if (folded.Method == nil) != (exact["method"] == nil) || (folded.Method != nil && *folded.Method != c.method) {
			return nil, false
		}
		if c.method == methodToolsCall {
			var p map[string]json.RawMessage
			if json.Unmarshal(exact["params"], &p) != nil || p == nil {
				return nil, false
			}
			if json.Unmarshal(p["name"], &c.tool) != nil || p["name"] == nil || bytes.Equal(p["name"], []byte("null")) {
				return nil, false
			}
			var fp struct {
				Name *string `json:"name"`
			}
			if folded.Params == nil || json.Unmarshal(*folded.Params, &fp) != nil || fp.Name == nil || *fp.Name != c.tool {
				return nil, false
			}
		}
		calls = append(calls, c)
	}
	return calls, true
}

// FuzzToolCall checks the JSON-RPC extraction of the MCP middleware against
// encoding/json: whatever it accepts, both exact and case-folding decoders
// read the same methods and tool names from; what it refuses is never
// silently misread; it never panics. The committed corpus is in
// testdata/fuzz/FuzzToolCall.
func FuzzToolCall(f *testing.F) {
	for _, s := range []string{
		bodyInitialize, bodyInitialized, bodyToolsList, bodyGetInv, bodySetPrice, bodyUnknown, bodyClientReply,
		"[" + bodyGetInv + "," + bodySetPrice + "]",
		`{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call","params":{"name":"set_price"}}`,
		`{"method":"tools/call","params":{"name":"get_inventory"},"paramſ":{"name":"set_price"}}`,
		`{"method":"tools/call","params":{"name":"a","NAME":"b"}}`,
		`{"\u006dethod":"tools\/call","params":{"n\u0061me":"set\u005fprice"}}`,
		"{\"method\":\"tools/call\",\"params\":{\"name\":\"a\xffb\"}}",
		`[]`, `{}`, `null`, ``, `{"method":"tools/call"} {}`,
		`{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`,
		`{"method":"tools/call","params":{"name":"search\ud800"}}`,
		`{"method":"tools/call","params":{"name":"search","arguments":{"n":1e400,"k":1,"k":2}}}`,
	} {
		f.Add([]byte(s))
	}
	m, err := NewMCP(testMCPConfig())
	require.NoError(f, err)
	g := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := extract(body)
		ref, refOK := reference(body)
		if !json.Valid(body) {
			require.ErrorIs(t, err, errNotJSON, "invalid JSON accepted")
			return
		}
		if err != nil {
			require.ErrorIs(t, err, audit.ReasonInvalidRequest, "valid JSON refused")
			require.NotErrorIs(t, err, errNotJSON, "valid JSON refused")
			return
		}
		var v any
		require.NoError(t, json.Unmarshal(body, &v), "accepted %q, which encoding/json cannot decode", body)
		require.True(t, refOK, "accepted %q, which decoders read differently or not at all", body)
		require.Len(t, got, len(ref), "messages, reference %d", len(ref))
		for i := range got {
			require.Equal(t, ref[i], got[i], "message %d: got vs reference", i)
		}
		// The decision must not panic, and must match AllowsTool for one call.
		msgs, _ := parseMessages(body, nil)
		_, derr := m.decide(g, msgs, true)
		if len(got) == 1 && got[0].method == methodToolsCall {
			require.Equal(t, m.AllowsTool(g, got[0].tool), derr == nil, "decide = %v, AllowsTool(%q)", derr, got[0].tool)
		}
	})
}

// TestMCPRefusesAmbiguousJSON: a body that JSON decoders may read in
// different ways is refused before the server behind reads it, 400 with
// JSON-RPC -32600 "invalid request" (the JSON parses; the request cannot be
// read for sure): a member name given twice in any object at any depth,
// however escaped (encoding/json reads the last, other decoders the first),
// a lone surrogate escape ("search\ud800" is "search\uFFFD" to encoding/json
// but a name of its own to JavaScript), a number no float64 holds. The
// configuration lets unknown tools through and the caller holds every scope,
// so anything read would reach the server. Controls: what is unambiguous
// still passes, and what is not JSON at all is still -32700.
func TestMCPRefusesAmbiguousJSON(t *testing.T) {
	cfg := testMCPConfig()
	cfg.AllowUnknownTools = true
	all := &rsguard.Principal{Scopes: []string{"inventory:read", "inventory:write", "resources:read"}}
	call := func(params string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + params + `}`
	}
	tests := []struct {
		name string
		body string
		code int // the JSON-RPC error code; 0: passed to the server
	}{
		{"duplicate method", `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"set_price"}}`, -32600},
		{"duplicate method, escaped", `{"jsonrpc":"2.0","id":1,"method":"ping","\u006dethod":"tools/call","params":{"name":"set_price"}}`, -32600},
		{"duplicate name", call(`{"name":"search","name":"drop_tables"}`), -32600},
		{"duplicate name, escaped", call(`{"name":"search","n\u0061me":"drop_tables"}`), -32600},
		{"duplicate name, escaped both", call(`{"\u006eame":"search","na\u006de":"drop_tables"}`), -32600},
		{"duplicate name of another method", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"a","name":"b"}}`, -32600},
		{"duplicate params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"},"params":{"name":"drop_tables"}}`, -32600},
		{"duplicate id", `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`, -32600},
		{"duplicate jsonrpc", `{"jsonrpc":"2.0","jsonrpc":"1.0","id":1,"method":"ping"}`, -32600},
		{"duplicate in arguments", call(`{"name":"search","arguments":{"q":"bolts","q":"nuts"}}`), -32600},
		{"duplicate deep in arguments, escaped", call(`{"name":"search","arguments":{"f":[{"a":{"k":1,"\u006b":2}}]}}`), -32600},
		{"duplicate in a batch element", "[" + bodyPing + `,{"jsonrpc":"2.0","id":2,"method":"ping","id":3}]`, -32600},
		{"lone surrogate in a tool name", call(`{"name":"search\ud800"}`), -32600},
		{"lone low surrogate in a tool name", call(`{"name":"\udc00search"}`), -32600},
		{"lone surrogate in a method", `{"jsonrpc":"2.0","id":1,"method":"ping\udbff"}`, -32600},
		{"lone surrogate in arguments", call(`{"name":"search","arguments":{"q":"\ud83d"}}`), -32600},
		{"lone surrogate in a member name", call(`{"name":"search","arguments":{"\ud800":1}}`), -32600},
		{"number out of range", call(`{"name":"search","arguments":{"n":1e400}}`), -32600},

		{"not JSON", `{"jsonrpc":"2.0","id":1,`, -32700},
		{"not JSON after a duplicate", `{"jsonrpc":"2.0","id":1,"id":1,`, -32700},
		{"not JSON after a lone surrogate", `{"jsonrpc":"2.0","id":1,"method":"\ud800"`, -32700},

		{"control: tools/call", call(`{"name":"search","arguments":{"q":"bolts"}}`), 0},
		{"control: escaped names", `{"jsonrpc":"2.0","id":1,"\u006dethod":"tools\/call","params":{"n\u0061me":"se\u0061rch"}}`, 0},
		{"control: surrogate pair", call(`{"name":"search","arguments":{"q":"\ud83d\ude00","\uD83D\uDE00":1}}`), 0},
		{"control: the same name at each level", call(`{"name":"search","arguments":{"name":"x","params":{"name":"y","method":"z"}}}`), 0},
		{"control: case variants in arguments", call(`{"name":"search","arguments":{"q":1,"Q":2}}`), 0},
		{"control: invalid UTF-8 in arguments", call("{\"name\":\"search\",\"arguments\":{\"q\":\"a\xffb\",\"a\xff\":1}}"), 0},
		{"control: numbers at the edges", call(`{"name":"search","arguments":{"n":[1.7976931348623157e308,1e-400,-0]}}`), 0},
		{"control: batch", "[" + bodyPing + "," + bodySearch + "]", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := &fakeMCP{}
			srv := httptest.NewServer(authAs(all, mustMCP(t, cfg).Handler(server)))
			defer srv.Close()
			got := postMCP(t, srv, tt.body, false)
			if tt.code == 0 {
				require.Equal(t, http.StatusOK, got.status, "refused: %s", got.body)
				require.Equal(t, 1, server.calls(), "refused: %d %s", got.status, got.body)
				return
			}
			var answer struct {
				Error struct{ Code int } `json:"error"`
			}
			assert.NoError(t, json.Unmarshal([]byte(got.body), &answer), "got %d %s, want 400 with code %d", got.status, got.body, tt.code)
			assert.Equal(t, http.StatusBadRequest, got.status, "got %s, want 400 with code %d", got.body, tt.code)
			assert.Equal(t, tt.code, answer.Error.Code, "got %d %s, want 400 with code", got.status, got.body)
			assert.Zero(t, server.calls(), "the server read it")
		})
	}
}
