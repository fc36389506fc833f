package validate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// The checks inside the timed loops of these benchmarks use b.Fatal (b.Error
// on RunParallel's goroutines, where require must not be called), not
// testify: an assertion calls b.Helper, which takes a lock and walks the
// stack on every call, even a passing one, and would be timed with the code
// under measurement. Checks outside the loops use require.

var noop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// BenchmarkMiddleware measures the full bearer middleware round trip on a
// valid token (first sight: no cache) beside BenchmarkSignatureFloor, the bare
// signature verification of the same token with the same key. Read the ratio
// of the two within one run.
func BenchmarkMiddleware(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			is, v := benchSetup(b, func(c *validate.Config) { c.Cache.Disable = true })
			tok := is.TokenWith(validatetest.TokenOptions{Alg: alg}, map[string]any{"scope": "tools:read tools:write"})
			h := guarded(b, v, noop, nil)
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
				}
			}
		})
	}
}

// BenchmarkSignatureFloor is the floor: golang-jwt's signature check alone.
func BenchmarkSignatureFloor(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			is, _ := benchSetup(b, nil)
			tok := is.TokenWith(validatetest.TokenOptions{Alg: alg}, map[string]any{"scope": "tools:read tools:write"})
			i := strings.LastIndexByte(tok, '.')
			sig, err := jwt.NewParser().DecodeSegment(tok[i+1:])
			require.NoError(b, err)
			key := is.PublicKey(is.Kid(alg))
			m := jwt.GetSigningMethod(alg)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := m.Verify(tok[:i], sig, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReject measures refusals that must not pay for a signature.
func BenchmarkReject(b *testing.B) {
	is, v := benchSetup(b, nil)
	for _, tc := range []struct{ name, tok string }{
		{"garbage", "not.a.token"},
		{"alg_none", is.TokenWith(validatetest.TokenOptions{Alg: "none"}, nil)},
		{"unknown_kid", is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "nope"}}, nil)},
		{"wrong_audience", is.Token(map[string]any{"aud": "https://other.example/mcp"})},
		{"expired", is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()})},
		{"bad_signature", is.Token(nil)[:len(is.Token(nil))-4] + "AAAA"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := v.Verify(context.Background(), tc.tok); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// BenchmarkMiddlewareCached is the same round trip for a token seen before
// (the verified-token cache): compare with BenchmarkSignatureFloor.
func BenchmarkMiddlewareCached(b *testing.B) {
	is, v := benchSetup(b, nil)
	tok := is.Token(map[string]any{"scope": "tools:read tools:write"})
	h := guarded(b, v, noop, nil)
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkVerifyCached is Verify alone on a token seen before.
func BenchmarkVerifyCached(b *testing.B) {
	is, v := benchSetup(b, nil)
	tok := is.Token(map[string]any{"scope": "tools:read tools:write"})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParallel measures throughput with b.RunParallel: compare ns/op
// with the -cpu=1 run of the same benchmark (go test -bench Parallel -cpu 1,2).
func BenchmarkParallel(b *testing.B) {
	for _, tc := range []struct {
		name  string
		cache bool
	}{{"first_sight_RS256", false}, {"cached", true}} {
		b.Run(tc.name, func(b *testing.B) {
			is, v := benchSetup(b, func(c *validate.Config) { c.Cache.Disable = !tc.cache })
			tok := is.Token(map[string]any{"scope": "tools:read"})
			h := guarded(b, v, noop, nil)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				for pb.Next() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Error(rec.Code)
						return
					}
				}
			})
		})
	}
}

func benchSetup(b *testing.B, mod func(*validate.Config)) (*validatetest.Issuer, *validate.Validator) {
	is := newIssuer(b, nil)
	return is, newValidator(b, is, mod)
}

// BenchmarkMiddlewareReject is the whole refusal through the middleware:
// decision plus the 401 answer with its challenge.
func BenchmarkMiddlewareReject(b *testing.B) {
	is, v := benchSetup(b, nil)
	h := guarded(b, v, noop, nil)
	for _, tc := range []struct{ name, header string }{
		{"no_token", ""},
		{"garbage", "Bearer not.a.token"},
		{"alg_none", "Bearer " + is.TokenWith(validatetest.TokenOptions{Alg: "none"}, nil)},
		{"expired", "Bearer " + is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			b.ReportAllocs()
			for range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 401 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}

// BenchmarkVerify is the decision alone on a first-sight token (no cache):
// compare with BenchmarkSignatureFloor to see what verification adds to the
// signature check, and with BenchmarkMiddleware for the HTTP wrapping.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256"} {
		b.Run(alg, func(b *testing.B) {
			is, v := benchSetup(b, func(c *validate.Config) { c.Cache.Disable = true })
			tok := is.TokenWith(validatetest.TokenOptions{Alg: alg}, map[string]any{"scope": "tools:read tools:write"})
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
