package validate

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/rsguard/rsguard/internal/strictjson"
)

// FuzzWithoutValue feeds arbitrary answers and tokens to withoutValue, which
// drops the top-level members of an introspection answer whose value is the
// token. Either it returns the answer unchanged, or a JSON object the strict
// reader reads whole, with the same members but those whose value is the
// token (and at least one was dropped). Seeds are below and in
// testdata/fuzz/FuzzWithoutValue.
func FuzzWithoutValue(f *testing.F) {
	for _, seed := range []struct{ answer, tok string }{
		{`{"active":true,"jti":"tok-1","sub":"alice"}`, "tok-1"},
		{`{"active":true,"jti":"\u0074ok-1"}`, "tok-1"},
		{`{"a":"tok","a":"tok"}`, "tok"},
		{`{"x":{"jti":"tok"},"y":["tok"],"z":"tok"}`, "tok"},
		{`{"<&>":"tok","k":1}`, "tok"},
		{`{"active":true}`, ""},
		{`"tok"`, "tok"},
	} {
		f.Add([]byte(seed.answer), seed.tok)
	}
	f.Fuzz(func(t *testing.T, answer []byte, tok string) {
		out := withoutValue(answer, tok)
		if bytes.Equal(out, answer) {
			return
		}
		if tok == "" {
			t.Fatalf("changed %q for an empty token", answer)
		}
		// answer was an object the strict reader reads whole.
		r := strictjson.NewReader(answer)
		if r.Skip() != nil {
			t.Fatalf("changed %q, which the strict reader refuses", answer)
		}
		r = strictjson.NewReader(out)
		if r.Skip() != nil {
			t.Fatalf("%q became %q, which the strict reader refuses", answer, out)
		}
		var in, got map[string]json.RawMessage
		if err := json.Unmarshal(answer, &in); err != nil {
			t.Fatalf("%q: %v", answer, err)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		dropped := 0
		for name, val := range in {
			var s string
			isTok := json.Unmarshal(val, &s) == nil && s == tok && len(val) > 0 && val[0] == '"'
			kept, ok := got[name]
			switch {
			case isTok && ok:
				t.Fatalf("%q: member %q with the token kept in %q", answer, name, out)
			case isTok:
				dropped++
			case !ok || !bytes.Equal(kept, val):
				t.Fatalf("%q: member %q lost or changed in %q", answer, name, out)
			}
		}
		if dropped == 0 || len(got) != len(in)-dropped {
			t.Fatalf("%q became %q: dropped %d", answer, out, dropped)
		}
	})
}
