package apikey

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

type nopMetrics struct{}

func (nopMetrics) ObserveDecision(string, string, string, time.Duration) {}

// BenchmarkDecisions is BenchmarkMiddleware with decision events in use (a
// metrics hook, a JSON audit log to io.Discard) beside none.
func BenchmarkDecisions(b *testing.B) {
	f := newFixture(b)
	a := mustNew(b, f.config())
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, hk := range []struct {
		name string
		fn   audit.Func
	}{
		{"none", nil},
		{"metrics", audit.Count(nopMetrics{})},
		{"slog_json", audit.Slog(logger)},
	} {
		h := newGuard(b, rsguard.Config{Authenticator: a, OnDecision: hk.fn}).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		for _, tc := range benchCredentials(f) {
			b.Run(tc.name+"/"+hk.name, func(b *testing.B) { benchServe(b, h, tc.header, tc.value) })
		}
	}
}
