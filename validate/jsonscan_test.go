package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/internal/strictjson"
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

// FuzzDecodePayload holds the claims policy to encoding/json: whatever it
// accepts, json.Unmarshal reads whole, with the same registered claims. (That
// the lexer under it agrees with encoding/json is FuzzReader's, in
// internal/strictjson.)
func FuzzDecodePayload(f *testing.F) {
	for _, s := range payloadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p payload
		err := decodePayload(b, &p)
		if err != nil {
			checkRefusal(t, b, err)
			return
		}
		checkAgreesWithEncodingJSON(t, b)
		// What encoding/json reads for the exact member name must agree.
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(b, &m), "encoding/json cannot read %q", b)
		if raw, ok := m["iss"]; ok && p.seen&claimIss != 0 {
			var want string
			require.NoError(t, json.Unmarshal(raw, &want), "iss %q, encoding/json %s", p.iss, raw)
			require.Equal(t, want, string(p.iss), "iss, encoding/json %s", raw)
		}
		if raw, ok := m["aud"]; ok && p.seen&claimAud != 0 {
			var one string
			var list []string
			if json.Unmarshal(raw, &one) == nil {
				list = []string{one}
			} else {
				require.NoError(t, json.Unmarshal(raw, &list), "aud %q, encoding/json %s", p.aud, raw)
			}
			require.Len(t, p.aud, len(list), "aud %q, encoding/json %s", p.aud, raw)
			for i := range list {
				require.Equal(t, list[i], string(p.aud[i]), "aud %q, encoding/json %s", p.aud, raw)
			}
		}
		if raw, ok := m["exp"]; ok && p.seen&claimExp != 0 {
			var f float64
			require.NoError(t, json.Unmarshal(raw, &f), "exp %v, encoding/json %s", p.exp.t, raw)
			require.Equal(t, int64(f), p.exp.t.Unix(), "exp %v, encoding/json %s", p.exp.t, raw)
		}
	})
}

func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{`{"alg":"RS256","kid":"k","typ":"at+jwt"}`, `{"alg":"none"}`, `{"alg":"RS256","crit":["b64"],"b64":false}`, `{"alg":1}`, `{"alg":"a","alg":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err != nil {
			checkRefusal(t, b, err)
			return
		}
		checkAgreesWithEncodingJSON(t, b)
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(b, &m), "encoding/json cannot read %q", b)
		var kid string
		raw, ok := m["kid"]
		require.Equal(t, ok && json.Unmarshal(raw, &kid) == nil, h.hasKid, "kid %q present, encoding/json %s", h.kid, raw)
		require.Equal(t, kid, string(h.kid), "kid, encoding/json %s", raw)
	})
}

// checkRefusal fails if a refusal is not one of the policy's or the
// lexer's, or if the policy refused as malformed a valid UTF-8 JSON text.
func checkRefusal(t *testing.T, b []byte, err error) {
	t.Helper()
	switch {
	case errors.Is(err, strictjson.ErrSyntax):
		if utf8.Valid(b) {
			require.False(t, json.Valid(b), "refused valid JSON %q: %v", b, err)
		}
	case errors.Is(err, errNotObject):
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			require.Nil(t, m, "refused %q as not an object", b)
		}
	case errors.Is(err, errType), errors.Is(err, strictjson.ErrDuplicate), errors.Is(err, strictjson.ErrDepth),
		errors.Is(err, strictjson.ErrSurrogate), errors.Is(err, strictjson.ErrRange):
	default:
		require.Failf(t, "unexpected error", "%q: unexpected error %v", b, err)
	}
}

// checkAgreesWithEncodingJSON fails unless encoding/json reads b, accepted
// by the policy, whole: valid UTF-8, and json.Unmarshal into a
// map[string]any succeeds.
func checkAgreesWithEncodingJSON(t *testing.T, b []byte) {
	t.Helper()
	require.True(t, utf8.Valid(b), "accepted invalid UTF-8 %q", b)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "accepted %q, which encoding/json cannot read", b)
	require.NotNil(t, m, "accepted %q, which encoding/json cannot read", b)
}

func TestDecodePayloadStrictness(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{`{"iss":"a","iss":"b"}`, strictjson.ErrDuplicate},
		{`{"exp":1,"exp":null}`, strictjson.ErrDuplicate},
		{`{"exp":"1"}`, errType},
		{`{"aud":1}`, errType},
		{`{"aud":["a",1]}`, errType},
		{`{"scope":["a"]}`, errType},
		{`{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, strictjson.ErrDepth},
		{`{"a":"` + "\xff" + `"}`, strictjson.ErrSyntax},
		{`[]`, errNotObject},
		{`{} x`, strictjson.ErrSyntax},
	} {
		var p payload
		assert.ErrorIs(t, decodePayload([]byte(tc.in), &p), tc.want, tc.in)
	}
	var p payload
	assert.NoError(t, decodePayload([]byte(`{"ISS":"x","Exp":"y"}`), &p), "member names must match exactly")
	assert.Zero(t, p.seen, "member names must match exactly: seen %b", p.seen)
}

