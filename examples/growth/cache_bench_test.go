package growth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// stride walks the tokens in an order that defeats the CPU caches: a prime
// that divides none of the sizes.
const stride = 7919

// BenchmarkCachedTokens measures the verified-token cache holding 1k, 10k
// and 100k distinct live tokens (CacheOptions raised so that all of them
// fit): B/entry is the heap the cache retains per token (the token's bytes
// included: each is a copy, as a request's header would be), ns/op the time
// of a request with one of them, taken in a scattered order, through an
// rsguard.Guard and a route scope. The time should not grow with the
// entries; the memory should grow linearly.
func BenchmarkCachedTokens(b *testing.B) {
	s := newSigner(b, 0)
	all := s.tokens(b, 100_000, nil)
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			headers := make([]string, n)
			for i, t := range all[:n] {
				headers[i] = "Bearer " + t
			}
			v := newValidator(b, validate.Config{
				Issuer: s.issuer, Keys: s.keys,
				Cache: validate.CacheOptions{MaxEntries: n, MaxBytes: int64(n) << 13},
			})
			before := heap()
			fill(b, v, all[:n])
			perEntry := float64(heap()-before) / float64(n)
			runtime.KeepAlive(all)

			h := guard(b, v, scopes.Middleware(scope)(discard))
			req := httptest.NewRequest(http.MethodGet, resource, nil)
			auth := []string{""}
			req.Header["Authorization"] = auth
			w := newNopWriter()
			i := 0
			for b.Loop() {
				auth[0] = headers[(i*stride)%n]
				i++
				w.reset()
				h.ServeHTTP(w, req)
				if w.status != http.StatusNoContent {
					b.Fatalf("status %d", w.status)
				}
			}
			b.ReportMetric(perEntry, "B/entry")
			runtime.KeepAlive(v)
		})
	}
}

// fill verifies every token (a copy of it) with v on every CPU, which puts
// it in v's cache.
func fill(tb testing.TB, v *validate.Validator, tokens []string) {
	tb.Helper()
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := w; i < len(tokens) && errs[w] == nil; i += len(errs) {
				_, errs[w] = v.Verify(tb.Context(), strings.Clone(tokens[i]))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
}
