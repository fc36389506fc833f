package strictjson

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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configs are the two ways the policies use a Reader: validate's (the
// defaults) and scopes' (encoding/json's depth, invalid UTF-8 read as
// encoding/json reads it; a small depth here, to reach the limit).
var configs = []struct {
	name string
	set  func(*Reader)
}{
	{"strict", func(*Reader) {}},
	{"replace", func(r *Reader) { r.MaxDepth, r.ReplaceInvalidUTF8 = 4, true }},
}

func newReader(b []byte, set func(*Reader)) *Reader {
	r := NewReader(b)
	set(&r)
	return &r
}

// walk decodes the whole text with the Reader's API, into what
// json.Unmarshal into an any yields; numbers through strconv.ParseFloat.
func walk(r *Reader) (any, error) {
	switch r.Peek() {
	case '{':
		if err := r.Open(); err != nil {
			return nil, err
		}
		m := map[string]any{}
		for {
			name, more, err := r.Member()
			if err != nil || !more {
				return m, err
			}
			v, err := walk(r)
			if err != nil {
				return nil, err
			}
			m[string(name)] = v
		}
	case '[':
		if err := r.Open(); err != nil {
			return nil, err
		}
		a := []any{}
		for {
			more, err := r.Element()
			if err != nil || !more {
				return a, err
			}
			v, err := walk(r)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case '"':
		s, err := r.String()
		return string(s), err
	case 't', 'f', 'n':
		raw, err := r.Raw()
		switch string(raw) {
		case "true":
			return true, err
		case "false":
			return false, err
		}
		return nil, err
	}
	num, err := r.Number()
	if err != nil {
		return nil, err
	}
	f, perr := strconv.ParseFloat(string(num), 64)
	if perr != nil {
		return nil, fmt.Errorf("Number returned %q: %v", num, perr)
	}
	return f, nil
}

// readAll reads b both ways, walking every value and skipping the whole,
// and fails if the two disagree.
func readAll(t *testing.T, b []byte, set func(*Reader)) (any, error) {
	t.Helper()
	v, err := walk(newReader(b, set))
	serr := newReader(b, set).Skip()
	// The two agree, unless both fail and walk misused the API.
	if err == nil || serr == nil || !errors.Is(err, errUsage) {
		require.ErrorIs(t, serr, err, "%q: walk: %v, Skip", b, err)
	}
	return v, err
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

// depthOf returns the deepest nesting of arrays and objects in b, a text
// json.Valid accepts.
func depthOf(b []byte) int {
	depth, deepest, in := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == '{' || c == '['):
			depth++
			deepest = max(deepest, depth)
		case !in && (c == '}' || c == ']'):
			depth--
		}
	}
	return deepest
}