// TestDecodeStrict: the lexer's refusals hold in the header and the claims
// set, in registered claims and in the members skipped, beside positive
// controls that encoding/json reads alike. (internal/strictjson has the
// full tables.) Together they make every header or claims set accepted one
// that encoding/json (as Claims.Get and Claims.Decode use it) reads whole,
// with the same members, and that no two parsers read differently.
func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		name, members string
		want          error // nil: accepted
	}{
		{"custom claim twice", `"tid":"tenant-a","tid":"tenant-b"`, strictjson.ErrDuplicate},
		{"escaped name", `"tid":"tenant-a","\u0074id":"tenant-b"`, strictjson.ErrDuplicate},
		{"nested object", `"act":{"sub":"a","sub":"b"}`, strictjson.ErrDuplicate},
		{"object in array", `"x":[{"a":1},{"b":1,"c":2,"b":3}]`, strictjson.ErrDuplicate},
		{"registered claim nested", `"cnf":{"jkt":"a","jkt":"b"}`, strictjson.ErrDuplicate},
		{"lone surrogate", `"sid":"u\ud800"`, strictjson.ErrSurrogate},
		{"lone surrogate skipped", `"x":["a","\udc00"]`, strictjson.ErrSurrogate},
		{"lone surrogate in a name", `"\udbff":1`, strictjson.ErrSurrogate},
		{"raw UTF-8 surrogate", "\"sid\":\"u\xed\xa0\x80\"", strictjson.ErrSyntax},
		{"1e400 beside tid", `"x":1e400,"tid":"tenant-a"`, strictjson.ErrRange},
		{"-1e400 nested", `"x":{"y":[0,1,[-1e400]]}`, strictjson.ErrRange},
		{"1e400 in exp", `"exp":1e400`, strictjson.ErrRange},
		{"nested too deeply", `"x":` + strings.Repeat("[", 32) + strings.Repeat("]", 32), strictjson.ErrDepth},

		{"names differing in case", `"tid":"a","TID":"b","Tid":"c"`, nil},
		{"same name at each level", `"a":{"a":{"a":[{"a":1}]}}`, nil},
		{"escaped pair", `"sid":"\ud83d\ude00"`, nil},
		{"underflow and the largest float64", `"x":[1e-400,-1.7976931348623157e308]`, nil},
		{"nested to the limit", `"x":` + strings.Repeat("[", 31) + strings.Repeat("]", 31), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payloadJSON := `{"sub":"s",` + tc.members + `}`
			var p payload
			assert.ErrorIs(t, decodePayload([]byte(payloadJSON), &p), tc.want, "decodePayload")
			_, err := decodeHeader([]byte(`{"alg":"RS256",` + tc.members + `}`))
			assert.ErrorIs(t, err, tc.want, "decodeHeader")
			if tc.want == nil {
				checkAgreesWithEncodingJSON(t, []byte(payloadJSON))
			}
		})
	}
}

// manyMembers is a claims set of n distinct members of a few bytes each,
// the most names an attacker fits in a token of a given size.
func manyMembers(n int) []byte {
	b := []byte(`{"sub":"s"`)
	for i := range n {
		b = append(b, `,"`...)
		b = strconv.AppendInt(b, int64(i), 36)
		b = append(b, `":0`...)
	}
	return append(b, '}')
}

// BenchmarkDecodePayloadMembers: the duplicate check runs before the
// signature is checked, on attacker-chosen input, so its cost per member
// must not grow with the number of members (compare ns/member across the
// sizes: 3000 members is a 16 KiB payload).
func BenchmarkDecodePayloadMembers(b *testing.B) {
	for _, n := range []int{10, 300, 3000} {
		for _, nested := range []bool{false, true} {
			in := manyMembers(n)
			name := fmt.Sprintf("members=%d", n)
			if nested {
				in = append(append([]byte(`{"x":`), in...), '}')
				name += "/nested"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(in)))
				for range b.N {
					var p payload
					// b.Fatal, not testify, in the timed loop: an assertion
					// calls b.Helper (a lock and a stack walk) even when it
					// passes, and would be timed with decodePayload.
					if err := decodePayload(in, &p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/member")
			})
		}
	}
}
