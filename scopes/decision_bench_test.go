package scopes

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

type nopMetrics struct{}

func (nopMetrics) ObserveDecision(string, string, string, time.Duration) {}

// BenchmarkDecisions measures the scope middlewares with decision events in
// use (a metrics hook, a JSON audit log to io.Discard) beside the same
// middlewares without ("none").
func BenchmarkDecisions(b *testing.B) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	hooks := []struct {
		name string
		fn   audit.Func
	}{
		{"none", nil},
		{"metrics", audit.Count(nopMetrics{})},
		{"slog_json", audit.Slog(logger)},
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
			require.NoError(b, err)
			h := rt.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := httptest.NewRequest(http.MethodGet, "/items", nil)
			r = r.WithContext(rsguard.NewContext(context.Background(), &rsguard.Principal{Scopes: []string{"inventory:read"}, Subject: "alice"}))
			w := httptest.NewRecorder()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h.ServeHTTP(w, r)
			}
			require.Equal(b, http.StatusOK, w.Code)
		})
	}
}