// FuzzReader is the differential test of the lexer against encoding/json,
// in both configurations the policies use:
//   - whatever the Reader accepts (walking every value, or skipping the
//     whole), json.Unmarshal into an any accepts, and decodes to the same
//     values (numbers compared as float64, via strconv.ParseFloat);
//   - whatever json.Unmarshal accepts, the Reader accepts too, unless it has
//     a member name twice in an object, a lone surrogate escape, nesting
//     over MaxDepth or (without ReplaceInvalidUTF8) invalid UTF-8 (numbers
//     out of range encoding/json refuses itself);
//   - each refusal is the one its cause calls for.
//
// The committed corpus is in testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want any
		jerr := json.Unmarshal(b, &want)
		for _, c := range configs {
			got, err := readAll(t, b, c.set)
			r := newReader(nil, c.set)
			limit := r.MaxDepth
			if limit == 0 {
				limit = DefaultMaxDepth
			}
			if err == nil {
				require.NoError(t, jerr, "%s: accepted %q, which encoding/json refuses", c.name, b)
				require.Equal(t, want, got, "%s: %q read differently from encoding/json", c.name, b)
				if !r.ReplaceInvalidUTF8 {
					require.True(t, utf8.Valid(b), "%s: accepted invalid UTF-8 %q", c.name, b)
				}
				continue
			}
			valid := json.Valid(b)
			switch {
			case errors.Is(err, ErrDuplicate):
				dup, _ := dupNames(b)
				require.True(t, dup, "%s: %q refused as a duplicate, but no name repeats", c.name, b)
			case errors.Is(err, ErrSurrogate):
				require.True(t, loneSurrogate(b), "%s: %q refused for a lone surrogate it does not have", c.name, b)
			case errors.Is(err, ErrRange):
				require.Error(t, jerr, "%s: %q refused as out of range, but encoding/json reads it", c.name, b)
			case errors.Is(err, ErrDepth):
				if valid {
					require.Greater(t, depthOf(b), limit, "%s: %q refused as too deep", c.name, b)
				}
			case errors.Is(err, ErrSyntax):
				if r.ReplaceInvalidUTF8 || utf8.Valid(b) {
					require.False(t, valid, "%s: valid %q refused as a syntax error", c.name, b)
				}
			default:
				require.Fail(t, "unexpected error", "%s: %q: %v", c.name, b, err)
			}
			if jerr == nil && (r.ReplaceInvalidUTF8 || utf8.Valid(b)) && !loneSurrogate(b) && depthOf(b) <= limit {
				dup, _ := dupNames(b)
				require.True(t, dup, "%s: refused %q, which encoding/json reads whole: %v", c.name, b, err)
			}
		}
	})
}

// seeds are the unit cases of the tests below, and the fuzz target's.
var seeds = []string{
	``, ` `, `{}`, `[]`, ` {"a" : [1, -2.5e+3, 0, true, false, null, "x"]} `, `{"a":{"b":{}}}`, `[[],[{}]]`,
	`"\u00e9\ud83d\ude00\n\"\\\/\b\f\r\t"`, `"\u00G0"`, `"\x"`, `"a` + "\x01" + `"`, "\"\xff\xfe\"", `"unterminated`,
	`01`, `-`, `-0`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1E-7`, `+1`, `0x10`, `1 2`, `tru`, `truex`, `nul`, `fals`,
	`{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a" 1}`, `{1:2}`, `[1}`, `{"a":1]`, `]`, `}`, `[`, `{`,
	"\t\n\r[ ]\n", "\u00a0[]", `NaN`, `Infinity`, `/* c */ {}`, `{"a":1}{}`, `{"a":1} x`, `"a" "b"`,
	`{"iss":"https://as.example","aud":["a","b"],"exp":1700000000,"scope":"a b"}`,
	`{"iss":"\u0068ttps:\/\/as","sub":"caf\u00e9 \ud83d\ude00","exp":1.5e9,"x":{"y":[1,true,false,null,-0.5e-3]}}`,
	`{"a":1,"a":2}`, `{"tid":"a","\u0074id":"b"}`, `[{"a":1},{"a":1,"b":{"a":2,"a":3}}]`,
	"{\"a\xff\":1,\"a\xfe\":2}", "{\"a\xff\":1,\"a\\ufffd\":2}",
	`"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800\u00"`, `"\uD83D\uDE00"`, "\"\xed\xa0\x80\"",
	`1e400`, `-1e309`, `1.7976931348623157e308`, `1e-400`, `0e99999999999999`,
	`[[[[]]]]`, `[[[[[]]]]]`, `{"a":{"b":{"c":{"d":1}}}}`, `{"a":{"b":{"c":{"d":{}}}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_inventory","arguments":{"sku":"A-1"}}}`,
}

func TestSeedsAgainstEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		for _, c := range configs {
			v, err := readAll(t, []byte(s), c.set)
			var want any
			jerr := json.Unmarshal([]byte(s), &want)
			if err == nil {
				assert.NoError(t, jerr, "%s: %q: encoding/json", c.name, s)
				assert.Equal(t, want, v, "%s: %q read differently from encoding/json", c.name, s)
			}
		}
	}
}

