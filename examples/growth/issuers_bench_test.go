package growth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// BenchmarkIssuers measures a Validator trusting 1, 10 and 50 issuers
// (validate.Config.Issuers, each with a static key set): B/issuer is the
// heap validate.New retains per issuer (the key sets, built before, not
// counted), ns/op the time of a request, through an rsguard.Guard and a
// route scope, with a token of the last issuer: seen before (the cache),
// first seen (the cache off: a signature check each time), expired (refused
// without a signature), and of an issuer not trusted. None should grow with
// the issuers.
func BenchmarkIssuers(b *testing.B) {
	signers := make([]*signer, 50)
	for i := range signers {
		signers[i] = newSigner(b, i)
	}
	last := func(n int) *signer { return signers[n-1] }
	for _, n := range []int{1, 10, 50} {
		cfg := validate.Config{}
		for _, s := range signers[:n] {
			cfg.Issuers = append(cfg.Issuers, s.config())
		}
		before := heap()
		v := newValidator(b, cfg)
		perIssuer := float64(heap()-before) / float64(n)
		uncached := cfg
		uncached.Cache.Disable = true
		vu := newValidator(b, uncached)

		now := time.Now()
		stranger := newSigner(b, 99)
		cases := []struct {
			name   string
			v      *validate.Validator
			tok    string
			status int
		}{
			{"seen-before", v, last(n).token(b, 0, nil), http.StatusNoContent},
			{"first-sight", vu, last(n).token(b, 1, nil), http.StatusNoContent},
			{"expired", v, last(n).token(b, 2, map[string]any{
				"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(),
			}), http.StatusUnauthorized},
			{"untrusted-issuer", v, stranger.token(b, 3, nil), http.StatusUnauthorized},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("issuers=%d/%s", n, c.name), func(b *testing.B) {
				h := guard(b, c.v, scopes.Middleware(scope)(discard))
				req := httptest.NewRequest(http.MethodGet, resource, nil)
				req.Header.Set("Authorization", "Bearer "+c.tok)
				w := newNopWriter()
				for b.Loop() {
					w.reset()
					h.ServeHTTP(w, req)
					if w.status != c.status {
						b.Fatalf("status %d, want %d", w.status, c.status)
					}
				}
				b.ReportMetric(perIssuer, "B/issuer")
			})
		}
		runtime.KeepAlive(v)
	}
}
