package peerbench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// noop is the protected handler of the benchmarks, as in package validate's
// BenchmarkMiddleware.
var noop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// BenchmarkValid measures each implementation's full middleware round trip
// on a valid token, first sight: no implementation remembers verified
// tokens here (rsguard runs with Cache.Disable), so every request pays for
// the signature. Compare with BenchmarkSignatureFloor of the same run.
func BenchmarkValid(b *testing.B) {
	h := newHarness(b)
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			for _, im := range impls {
				b.Run(im.name, func(b *testing.B) {
					benchMiddleware(b, h, im, alg, h.valid[alg], http.StatusOK, false)
				})
			}
		})
	}
}

// BenchmarkReject measures each implementation refusing the bad tokens of
// the harness (all RS256, or claiming to be), and reports how many times it
// fetched the JWK Set per refusal (fetches/op).
func BenchmarkReject(b *testing.B) {
	h := newHarness(b)
	for _, bad := range h.bad {
		b.Run(bad.name, func(b *testing.B) {
			for _, im := range impls {
				b.Run(im.name, func(b *testing.B) {
					benchMiddleware(b, h, im, "RS256", bad.tok, http.StatusUnauthorized, true)
				})
			}
		})
	}
}

// BenchmarkRepeated sends the same valid RS256 token over and over, the
// pattern of an agent calling tools in a loop, to every implementation in its
// default configuration: rsguard-cached is rsguard with its verified-token
// cache (the default); the peers have no such cache and verify every time.
func BenchmarkRepeated(b *testing.B) {
	h := newHarness(b)
	for _, im := range allImpls() {
		b.Run(im.name, func(b *testing.B) {
			benchMiddleware(b, h, im, "RS256", h.valid["RS256"], http.StatusOK, false)
		})
	}
}

// BenchmarkInterleaved runs the cases of BenchmarkValid and BenchmarkReject
// again, all implementations taking turns of ten requests each (b.N
// requests per implementation in all), so that every one of them runs under
// the same machine load. It reports each implementation's wall time and
// process CPU time per request as metrics named after it ("rsguard-ns/op",
// "rsguard-cpu-ns/op"…); the benchmark's own ns/op is the time of one
// request to every implementation, and its B/op and allocs/op are summed
// likewise. On a machine shared with other work, compare these within one
// run rather than the ns/op of BenchmarkValid and BenchmarkReject, measured
// one implementation after the other; and prefer cpu-ns/op, which does not
// count the time spent waiting for a core.
func BenchmarkInterleaved(b *testing.B) {
	h := newHarness(b)
	type benchCase struct {
		name, alg, tok string
		want           int
	}
	var cases []benchCase
	for _, alg := range algs {
		cases = append(cases, benchCase{"valid_" + alg, alg, h.valid[alg], http.StatusOK})
	}
	for _, bad := range h.bad {
		cases = append(cases, benchCase{bad.name, "RS256", bad.tok, http.StatusUnauthorized})
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			benchInterleaved(b, h, tc.alg, tc.tok, tc.want)
		})
	}
}

// benchInterleaved is one case of BenchmarkInterleaved.
func benchInterleaved(b *testing.B, h *harness, alg, tok string, want int) {
	const turn = 10
	mws := make([]http.Handler, len(impls))
	for i, im := range impls {
		mws[i] = im.build(b, h.is, alg, noop)
		if got := serve(mws[i], h.valid[alg]); got != http.StatusOK {
			b.Fatalf("%s: warm-up with a valid %s token: status %d", im.name, alg, got)
		}
	}
	req := newRequest(tok)
	spent := make([]time.Duration, len(impls))
	spentCPU := make([]time.Duration, len(impls))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += turn {
		n := min(turn, b.N-done)
		for i, mw := range mws {
			start, cpu := time.Now(), startCPU()
			for range n {
				rec := httptest.NewRecorder()
				mw.ServeHTTP(rec, req)
				if rec.Code != want {
					b.Fatalf("%s: status %d, want %d", impls[i].name, rec.Code, want)
				}
			}
			spent[i] += time.Since(start)
			spentCPU[i] += cpu.elapsed()
		}
	}
	b.StopTimer()
	_, cpuOK := processCPU()
	for i, im := range impls {
		b.ReportMetric(float64(spent[i])/float64(b.N), im.name+"-ns/op")
		if cpuOK {
			b.ReportMetric(float64(spentCPU[i])/float64(b.N), im.name+"-cpu-ns/op")
		}
	}
}

// BenchmarkSignatureFloor is the bare signature verification of the valid
// tokens with the issuer's public keys (golang-jwt's signing method, as in
// package validate's benchmark of the same name): no parsing, no claims, no
// HTTP. No implementation can verify a token it has not seen for less.
func BenchmarkSignatureFloor(b *testing.B) {
	h := newHarness(b)
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			tok := h.valid[alg]
			i := strings.LastIndexByte(tok, '.')
			sig, err := jwt.NewParser().DecodeSegment(tok[i+1:])
			if err != nil {
				b.Fatal(err)
			}
			key := h.is.PublicKey(h.is.Kid(alg))
			m := jwt.GetSigningMethod(alg)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			for range b.N {
				if err := m.Verify(tok[:i], sig, key); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpu.report(b)
		})
	}
}

// benchMiddleware builds im against the harness, lets it verify one valid
// token of alg (so that every implementation holds its keys before the clock
// starts: go-oidc and auth0 fetch them on first use), then measures requests
// carrying tok, each of which must be answered with want. With fetches it
// reports the JWK Set requests the issuer received per request.
func benchMiddleware(b *testing.B, h *harness, im impl, alg, tok string, want int, fetches bool) {
	mw := im.build(b, h.is, alg, noop)
	rec := httptest.NewRecorder()
	mw.ServeHTTP(rec, newRequest(h.valid[alg]))
	if rec.Code != http.StatusOK {
		b.Fatalf("warm-up with a valid %s token: status %d", alg, rec.Code)
	}
	req := newRequest(tok)
	before := h.is.Requests(h.is.JWKSURL)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for range b.N {
		rec := httptest.NewRecorder()
		mw.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("status %d, want %d", rec.Code, want)
		}
	}
	b.StopTimer()
	cpu.report(b)
	if fetches {
		b.ReportMetric(float64(h.is.Requests(h.is.JWKSURL)-before)/float64(b.N), "fetches/op")
	}
}

// cpuClock measures the process CPU time of a benchmark loop.
type cpuClock struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuClock {
	t, ok := processCPU()
	return cpuClock{t, ok}
}

// elapsed returns the process CPU time since startCPU (0 if unknown).
func (c cpuClock) elapsed() time.Duration {
	end, ok := processCPU()
	if !c.ok || !ok {
		return 0
	}
	return end - c.start
}

// report adds cpu-ns/op: the CPU time the whole process spent per
// operation, on every core (the issuer's handler and the garbage collector
// included). On a machine shared with other work it is a steadier measure
// than ns/op, which counts the time the benchmark waits for a core.
func (c cpuClock) report(b *testing.B) {
	end, ok := processCPU()
	if c.ok && ok {
		b.ReportMetric(float64(end-c.start)/float64(b.N), "cpu-ns/op")
	}
}
