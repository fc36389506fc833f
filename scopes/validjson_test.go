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
