package validate_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// The checks inside the timed loops of these benchmarks use b.Fatal (b.Error
// on RunParallel's goroutines, where require must not be called), not
// testify: an assertion calls b.Helper, which takes a lock and walks the
// stack on every call, even a passing one, and would be timed with the code
// under measurement. Checks outside the loops use require.

type nopMetrics struct{}

func (nopMetrics) ObserveDecision(string, string, string, time.Duration) {}

// BenchmarkFeatures measures a Guard over the Validator with revocation and
// decision events in use, beside the same middleware without them ("none"),
// on a repeated token (the verified-token cache: the cheapest path, where any
// overhead shows most) and on first sight (RS256, no cache).
func BenchmarkFeatures(b *testing.B) {
	var issuer string // of the benchmark's test issuer
	denyList := func(b *testing.B, n int) *validate.DenyList {
		d, err := validate.NewDenyList(validate.DenyListConfig{Now: func() time.Time { return fixedNow }})
		require.NoError(b, err)
		for i := range n {
			_ = d.RevokeToken(issuer, "jti-"+strconv.Itoa(i), fixedNow.Add(time.Hour))
			_ = d.RevokeSubject(issuer, "user-"+strconv.Itoa(i), fixedNow)
		}
		return d
	}
	auditLog := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, tc := range []struct {
		name       string
		revoked    int        // entries of a DenyList as Config.Revocations; -1: none
		onDecision audit.Func // of the Guard
	}{
		{"none", -1, nil},
		{"revocations_empty", 0, nil},
		{"revocations_20k", 10000, nil},
		{"decisions_metrics", -1, audit.Count(nopMetrics{})},
		{"decisions_slog_json", -1, audit.Slog(auditLog)},
		{"all", 10000, audit.Multi(audit.Count(nopMetrics{}), audit.Slog(auditLog))},
	} {
		for _, cached := range []bool{true, false} {
			name := "cached/" + tc.name
			if !cached {
				name = "first_sight_RS256/" + tc.name
			}
			b.Run(name, func(b *testing.B) {
				is := newIssuer(b, nil)
				issuer = is.URL
				v := newValidator(b, is, func(c *validate.Config) {
					c.Cache.Disable = !cached
					if tc.revoked >= 0 {
						c.Revocations = denyList(b, tc.revoked)
					}
				})
				tok := is.TokenWith(validatetest.TokenOptions{}, map[string]any{"scope": "tools:read tools:write", "sid": "s-1"})
				h := guarded(b, v, noop, func(c *rsguard.Config) { c.OnDecision = tc.onDecision })
				req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Mcp-Session-Id", "1868a90c")
				w := httptest.NewRecorder()
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					h.ServeHTTP(w, req)
				}
				require.Equal(b, http.StatusOK, w.Code)
			})
		}
	}
}

// BenchmarkDenyList is the revocation lookup alone.
func BenchmarkDenyList(b *testing.B) {
	c := &validate.Claims{Issuer: "https://as.example", Subject: "alice", ClientID: "agent", SessionID: "s-1", ID: "jti-x", IssuedAt: fixedNow}
	for _, n := range []int{0, 1, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			d, _ := validate.NewDenyList(validate.DenyListConfig{Now: func() time.Time { return fixedNow }})
			for i := range n {
				_ = d.RevokeToken("https://as.example", "jti-"+strconv.Itoa(i), fixedNow.Add(time.Hour))
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if revoked, _ := d.Revoked(ctx, c); revoked {
						b.Error("revoked")
						return
					}
				}
			})
		})
	}
}
