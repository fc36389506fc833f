package rsmeta

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsScopeToken(t *testing.T) {
	for _, s := range []string{"a", "tools:write", "https://api.example.com/read", "!#[]~", "offline_access"} {
		assert.True(t, IsScopeToken(s), "IsScopeToken(%q) = false", s)
	}
	for _, s := range []string{"", "a b", `a"b`, `a\b`, "a\tb", "é", "a\x7f"} {
		assert.False(t, IsScopeToken(s), "IsScopeToken(%q) = true", s)
	}
}
