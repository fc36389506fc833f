//go:build rsguard

package perfanchors

// Instructions per request, counted by callgrind (.perf/count.sh), which
// unlike time does not move with the machine's load: TestCount serves
// COUNT_N requests of one contender inside countLoop, and count.sh counts
// the instructions inside the Guard's middleware (inside countLoop for the
// floor and the bare handler).

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
)

// countLoop serves n requests of c: the one function count.sh counts for
// the floor and the bare handler.
//
//go:noinline
func countLoop(c contender, req *http.Request, n int) int {
	bad := 0
	for i := 0; i < n; i++ {
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
	req := newReq(c.tok)
	// Warm-up, outside the count: the cache, the recorded answers, the key set.
	if bad := countLoop(c, req, 200); bad != 0 {
		t.Fatalf("%s: %d of 200 answered otherwise", name, bad)
	}
	if bad := countLoop(c, req, n); bad != 0 {
		t.Fatalf("%s: %d of %d answered otherwise", name, bad, n)
	}
}
