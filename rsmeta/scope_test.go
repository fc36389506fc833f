package rsmeta

import "testing"

func TestIsScopeToken(t *testing.T) {
	for _, s := range []string{"a", "tools:write", "https://api.example.com/read", "!#[]~", "offline_access"} {
		if !IsScopeToken(s) {
			t.Errorf("IsScopeToken(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b", `a"b`, `a\b`, "a\tb", "é", "a\x7f"} {
		if IsScopeToken(s) {
			t.Errorf("IsScopeToken(%q) = true", s)
		}
	}
}
