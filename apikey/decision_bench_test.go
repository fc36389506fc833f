package apikey

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate/validatetest"
)

type nopMetrics struct{}

func (nopMetrics) ObserveDecision(string, string, string, time.Duration) {}

// BenchmarkDecisions is BenchmarkMiddleware with decision events in use (a
// metrics hook, a JSON audit log to io.Discard) beside none.
func BenchmarkDecisions(b *testing.B) {
	f := newFixture(b)
	audit := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, hk := range []struct {
		name string
		fn   scopes.DecisionFunc
	}{
		{"none", nil},
		{"metrics", scopes.MetricsDecisions(nopMetrics{})},
		{"slog_json", scopes.SlogDecisions(audit)},
	} {
		cfg := f.config()
		cfg.OnDecision = hk.fn
		h := mustNew(b, cfg).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		for _, tc := range []struct{ name, header, value string }{
			{"apikey", "X-API-Key", f.keys["valid"]},
			{"jwt_ES256", "Authorization", "Bearer " + f.is.TokenWith(validatetest.TokenOptions{Alg: "ES256"}, map[string]any{"scope": "tools:read"})},
		} {
			b.Run(tc.name+"/"+hk.name, func(b *testing.B) {
				r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
				r.Header.Set(tc.header, tc.value)
				r = r.WithContext(context.Background())
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
}
