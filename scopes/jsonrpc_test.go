package scopes

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
		{"lone surrogate becomes U+FFFD", `{"method":"tools/call","params":{"name":"a\ud800b"}}`, []call{{"tools/call", "a\uFFFDb"}}, nil},
		{"notification", bodyInitialized, []call{{method: "notifications/initialized"}}, nil},
		{"response", bodyClientReply, []call{{}}, nil},
		{"other method's params unchecked", `{"method":"x","params":{"name":1,"Name":2}}`, []call{{method: "x"}}, nil},
		{"batch", "[" + bodyGetInv + ", " + bodyPing + "]", []call{{"tools/call", "get_inventory"}, {method: "ping"}}, nil},
		{"nested batch element", `[[` + bodyPing + `]]`, nil, ErrMalformed},
		{"Method", `{"Method":"tools/call"}`, nil, ErrMalformed},
		{"METHOD", `{"METHOD":"tools/call"}`, nil, ErrMalformed},
		{"Params", `{"method":"ping","Params":{}}`, nil, ErrMalformed},
		{"Kelvin sign folds? not in method", `{"method":"ping","\u212aey":1}`, []call{{method: "ping"}}, nil},
		{"nAme", `{"method":"tools/call","params":{"nAme":"x","name":"y"}}`, nil, ErrMalformed},
		{"name number", `{"method":"tools/call","params":{"name":1}}`, nil, ErrMalformed},
		{"method null", `{"method":null}`, nil, ErrMalformed},
		{"duplicate params", `{"method":"tools/call","params":{"name":"a"},"params":{"name":"b"}}`, nil, ErrMalformed},
		{"deep nesting in arguments", `{"method":"tools/call","params":{"arguments":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `,"name":"t"}}`,
			[]call{{"tools/call", "t"}}, nil},
		{"not JSON", `{method:"tools/call"}`, nil, errNotJSON},
		{"number", `42`, nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extract([]byte(tt.body))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("message %d = %q, want %q", i, got[i], tt.want[i])
				}
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
	} {
		f.Add([]byte(s))
	}
	m, err := NewMCP(testMCPConfig())
	if err != nil {
		f.Fatal(err)
	}
	g := &Grant{Scopes: []string{"inventory:read"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := extract(body)
		ref, refOK := reference(body)
		if !json.Valid(body) {
			if !errors.Is(err, errNotJSON) {
				t.Fatalf("invalid JSON accepted: %v", err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !refOK {
			t.Fatalf("accepted %q, which decoders read differently or not at all", body)
		}
		if len(got) != len(ref) {
			t.Fatalf("%d messages, reference %d", len(got), len(ref))
		}
		for i := range got {
			if got[i] != ref[i] {
				t.Fatalf("message %d: got %q, reference %q", i, got[i], ref[i])
			}
		}
		// The decision must not panic, and must match AllowsTool for one call.
		msgs, _ := parseMessages(body, nil)
		_, derr := m.decide(g, msgs, true)
		if len(got) == 1 && got[0].method == methodToolsCall && (derr == nil) != m.AllowsTool(g, got[0].tool) {
			t.Fatalf("decide = %v, AllowsTool(%q) = %v", derr, got[0].tool, m.AllowsTool(g, got[0].tool))
		}
	})
}

func TestSkipString(t *testing.T) {
	var inputs []string
	for n := 0; n < 40; n++ {
		for _, tail := range []string{``, `\`, `\\`, `"`, `\"`, `\\"`, `"\\\"`} {
			inputs = append(inputs, strings.Repeat("a", n)+tail, tail+strings.Repeat("é", n)+tail)
		}
	}
	for _, s := range inputs {
		q, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		b := append(append([]byte{}, q...), `,"\"x\\"`...)
		if got := skipString(b, 0); got != len(q) {
			t.Errorf("skipString(%s) = %d, want %d", b, got, len(q))
		}
	}
}
