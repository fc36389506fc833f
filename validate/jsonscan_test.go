package validate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var payloadSeeds = []string{
	`{}`,
	`{"iss":"https://as.example","aud":["a","b"],"exp":1700000000,"scope":"a b"}`,
	`{"iss":"\u0068ttps:\/\/as","sub":"caf\u00e9 \ud83d\ude00","exp":1.5e9,"x":{"y":[1,true,false,null,-0.5e-3]}}`,
	`{"aud":"x","scp":["a","a"],"exp":-1,"nbf":0,"iat":12345678901234567890}`,
	` { "exp" : "1" } `,
	`{"iss":"a","iss":"b"}`,
	`{"ISS":"a"}`,
	`[]`, `null`, `{`, `{"a":}`, `{"a":1,}`, `{"a":01}`, `{"a":"\x01"}`, `{"a":"\ud800"}`,
	`{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range payloadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p payload
		err := decodePayload(b, &p)
		valid := json.Valid(b)
		if err == nil && !valid {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		if err != nil && valid && utf8.Valid(b) && (errors.Is(err, errSyntax)) {
			t.Fatalf("refused valid JSON %q: %v", b, err)
		}
		if err != nil || !utf8.Valid(b) {
			return
		}
		// What encoding/json reads for the exact member name must agree.
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			t.Fatalf("encoding/json cannot read %q", b)
		}
		if raw, ok := m["iss"]; ok && p.seen&claimIss != 0 {
			var want string
			if json.Unmarshal(raw, &want) != nil || want != string(p.iss) {
				t.Fatalf("iss %q, encoding/json %s", p.iss, raw)
			}
		}
		if raw, ok := m["exp"]; ok && p.seen&claimExp != 0 {
			var f float64
			if json.Unmarshal(raw, &f) != nil || int64(f) != p.exp.t.Unix() {
				t.Fatalf("exp %v, encoding/json %s", p.exp.t, raw)
			}
		}
	})
}

func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{`{"alg":"RS256","kid":"k","typ":"at+jwt"}`, `{"alg":"none"}`, `{"alg":"RS256","crit":["b64"],"b64":false}`, `{"alg":1}`, `{"alg":"a","alg":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := decodeHeader(b); err == nil && !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
	})
}

func TestDecodePayloadStrictness(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{`{"iss":"a","iss":"b"}`, errDuplicate},
		{`{"exp":1,"exp":null}`, errDuplicate},
		{`{"exp":"1"}`, errType},
		{`{"aud":1}`, errType},
		{`{"aud":["a",1]}`, errType},
		{`{"scope":["a"]}`, errType},
		{`{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, errDepth},
		{`{"a":"` + "\xff" + `"}`, errSyntax},
		{`[]`, errNotObject},
		{`{} x`, errSyntax},
	} {
		var p payload
		if err := decodePayload([]byte(tc.in), &p); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.in, err, tc.want)
		}
	}
	var p payload
	if err := decodePayload([]byte(`{"ISS":"x","Exp":"y"}`), &p); err != nil || p.seen != 0 {
		t.Errorf("member names must match exactly: %v %b", err, p.seen)
	}
}
