package apikey

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// BenchmarkAuthenticate compares the two credential paths of one
// Authenticator on the same request shape: an API key (parse, checksum,
// SHA-256, store lookup, constant-time compare, policy, Grant) and bearer
// JWTs (validate.Validator.Authenticate plus Grant) per signing algorithm.
func BenchmarkAuthenticate(b *testing.B) {
	f := newFixture(b)
	a := mustNew(b, f.config())
	run := func(name string, header, value string) {
		b.Run(name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Header.Set(header, value)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("apikey", "X-API-Key", f.keys["valid"])
	run("apikey_deprecated", "X-API-Key", f.keys["deprecated"])
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		run("jwt_"+alg, "Authorization", "Bearer "+f.is.TokenWith(validatetest.TokenOptions{Alg: alg}, map[string]any{"scope": "tools:read"}))
	}
}

// BenchmarkMiddleware is the full middleware round trip, response recorder
// included, for a key and a JWT.
func BenchmarkMiddleware(b *testing.B) {
	f := newFixture(b)
	h := mustNew(b, f.config()).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range []struct{ name, header, value string }{
		{"apikey", "X-API-Key", f.keys["valid"]},
		{"jwt_ES256", "Authorization", "Bearer " + f.is.TokenWith(validatetest.TokenOptions{Alg: "ES256"}, map[string]any{"scope": "tools:read"})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Header.Set(tc.header, tc.value)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}

// BenchmarkKeyCheck breaks the key check into its steps, and measures the
// refusals that must stay cheap (no store lookup for a typo).
func BenchmarkKeyCheck(b *testing.B) {
	key, rec := mustKey(b, testPrefix, Record{Owner: "o", Scopes: []string{"a"}})
	store, _ := NewMemoryStore(rec)
	typo := key[:len(key)-1] + flipChar(key[len(key)-1])
	ctx := context.Background()
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := Parse(testPrefix, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hash", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = HashKey(key)
		}
	})
	b.Run("lookup", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := store.Lookup(ctx, rec.Hash); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reject_checksum", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := Parse(testPrefix, typo); err == nil {
				b.Fatal("accepted")
			}
		}
	})
	b.Run("reject_garbage", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := Parse(testPrefix, "hunter2"); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
