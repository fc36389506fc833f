package apikey

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The checks inside the timed loops of these benchmarks use b.Fatal, not
// testify: an assertion calls b.Helper, which takes a lock and walks the
// stack on every call, even a passing one, and would be timed with the code
// under measurement.

type benchCredential struct{ name, header, value string }

// benchCredentials are the request shapes of the benchmarks: a key, a
// deprecated key (with its response headers), and a bearer token of the
// fake authenticator (the cost of composing it, not of verifying a JWT).
func benchCredentials(f *fixture) []benchCredential {
	return []benchCredential{
		{"apikey", "X-Api-Key", f.keys["valid"]},
		{"apikey_deprecated", "X-Api-Key", f.keys["deprecated"]},
		{"bearer", "Authorization", "Bearer " + f.jwt("tools:read")},
	}
}

// benchServe serves one request with the credential per iteration. Once a
// key is accepted its header is gone from the request (see Authenticate):
// it is put back, without allocating, before each iteration.
func benchServe(b *testing.B, h http.Handler, header, value string) {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil).WithContext(context.Background())
	vals := []string{value}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.Header[header] = vals
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkAuthenticate compares the credential paths of one Authenticator
// on the same request shape: an API key (parse, checksum, SHA-256, store
// lookup, constant-time compare, policy, Principal) and a bearer token
// handed to the bearer authenticator.
func BenchmarkAuthenticate(b *testing.B) {
	f := newFixture(b)
	a := mustNew(b, f.config())
	for _, tc := range benchCredentials(f) {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			vals := []string{tc.value}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r.Header[tc.header] = vals
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMiddleware is the full round trip through an rsguard.Guard,
// response recorder included.
func BenchmarkMiddleware(b *testing.B) {
	f := newFixture(b)
	h := serve(b, mustNew(b, f.config()), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range benchCredentials(f) {
		b.Run(tc.name, func(b *testing.B) { benchServe(b, h, tc.header, tc.value) })
	}
}

// BenchmarkRefusal is a refused key through the Guard: the cost of an
// attacker's request.
func BenchmarkRefusal(b *testing.B) {
	f := newFixture(b)
	h := serve(b, mustNew(b, f.config()), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range []benchCredential{
		{"unknown", "X-Api-Key", f.keys["unknown"]},
		{"checksum", "X-Api-Key", f.keys["valid"][:len(f.keys["valid"])-1] + flipChar(f.keys["valid"][len(f.keys["valid"])-1])},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Header[tc.header] = []string{tc.value}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusUnauthorized {
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
