package check

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestText(t *testing.T) {
	assert.Equal(t, "ab\uFFFD", Text("ab\xff"))
	assert.Equal(t, strings.Repeat("é", 128), Text(strings.Repeat("é", 129)))
	assert.Equal(t, "a"+strings.Repeat("é", 127), Text("a"+strings.Repeat("é", 200)), "cut on a rune boundary")
	assert.Len(t, Text(strings.Repeat("a", 300)), MaxText)
}

func TestIsSessionID(t *testing.T) {
	assert.True(t, IsSessionID("a-1_~!"))
	for _, bad := range []string{"", "bad id", "tab\t", "é", strings.Repeat("a", MaxText+1)} {
		assert.False(t, IsSessionID(bad), "%q", bad)
	}
	assert.True(t, IsSessionID(strings.Repeat("a", MaxText)))
}

func TestIsScopeToken(t *testing.T) {
	for _, ok := range []string{"read", "mcp:tools", "a!#[]~", "x/y", "https://api.example.com/read", "offline_access"} {
		assert.True(t, IsScopeToken(ok), "%q", ok)
	}
	for _, bad := range []string{"", "a b", `a"b`, `a\b`, "a\tb", "é", "a\x7f", "a\x00"} {
		assert.False(t, IsScopeToken(bad), "%q", bad)
	}
	// Every byte: exactly %x21 / %x23-5B / %x5D-7E.
	for c := 0; c < 256; c++ {
		want := c == 0x21 || 0x23 <= c && c <= 0x5b || 0x5d <= c && c <= 0x7e
		assert.Equal(t, want, IsScopeToken(string([]byte{byte(c)})), "byte %#x", c)
	}
}

func TestSessionTag(t *testing.T) {
	tag := SessionTag("s-1")
	assert.Len(t, tag, 16)
	assert.Equal(t, tag, SessionTag("s-1"), "stable")
	assert.NotEqual(t, tag, SessionTag("s-2"))
	assert.NotContains(t, tag, "s-1")
	// sha256("s-1")[:12], base64url: a fixed vector, so the tag never changes silently.
	assert.Equal(t, "aoQLr12MP_JBaIrr", SessionTag("s-1"))
}
