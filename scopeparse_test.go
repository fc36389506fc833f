package rsguard_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/check"
)

func TestParseScopes(t *testing.T) {
	tests := []struct {
		name             string
		in               string
		granted, dropped []string
	}{
		{"empty", "", nil, nil},
		{"one", "read", []string{"read"}, nil},
		{"two", "read write", []string{"read", "write"}, nil},
		{"duplicates once, first order", "b a b a", []string{"b", "a"}, nil},
		{"double space drops the empty token", "a  b", []string{"a", "b"}, []string{""}},
		{"leading and trailing space", " a ", []string{"a"}, []string{"", ""}},
		{"tab is not a separator", "a\tb c", []string{"c"}, []string{"a\tb"}},
		{"newline is not a separator", "a\nb", nil, []string{"a\nb"}},
		{"quote", `a "b"`, []string{"a"}, []string{`"b"`}},
		{"backslash", `a b\c`, []string{"a"}, []string{`b\c`}},
		{"non-ASCII", "a ſcope", []string{"a"}, []string{"ſcope"}},
		{"control", "a \x00 b", []string{"a", "b"}, []string{"\x00"}},
		{"DEL", "a \x7f", []string{"a"}, []string{"\x7f"}},
		{"all printable specials", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", []string{"!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			granted, dropped := rsguard.ParseScopes(tt.in)
			if len(tt.granted) == 0 {
				assert.Empty(t, granted)
			} else {
				assert.Equal(t, tt.granted, granted)
			}
			assert.Equal(t, tt.dropped, dropped)
		})
	}
}

func TestParseScopeListNeverSplits(t *testing.T) {
	granted, dropped := rsguard.ParseScopeList([]string{"a b"})
	assert.Empty(t, granted, "a one-element array is not split")
	assert.Equal(t, []string{"a b"}, dropped)
	granted, dropped = rsguard.ParseScopeList([]string{"a b", "c"})
	assert.Equal(t, []string{"c"}, granted, "nor is a longer one")
	assert.Equal(t, []string{"a b"}, dropped)
	granted, dropped = rsguard.ParseScopeList([]string{"c", "", "c", "d\u00e9"})
	assert.Equal(t, []string{"c"}, granted)
	assert.Equal(t, []string{"", "d\u00e9"}, dropped)
}

// FuzzParseScopes: whatever the input, every granted token is an RFC 6749
// §3.3 scope-token, granted once, and granted plus dropped account for every
// single-space-separated piece.
func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"", "a b", "a  b", "a\tb", `"x" y`, "ſ a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		granted, dropped := rsguard.ParseScopes(s)
		seen := map[string]bool{}
		for _, g := range granted {
			require.True(t, check.IsScopeToken(g), "granted %q is not a scope token", g)
			require.False(t, seen[g], "granted %q repeated", g)
			seen[g] = true
		}
		if s == "" {
			return
		}
		for _, piece := range strings.Split(s, " ") {
			require.True(t, seen[piece] || slices.Contains(dropped, piece), "piece %q neither granted nor dropped", piece)
		}
	})
}

func ExampleParseScopes() {
	granted, dropped := rsguard.ParseScopes("tools:read  tools:write \"admin\" tools:read")
	fmt.Printf("%q %q\n", granted, dropped)
	// Output:
	// ["tools:read" "tools:write"] ["" "\"admin\""]
}

func ExampleParseScopeList() {
	granted, dropped := rsguard.ParseScopeList([]string{"tools:read", "tools:write admin"})
	fmt.Printf("%q %q\n", granted, dropped)
	// Output:
	// ["tools:read"] ["tools:write admin"]
}