// TestDuplicateMembers: a name given twice in any object, at any depth and
// however it is escaped, is refused, so that no party reads the first "tid"
// while encoding/json reads the last.
func TestDuplicateMembers(t *testing.T) {
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
		{"custom claim twice", `{"sub":"s","tid":"tenant-a","tid":"tenant-b"}`, ErrDuplicate},
		{"escaped name", `{"tid":"tenant-a","\u0074id":"tenant-b"}`, ErrDuplicate},
		{"escaped name first", `{"\u0074\u0069\u0064":"tenant-a","tid":"tenant-b"}`, ErrDuplicate},
		{"solidus escape", `{"a/b":1,"a\/b":2}`, ErrDuplicate},
		{"non-ASCII escape", `{"é":1,"\u00e9":2}`, ErrDuplicate},
		{"pair escape", `{"😀":1,"\ud83d\ude00":2}`, ErrDuplicate},
		{"nested object", `{"act":{"sub":"a","sub":"b"}}`, ErrDuplicate},
		{"deeply nested", `{"a":{"b":{"c":[{"d":{"e":1,"f":2,"e":3}}]}}}`, ErrDuplicate},
		{"object in array", `{"x":[{"a":1},{"b":1,"c":2,"b":3}]}`, ErrDuplicate},
		{"object in top-level array", `[{"b":1,"b":3}]`, ErrDuplicate},
		{"after a nested object", `{"t":1,"x":{"t":2},"t":3}`, ErrDuplicate},
		{"null then value", `{"tid":null,"tid":"b"}`, ErrDuplicate},
		{"many members, last repeats the first", many(40, `"m0":"x"`), ErrDuplicate},
		{"many members nested", `{"x":` + many(3000, `"m2999":"x"`) + `}`, ErrDuplicate},
		{"many members, escaped repeat", many(40, `"\u006d39":"x"`), ErrDuplicate},
		{"many members, repeat of an escaped one", `{"\u006d\u0030":"x",` + many(40, `"y":0`)[1:], ErrDuplicate},
		{"many members, pair escape", many(40, `"😀":1,"\ud83d\ude00":2`), ErrDuplicate},

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
			require.NoError(t, err, "bad case: encoding/json")
			require.Equal(t, tc.want != nil, dup, "bad case: encoding/json finds a duplicate")
			for _, c := range configs[:1] {
				_, err := readAll(t, []byte(tc.in), c.set)
				assert.ErrorIs(t, err, tc.want, c.name)
			}
		})
	}
}

