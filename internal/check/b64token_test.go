package check

import (
	"strings"
	"testing"
)

// b64TokenRef is RFC 6750 §2.1's b64token, byte by byte.
func b64TokenRef(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
	}
	if i == 0 {
		return false
	}
	return strings.Trim(s[i:], "=") == ""
}

// TestB64Token puts every byte at every position of short strings, before
// and inside the padding.
func TestB64Token(t *testing.T) {
	for n := 0; n <= 11; n++ {
		for pos := 0; pos < max(n, 1); pos++ {
			for c := range 256 {
				for _, pad := range []string{"", "=", "=="} {
					b := []byte(strings.Repeat("aZ9-._~+/", 2)[:n] + pad)
					if pos < len(b) {
						b[pos] = byte(c)
					}
					if got, want := B64Token(string(b)), b64TokenRef(string(b)); got != want {
						t.Fatalf("B64Token(%q) = %t, want %t", b, got, want)
					}
				}
			}
		}
	}
	for _, s := range []string{"", "=", "==", "a=b", "a==", "eyJ.e30.c2ln", "a b", "a\x00"} {
		if got, want := B64Token(s), b64TokenRef(s); got != want {
			t.Errorf("B64Token(%q) = %t, want %t", s, got, want)
		}
	}
}

func FuzzB64Token(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	f.Add("abc==")
	f.Add("a=b")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := B64Token(s), b64TokenRef(s); got != want {
			t.Fatalf("B64Token(%q) = %t, want %t", s, got, want)
		}
	})
}

var sink bool

// BenchmarkB64Token compares the table with the ranges it replaced, on a
// token of a JWT's usual length.
func BenchmarkB64Token(b *testing.B) {
	tok := strings.Repeat("eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9_-", 19)
	b.Run("table", func(b *testing.B) {
		for range b.N {
			sink = B64Token(tok)
		}
	})
	b.Run("ref", func(b *testing.B) {
		for range b.N {
			sink = b64TokenRef(tok)
		}
	})
}
