package scopes

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type nopMetrics struct{}

func (nopMetrics) ObserveDecision(string, string, string, time.Duration) {}

// BenchmarkDecisions measures the scope middlewares with decision events in
// use (a metrics hook, a JSON audit log to io.Discard) beside the same
// middlewares without ("none").
func BenchmarkDecisions(b *testing.B) {
	audit := slog.New(slog.NewJSONHandler(io.Discard, nil))
	hooks := []struct {
		name string
		fn   DecisionFunc
	}{
		{"none", nil},
		{"metrics", MetricsDecisions(nopMetrics{})},
		{"slog_json", SlogDecisions(audit)},
	}
	for _, hk := range hooks {
		b.Run("mcp_tools_call_300B/"+hk.name, func(b *testing.B) {
			cfg := testMCPConfig()
			cfg.OnDecision = hk.fn
			benchmarkHandler(b, cfg, bodyTypical)
		})
	}
	for _, hk := range hooks {
		b.Run("route/"+hk.name, func(b *testing.B) {
			rt, err := NewRoute(RouteConfig{Scopes: []string{"inventory:read"}, OnDecision: hk.fn})
			if err != nil {
				b.Fatal(err)
			}
			h := rt.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := httptest.NewRequest(http.MethodGet, "/items", nil)
			r = r.WithContext(NewContext(context.Background(), &Grant{Scopes: []string{"inventory:read"}, Subject: "alice"}))
			w := httptest.NewRecorder()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h.ServeHTTP(w, r)
			}
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		})
	}
}
