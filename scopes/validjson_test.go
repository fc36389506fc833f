package scopes

import (
	"encoding/json"
	"strings"
	"testing"
)

var validJSONCases = []string{
	``, ` `, `{}`, `[]`, ` {"a" : [1, -2.5e+3, 0, true, false, null, "x"]} `, `{"a":{"b":{}}}`, `[[],[{}]]`,
	`"\u00e9\ud83d\ude00\n\"\\\/\b\f\r\t"`, `"\u00G0"`, `"\x"`, `"a` + "\x01" + `"`, "\"\xff\xfe\"", `"unterminated`,
	`01`, `-`, `-0`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1E-7`, `+1`, `0x10`, `1 2`, `tru`, `truex`, `nul`, `fals`,
	`{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a" 1}`, `{1:2}`, `[1}`, `{"a":1]`, `]`, `}`, `[`, `{`,
	"\t\n\r[ ]\n", "\u00a0[]", `NaN`, `Infinity`, `/* c */ {}`, `{"a":1}{}`,
	strings.Repeat("[", maxNestingDepth) + strings.Repeat("]", maxNestingDepth),
	strings.Repeat("[", maxNestingDepth+1) + strings.Repeat("]", maxNestingDepth+1),
	strings.Repeat(`{"a":`, maxNestingDepth) + "1" + strings.Repeat("}", maxNestingDepth),
	strings.Repeat(`{"a":`, maxNestingDepth) + "{}" + strings.Repeat("}", maxNestingDepth),
	strings.Repeat("[", maxNestingDepth-1) + "{}" + strings.Repeat("]", maxNestingDepth-1),
}

func TestValidJSON(t *testing.T) {
	for _, s := range append(validJSONCases, bodyInitialize, bodyGetInv, "["+bodyGetInv+","+bodyPing+"]") {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.60q) = %v, json.Valid = %v", s, got, want)
		}
	}
}

// FuzzValidJSON holds validJSON to json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range validJSONCases[:len(validJSONCases)-5] {
		f.Add([]byte(s))
	}
	f.Add([]byte(bodyGetInv))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, got, want)
		}
	})
}

// TestValidJSONWordBoundaries puts each interesting byte at every position
// of strings around the 8-byte word size of skipPlain.
func TestValidJSONWordBoundaries(t *testing.T) {
	special := []byte{0x00, 0x1f, 0x20, '"', '\\', 0x7f, 0x80, 0xa2, 0xdc, 0x9f, 0xff, 'a'}
	for n := 1; n <= 26; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range special {
				s := []byte(strings.Repeat("x", n))
				s[pos] = c
				for _, doc := range [][]byte{
					append(append([]byte{'"'}, s...), '"'),
					append(append([]byte(`{"k":"`), s...), `"}`...),
					append(append([]byte(`["\n`), s...), `\u0041"]`...),
				} {
					if got, want := validJSON(doc), json.Valid(doc); got != want {
						t.Errorf("validJSON(%q) = %v, json.Valid = %v", doc, got, want)
					}
				}
			}
		}
	}
}
