package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
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
		if err != nil {
			checkRefusal(t, b, err)
			return
		}
		checkAgreesWithEncodingJSON(t, b)
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
		_, err := decodeHeader(b)
		if err != nil {
			checkRefusal(t, b, err)
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		checkAgreesWithEncodingJSON(t, b)
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

// The three tests below pin refusals of the reader, each beside positive
// controls. Together they make every header or claims set it accepts one
// that encoding/json (as Claims.Get and Claims.Decode use it) reads whole,
// with the same members, and that no two parsers read differently.

// TestDecodeDuplicateMembers: a name given twice in any object, at any
// depth and however it is escaped, is refused, so that no party reads the
// first "tid" while encoding/json reads the last.
func TestDecodeDuplicateMembers(t *testing.T) {
	many := func(n int, extra string) string {
		var b strings.Builder
		b.WriteString(`{`)
		for i := range n {
			fmt.Fprintf(&b, `"m%d":%d,`, i, i)
		}
		b.WriteString(extra + `}`)
		return b.String()
	}
	for _, tc := range []struct {
		name, in string
		want     error // nil: accepted
	}{
		{"custom claim twice", `{"sub":"s","tid":"tenant-a","tid":"tenant-b"}`, errDuplicate},
		{"escaped name", `{"tid":"tenant-a","\u0074id":"tenant-b"}`, errDuplicate},
		{"escaped name first", `{"\u0074\u0069\u0064":"tenant-a","tid":"tenant-b"}`, errDuplicate},
		{"solidus escape", `{"a/b":1,"a\/b":2}`, errDuplicate},
		{"non-ASCII escape", `{"é":1,"\u00e9":2}`, errDuplicate},
		{"pair escape", `{"😀":1,"\ud83d\ude00":2}`, errDuplicate},
		{"nested object", `{"act":{"sub":"a","sub":"b"}}`, errDuplicate},
		{"deeply nested", `{"a":{"b":{"c":[{"d":{"e":1,"f":2,"e":3}}]}}}`, errDuplicate},
		{"object in array", `{"x":[{"a":1},{"b":1,"c":2,"b":3}]}`, errDuplicate},
		{"after a nested object", `{"t":1,"x":{"t":2},"t":3}`, errDuplicate},
		{"null then value", `{"tid":null,"tid":"b"}`, errDuplicate},
		{"many members, last repeats the first", many(40, `"m0":"x"`), errDuplicate},
		{"many members nested", `{"x":` + many(3000, `"m2999":"x"`) + `}`, errDuplicate},
		{"many members, escaped repeat", many(40, `"\u006d39":"x"`), errDuplicate},
		{"many members, repeat of an escaped one", `{"\u006d\u0030":"x",` + many(40, `"y":0`)[1:], errDuplicate},
		{"many members, pair escape", many(40, `"😀":1,"\ud83d\ude00":2`), errDuplicate},
		{"registered claim nested", `{"cnf":{"jkt":"a","jkt":"b"}}`, errDuplicate},

		{"names differing in case", `{"tid":"a","TID":"b","Tid":"c"}`, nil},
		{"same name in sibling objects", `{"x":{"a":1},"y":{"a":2},"a":3}`, nil},
		{"same name in array elements", `{"x":[{"a":1},{"a":2}],"a":3}`, nil},
		{"same name at each level", `{"a":{"a":{"a":[{"a":1}]}}}`, nil},
		{"escapes of different names", `{"a\"":1,"a\\":2,"a/":3,"a\u0000":4,"a":5}`, nil},
		{"many distinct members", many(3000, `"x":{"m0":0}`), nil},
		{"many members, escaped distinct", many(40, `"\u006d40":"x","\u00e9":1,"\ud83d\ude00":2`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dup, err := dupNames([]byte(tc.in))
			if err != nil || dup != (tc.want != nil) {
				t.Fatalf("bad case: encoding/json finds a duplicate: %v, error %v", dup, err)
			}
			var p payload
			if err := decodePayload([]byte(tc.in), &p); !errors.Is(err, tc.want) {
				t.Errorf("decodePayload: got %v, want %v", err, tc.want)
			}
			hdr := `{"alg":"RS256",` + strings.TrimPrefix(tc.in, `{`)
			if _, err := decodeHeader([]byte(hdr)); !errors.Is(err, tc.want) {
				t.Errorf("decodeHeader: got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecodeLoneSurrogates: "\ud800" and "\udbff" both decode to U+FFFD in
// encoding/json, making two different strings (identities) one. A string
// with a lone surrogate, escaped or raw, is refused wherever it is: name or
// value, read or skipped.
func TestDecodeLoneSurrogates(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"high in sub", `{"sub":"u\ud800"}`, errSyntax},
		{"other high in sub", `{"sub":"u\udbff"}`, errSyntax},
		{"low alone", `{"sub":"\udc00u"}`, errSyntax},
		{"last low alone", `{"sub":"\udfff"}`, errSyntax},
		{"high then escaped BMP", `{"sub":"\ud800\u0041"}`, errSyntax},
		{"high then text", `{"sub":"\ud800x\udc00"}`, errSyntax},
		{"high then escaped backslash", `{"sub":"\ud800\\udc00"}`, errSyntax},
		{"two highs", `{"sub":"\ud800\ud800"}`, errSyntax},
		{"low then high", `{"sub":"\udc00\ud800"}`, errSyntax},
		{"upper-case hex", `{"sub":"\uD800"}`, errSyntax},
		{"in a name", `{"\ud800":1}`, errSyntax},
		{"in a skipped claim", `{"x":["a","\ud800"]}`, errSyntax},
		{"in a nested name", `{"x":{"\udbff":1}}`, errSyntax},
		{"in aud list", `{"aud":["a","\ud800"]}`, errSyntax},
		{"raw UTF-8 high surrogate", "{\"sub\":\"u\xed\xa0\x80\"}", errSyntax},
		{"raw UTF-8 low surrogate in a name", "{\"\xed\xbf\xbf\":1}", errSyntax},
		{"raw CESU-8 pair", "{\"x\":[\"\xed\xa0\xbd\xed\xb8\x80\"]}", errSyntax},
		{"truncated pair", `{"sub":"\ud83d\ude0"}`, errSyntax},

		{"escaped pair", `{"sub":"\ud83d\ude00"}`, nil},
		{"escaped pair, upper case", `{"sub":"\uD83D\uDE00","x":"\uDBFF\uDFFF"}`, nil},
		{"around the surrogates", `{"sub":"\ud7ff\ue000\uffff\u0000"}`, nil},
		{"raw 4-byte UTF-8", `{"sub":"😀","😀":["😀"]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p payload
			err := decodePayload([]byte(tc.in), &p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("decodePayload: got %v, want %v", err, tc.want)
			}
			if hdr := `{"alg":"RS256","kid":` + strings.TrimPrefix(tc.in, `{"sub":`); strings.HasPrefix(tc.in, `{"sub":`) {
				if _, err := decodeHeader([]byte(hdr)); !errors.Is(err, tc.want) {
					t.Errorf("decodeHeader(%s): got %v, want %v", hdr, err, tc.want)
				}
			}
			if err == nil && p.seen&claimSub != 0 {
				var want struct{ Sub string }
				if json.Unmarshal([]byte(tc.in), &want) != nil || want.Sub != string(p.sub) {
					t.Errorf("sub %q, encoding/json %q", p.sub, want.Sub)
				}
			}
		})
	}
	var a, b payload
	if decodePayload([]byte(`{"sub":"u\ud800"}`), &a) == nil && decodePayload([]byte(`{"sub":"u\udbff"}`), &b) == nil && string(a.sub) == string(b.sub) {
		t.Error(`"u\ud800" and "u\udbff" are accepted as the same subject`)
	}
}

// TestDecodeNumberRange: a number encoding/json cannot decode into a
// float64 (out of range: ±Inf) is refused anywhere, so that Claims.Get and
// Claims.Decode never fail on a verified token. Underflow is not an error
// for encoding/json (it reads 0), and so not for the reader.
func TestDecodeNumberRange(t *testing.T) {
	long := "1" + strings.Repeat("0", 400)
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"1e400 beside tid", `{"x":1e400,"tid":"tenant-a"}`, errSyntax},
		{"-1e400", `{"x":-1e400}`, errSyntax},
		{"1e309", `{"x":1e309}`, errSyntax},
		{"just above the largest float64", `{"x":1.7976931348623159e308}`, errSyntax},
		{"401 digits", `{"x":` + long + `}`, errSyntax},
		{"huge exponent", `{"x":1E+99999999999999999999}`, errSyntax},
		{"in a nested array", `{"x":{"y":[0,1,[-1e400]]}}`, errSyntax},
		{"in aud", `{"aud":["a",1e400]}`, errSyntax},
		{"in exp", `{"exp":1e400}`, errSyntax},

		{"1e308", `{"x":1e308,"tid":"tenant-a"}`, nil},
		{"largest float64", `{"x":-1.7976931348623157e308}`, nil},
		{"rounds to the largest float64", `{"x":1.797693134862315807e308}`, nil},
		{"underflow", `{"x":1e-400,"y":-1e-400,"z":4.9e-325}`, nil},
		{"smallest subnormal", `{"x":4.9e-324}`, nil},
		{"zero with a huge exponent", `{"x":0e99999999999999,"y":0.0E+400}`, nil},
		{"long mantissa, small exponent", `{"x":` + long + `e-400,"y":0.` + long + `e10}`, nil},
		{"308 digits", `{"x":` + long[:308] + `}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if jerr := json.Unmarshal([]byte(tc.in), &m); (jerr == nil) != (tc.want == nil) {
				t.Fatalf("bad case: encoding/json says %v", jerr)
			}
			var p payload
			if err := decodePayload([]byte(tc.in), &p); !errors.Is(err, tc.want) {
				t.Errorf("decodePayload: got %v, want %v", err, tc.want)
			}
			hdr := `{"alg":"RS256",` + strings.TrimPrefix(tc.in, `{`)
			if _, err := decodeHeader([]byte(hdr)); !errors.Is(err, tc.want) {
				t.Errorf("decodeHeader: got %v, want %v", err, tc.want)
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
					if err := decodePayload(in, &p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/member")
			})
		}
	}
}

// dupNames walks b with encoding/json's tokenizer and reports whether an
// object at any level has two members of the same name.
func dupNames(b []byte) (bool, error) {
	type frame struct {
		names map[string]bool // nil for an array
		name  bool            // the next token of this object is a name
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.names != nil && top.name {
			if name, ok := tok.(string); ok {
				if top.names[name] {
					return true, nil
				}
				top.names[name] = true
				top.name = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{names: map[string]bool{}, name: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].names != nil {
			stack[len(stack)-1].name = true
		}
	}
}

// loneSurrogate reports whether the JSON text b has a \u escape of a
// surrogate code unit that is not half of a high-low pair.
func loneSurrogate(b []byte) bool {
	hex := func(i int) rune {
		if i+4 > len(b) {
			return -1
		}
		n, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
		if err != nil {
			return -1
		}
		return rune(n)
	}
	in := false
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			in = !in
		case in && b[i] == '\\':
			i++
			if i >= len(b) || b[i] != 'u' {
				continue
			}
			r := hex(i + 1)
			i += 4
			switch {
			case 0xdc00 <= r && r <= 0xdfff:
				return true
			case 0xd800 <= r && r <= 0xdbff:
				if i+2 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					if low := hex(i + 3); 0xdc00 <= low && low <= 0xdfff {
						i += 6
						continue
					}
				}
				return true
			}
		}
	}
	return false
}

// checkRefusal fails if the reader refused as malformed (errSyntax) a
// valid UTF-8 JSON text without a lone surrogate that encoding/json reads
// whole, or refused as a duplicate one in which no name repeats.
func checkRefusal(t *testing.T, b []byte, err error) {
	t.Helper()
	if !json.Valid(b) || !utf8.Valid(b) {
		return
	}
	var m any
	switch {
	case errors.Is(err, errSyntax):
		if json.Unmarshal(b, &m) == nil && !loneSurrogate(b) {
			t.Fatalf("refused valid JSON %q: %v", b, err)
		}
	case errors.Is(err, errDuplicate):
		if dup, _ := dupNames(b); !dup {
			t.Fatalf("refused %q as a duplicate, but no name repeats", b)
		}
	}
}

// checkAgreesWithEncodingJSON fails unless encoding/json reads b, accepted
// by the reader, whole and as the reader does: valid UTF-8 without a lone
// surrogate, no member name repeated in any object, and json.Unmarshal into
// a map[string]any succeeds.
func checkAgreesWithEncodingJSON(t *testing.T, b []byte) {
	t.Helper()
	if !utf8.Valid(b) || loneSurrogate(b) {
		t.Fatalf("accepted invalid UTF-8 or a lone surrogate %q", b)
	}
	if dup, err := dupNames(b); dup || err != nil {
		t.Fatalf("accepted %q: duplicate names %v, tokenizer %v", b, dup, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		t.Fatalf("accepted %q, which encoding/json cannot read: %v", b, err)
	}
}