// TestLoneSurrogates: "\ud800" and "\udbff" both decode to U+FFFD in
// encoding/json, making two different strings (identities) one. A string
// with a lone surrogate, escaped or raw, is refused wherever it is: name or
// value, read or skipped.
func TestLoneSurrogates(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"high", `{"sub":"u\ud800"}`, ErrSurrogate},
		{"other high", `{"sub":"u\udbff"}`, ErrSurrogate},
		{"low alone", `{"sub":"\udc00u"}`, ErrSurrogate},
		{"last low alone", `{"sub":"\udfff"}`, ErrSurrogate},
		{"high then escaped BMP", `{"sub":"\ud800\u0041"}`, ErrSurrogate},
		{"high then text", `{"sub":"\ud800x\udc00"}`, ErrSurrogate},
		{"high then escaped backslash", `{"sub":"\ud800\\udc00"}`, ErrSurrogate},
		{"two highs", `{"sub":"\ud800\ud800"}`, ErrSurrogate},
		{"low then high", `{"sub":"\udc00\ud800"}`, ErrSurrogate},
		{"upper-case hex", `{"sub":"\uD800"}`, ErrSurrogate},
		{"in a name", `{"\ud800":1}`, ErrSurrogate},
		{"in an array", `{"x":["a","\ud800"]}`, ErrSurrogate},
		{"in a nested name", `{"x":{"\udbff":1}}`, ErrSurrogate},
		{"top level", `"\ud800"`, ErrSurrogate},
		{"truncated pair", `{"sub":"\ud83d\ude0"}`, ErrSyntax},
		{"raw UTF-8 high surrogate", "{\"sub\":\"u\xed\xa0\x80\"}", ErrSyntax},
		{"raw UTF-8 low surrogate in a name", "{\"\xed\xbf\xbf\":1}", ErrSyntax},
		{"raw CESU-8 pair", "{\"x\":[\"\xed\xa0\xbd\xed\xb8\x80\"]}", ErrSyntax},

		{"escaped pair", `{"sub":"\ud83d\ude00"}`, nil},
		{"escaped pair, upper case", `{"sub":"\uD83D\uDE00","x":"\uDBFF\uDFFF"}`, nil},
		{"around the surrogates", `{"sub":"\ud7ff\ue000\uffff\u0000"}`, nil},
		{"raw 4-byte UTF-8", `{"sub":"😀","😀":["😀"]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, []byte(tc.in), configs[0].set)
			require.ErrorIs(t, err, tc.want)
			if err == nil {
				var want any
				assert.NoError(t, json.Unmarshal([]byte(tc.in), &want), "encoding/json")
				assert.Equal(t, want, got, "read differently from encoding/json")
			}
		})
	}
}

// TestInvalidUTF8: refused by default; with ReplaceInvalidUTF8, read as
// encoding/json reads it (each invalid byte as U+FFFD), names compared so.
func TestInvalidUTF8(t *testing.T) {
	for _, tc := range []struct {
		name, in    string
		wantReplace error
	}{
		{"value", "{\"sub\":\"a\xffb\"}", nil},
		{"name", "{\"a\xff\":1}", nil},
		{"raw surrogate", "[\"\xed\xa0\x80\"]", nil},
		{"truncated sequence", "[\"\xf0\x9f\x98\"]", nil},
		{"long value", "[\"" + strings.Repeat("x", 20) + "\xc3" + strings.Repeat("é", 10) + "\"]", nil},
		{"beside escapes", "[\"\\n\xff\\u00e9\xfe\xfe\"]", nil},
		{"two invalid names alike", "{\"a\xff\":1,\"a\xfe\":2}", ErrDuplicate},
		{"invalid and U+FFFD", "{\"a\xff\":1,\"a\uFFFD\":2}", ErrDuplicate},
		{"invalid and escaped U+FFFD", "{\"a\\ufffd\":1,\"a\xc0\":2}", ErrDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, []byte(tc.in), configs[0].set)
			assert.ErrorIs(t, err, ErrSyntax, "strict")
			got, err := readAll(t, []byte(tc.in), configs[1].set)
			require.ErrorIs(t, err, tc.wantReplace, "replace")
			if err == nil {
				var want any
				assert.NoError(t, json.Unmarshal([]byte(tc.in), &want), "replace: encoding/json")
				assert.Equal(t, want, got, "replace: read differently from encoding/json")
			}
		})
	}
}

// TestNumberRange: a number encoding/json cannot decode into a float64 (out
// of range: ±Inf) is refused anywhere. Underflow is not an error for
// encoding/json (it reads 0), and so not for the Reader.
func TestNumberRange(t *testing.T) {
	long := "1" + strings.Repeat("0", 400)
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"1e400 beside tid", `{"x":1e400,"tid":"tenant-a"}`, ErrRange},
		{"-1e400", `{"x":-1e400}`, ErrRange},
		{"1e309", `{"x":1e309}`, ErrRange},
		{"just above the largest float64", `{"x":1.7976931348623159e308}`, ErrRange},
		{"401 digits", `{"x":` + long + `}`, ErrRange},
		{"huge exponent", `{"x":1E+99999999999999999999}`, ErrRange},
		{"in a nested array", `{"x":{"y":[0,1,[-1e400]]}}`, ErrRange},
		{"top level", `1e400`, ErrRange},

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
			var want any
			jerr := json.Unmarshal([]byte(tc.in), &want)
			require.Equal(t, tc.want == nil, jerr == nil, "bad case: encoding/json says %v", jerr)
			got, err := readAll(t, []byte(tc.in), configs[0].set)
			require.ErrorIs(t, err, tc.want)
			if err == nil {
				assert.Equal(t, want, got, "read differently from encoding/json")
			}
		})
	}
}

// TestDepth: MaxDepth counts the arrays and objects open at once, the
// top-level one included, as encoding/json counts to its limit of 10000;
// frames beyond the inline ones work alike.
func TestDepth(t *testing.T) {
	nest := func(n int, inner string) string {
		return strings.Repeat(`{"a":[`, n/2) + strings.Repeat("[", n%2) + inner + strings.Repeat("]", n%2) + strings.Repeat(`]}`, n/2)
	}
	for _, tc := range []struct {
		max, n int
		inner  string
		want   error
	}{
		{0, DefaultMaxDepth, "1", nil},
		{0, DefaultMaxDepth, "", nil},
		{0, DefaultMaxDepth - 1, `{"b":2,"b":3}`, ErrDuplicate},
		{0, DefaultMaxDepth + 1, "", ErrDepth},
		{0, DefaultMaxDepth, "[]", ErrDepth},
		{1, 1, "", nil},
		{1, 1, "[]", ErrDepth},
		{100, 98, `{"x":{"x":1},"y":{"x":1},"z":1}`, nil},
		{100, 98, `{"x":{"x":1},"y":{"x":1,"x":2}}`, ErrDuplicate},
		{100, 99, `{"x":{"x":1}}`, ErrDepth},
		{100, 100, "", nil},
		{100, 101, "", ErrDepth},
		{10000, 10000, "", nil},
		{10000, 10001, "", ErrDepth},
	} {
		in := nest(tc.n, tc.inner)
		r := NewReader([]byte(in))
		r.MaxDepth = tc.max
		v, err := walk(&r)
		if !assert.ErrorIs(t, err, tc.want, "MaxDepth %d, depth %d + %q", tc.max, tc.n, tc.inner) {
			continue
		}
		r = NewReader([]byte(in))
		r.MaxDepth = tc.max
		assert.ErrorIs(t, r.Skip(), tc.want, "MaxDepth %d, depth %d + %q: Skip", tc.max, tc.n, tc.inner)
		if tc.max == 10000 {
			assert.Equal(t, json.Valid([]byte(in)), err == nil, "depth %d: json.Valid disagrees", tc.n)
		}
		if err == nil {
			var want any
			assert.NoError(t, json.Unmarshal([]byte(in), &want), "depth %d: read differently from encoding/json", tc.n)
			assert.Equal(t, want, v, "depth %d: read differently from encoding/json", tc.n)
		}
	}
}

// TestSyntax: with encoding/json's depth and reading of invalid UTF-8, the
// Reader accepts exactly what json.Valid accepts, for texts that have
// nothing it refuses by design.
func TestSyntax(t *testing.T) {
	cases := append([]string{}, seeds...)
	for _, c := range []byte{0x00, 0x1f, 0x20, '"', '\\', 0x7f, 0x80, 0xa2, 0xdc, 0x9f, 0xff, 'a'} {
		// Each interesting byte at every position of strings of up to 50
		// bytes.
		for n := 1; n <= 50; n++ {
			for pos := 0; pos < n; pos++ {
				s := []byte(strings.Repeat("x", n))
				s[pos] = c
				cases = append(cases, `"`+string(s)+`"`, `{"k":"`+string(s)+`"}`, `["\n`+string(s)+`\u0041"]`)
			}
		}
	}
	for _, s := range cases {
		b := []byte(s)
		if dup, _ := dupNames(b); dup || loneSurrogate(b) || bytes.Contains(b, []byte("e400")) || bytes.Contains(b, []byte("e309")) {
			continue
		}
		r := NewReader(b)
		r.MaxDepth, r.ReplaceInvalidUTF8 = 10000, true
		err := r.Skip()
		assert.Equal(t, json.Valid(b), err == nil, "%q: %v, json.Valid", s, err)
		// Without ReplaceInvalidUTF8, invalid UTF-8 is refused too.
		r = NewReader(b)
		r.MaxDepth = 10000
		err = r.Skip()
		assert.Equal(t, json.Valid(b) && utf8.Valid(b), err == nil, "%q: %v, json.Valid and utf8.Valid", s, err)
	}
}

// TestIterator pins the API the policies use.
func TestIterator(t *testing.T) {
	in := []byte(` {"a" : "x\ny", "b":[1, "s"], "c":{"d":null}} `)
	r := NewReader(in)
	require.NoError(t, r.Open())
	_, err := r.Element()
	assert.ErrorIs(t, err, errUsage, "Element in an object")
	name, ok, err := r.Member()
	require.NoError(t, err, "Member")
	require.True(t, ok, "Member")
	require.Equal(t, "a", string(name), "Member")
	str, err := r.String()
	assert.NoError(t, err, "String")
	assert.Equal(t, "x\ny", string(str), "String")
	name, _, _ = r.Member()
	require.Equal(t, "b", string(name), "Member")
	raw, err := r.Raw()
	assert.NoError(t, err, "Raw")
	assert.Equal(t, `[1, "s"]`, string(raw), "Raw")
	name, _, _ = r.Member()
	require.Equal(t, "c", string(name), "Member")
	require.Equal(t, byte('{'), r.Peek(), "Open")
	require.NoError(t, r.Open(), "Open")
	name, _, _ = r.Member()
	require.Equal(t, "d", string(name), "d")
	require.Equal(t, byte('n'), r.Peek(), "d")
	require.NoError(t, r.Skip(), "d")
	for range 2 {
		_, ok, err := r.Member()
		require.NoError(t, err, "end")
		require.False(t, ok, "end")
	}
	assert.Zero(t, r.Peek(), "not at the end")

	// Aliasing: a plain string is a sub-slice of the text.
	in = []byte(`"plain"`)
	r = NewReader(in)
	str, err = r.String()
	if assert.NoError(t, err, "String") {
		assert.Same(t, &in[1], &str[0], "String copied a plain string")
	}
	// Reading the top-level value checks what follows it.
	for _, s := range []string{`"a" x`, `1 2`, `{} {}`, `[] ]`, `null,`} {
		r = NewReader([]byte(s))
		_, err := walk(&r)
		assert.ErrorIs(t, err, ErrSyntax, "%q", s)
	}
	r = NewReader([]byte(" 12 "))
	num, err := r.Number()
	assert.NoError(t, err, "Number")
	assert.Equal(t, "12", string(num), "Number")
	r = NewReader([]byte(" null "))
	raw, err = r.Raw()
	assert.NoError(t, err, "Raw")
	assert.Equal(t, "null", string(raw), "Raw")
	r = NewReader([]byte(`[]`))
	_, _, err = r.Member()
	assert.ErrorIs(t, err, errUsage, "Member before Open")
}

// BenchmarkSkip: the walk of typical and adversarial texts.
func BenchmarkSkip(b *testing.B) {
	for _, tc := range []struct{ name, in string }{
		{"jws_header", `{"alg":"RS256","kid":"2024-05-key-1","typ":"at+jwt"}`},
		{"claims", `{"iss":"https://as.example.com/","sub":"248289761001","aud":["https://mcp.example.com/mcp"],"exp":1700003600,"iat":1700000000,"jti":"0f8c2d5a-7b1e-4f0c-9a6d-2b7e1c3d4f5a","client_id":"s6BhdRkqt3","scope":"tools:read tools:write"}`},
		{"tools_call_16KiB_string", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_inventory","arguments":{"note":"` + strings.Repeat("lorem ipsum ", 1365) + `"}}}`},
		{"escaped_16KiB_string", `["` + strings.Repeat(`a\n\u00e9`, 1365) + `"]`},
		{"nested_arrays", strings.Repeat("[", 32) + strings.Repeat("]", 32)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			in := []byte(tc.in)
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for range b.N {
				r := NewReader(in)
				r.MaxDepth = 100
				// b.Fatal, not testify, inside the timed loop: an assertion calls
				// b.Helper, which locks and walks the stack on every call.
				if err := r.Skip(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
