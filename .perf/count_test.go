//go:build rsguard

package perfanchors

// Instructions per request, counted by callgrind (.perf/count.sh), which
// unlike time does not move with the machine's load: TestCount serves
// COUNT_N requests of one contender inside countLoop, and count.sh counts
// the instructions inside countLoop, for every contender: the harness's
// recorder and request set-up are in every count, as they are in every
// time of ../shared/perf.

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
)

// countLoop serves n requests of c, distinct tokens from the start-th on:
// the one function count.sh counts.
//
//go:noinline
func countLoop(c contender, req *http.Request, start, n int) int {
	bad := 0
	for i := start; i < start+n; i++ {
		if c.fn != nil {
			if c.fn() != nil {
				bad++
			}
			continue
		}
		if c.toks != nil {
			req.Header.Set("Authorization", "Bearer "+c.toks[i%len(c.toks)])
		}
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			bad++
		}
	}
	return bad
}

// warmUp is how many requests TestCount serves before the counted ones.
const warmUp = 200

func TestCount(t *testing.T) {
	name := os.Getenv("COUNT")
	if name == "" {
		t.Skip("COUNT not set: run .perf/count.sh")
	}
	n, err := strconv.Atoi(os.Getenv("COUNT_N"))
	if err != nil {
		t.Fatalf("COUNT_N: %v", err)
	}
	e := getEnv(t)
	rsFirst := newRSGuard(t, e, false)
	rsCached := newRSGuard(t, e, true)
	inRS, pubRS := splitJWS(e.tok.rs256), &e.k.rsa2048.PublicKey
	cs := map[string]contender{
		"no-middleware":      {want: 200, h: finalHandler, tok: e.tok.rs256},
		"floor-RS256":        {fn: func() error { return verifyRSAFloor(pubRS, inRS) }},
		"first-RS256":        {want: 200, h: rsFirst, tok: e.tok.rs256},
		"cached-RS256":       {want: 200, h: rsCached, tok: e.tok.rs256},
		"garbage":            {want: 401, h: rsFirst, tok: e.tok.garbage},
		"alg-none":           {want: 401, h: rsFirst, tok: e.tok.algNone},
		"hs-confusion":       {want: 401, h: rsFirst, tok: e.tok.hsConfusePEM},
		"distinct-expired":   {want: 401, h: rsFirst, toks: distinct(e.tok.expired, 2000)},
		"distinct-wrong-aud": {want: 401, h: rsFirst, toks: distinct(e.tok.wrongAud, 2000)},
	}
	c, ok := cs[name]
	if !ok {
		t.Fatalf("no contender %q", name)
	}
	if c.toks != nil && warmUp+n > len(c.toks) {
		t.Fatalf("COUNT_N=%d: at most %d, so that every request has a token of its own", n, len(c.toks)-warmUp)
	}
	req := newReq(c.tok)
	// The warm-up (the cache, the recorded answers, the key set) is counted
	// too: count.sh takes the difference between runs of N and 2N requests,
	// in which it cancels out.
	if bad := countLoop(c, req, 0, warmUp); bad != 0 {
		t.Fatalf("%s: %d of %d answered otherwise", name, bad, warmUp)
	}
	if bad := countLoop(c, req, warmUp, n); bad != 0 {
		t.Fatalf("%s: %d of %d answered otherwise", name, bad, n)
	}
}
