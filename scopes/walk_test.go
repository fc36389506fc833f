package scopes

import (
	"encoding/json"
	"strings"
	"testing"
)

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
