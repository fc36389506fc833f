//go:build rsguard

package perfanchors

// What the side-by-side harness itself costs on each path, beside the floor
// and rsguard, in interleaved rounds of one process (run by .perf/bounds.sh,
// which copies this file into a copy of ../shared/perf). A ratio target
// below the floor can only be met by a middleware whose own cost fits in
// the floor's share minus the harness's: this test prints that budget.

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHarnessBounds(t *testing.T) {
	e := getEnv(t)
	rsFirst := newRSGuard(t, e, false)
	rsCached := newRSGuard(t, e, true)

	// The Guard's own 401 to an expired token, written by a handler that
	// does nothing else: the least any middleware giving this answer
	// writes.
	rec := httptest.NewRecorder()
	rsFirst.ServeHTTP(rec, newReq(e.tok.expired))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("expired token: status %d", rec.Code)
	}
	answer401 := fixedAnswer(rec.Result().Header, rec.Body.Bytes())
	// The least RFC 6750 §3 asks of that answer: the status and the
	// challenge, no body.
	least401 := fixedAnswer(http.Header{"Www-Authenticate": rec.Result().Header.Values("Www-Authenticate")}, nil)
	// Either after the least work that can see a claim: find the payload
	// and base64url-decode it (no JSON, no checks).
	decoding := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			_, rest, _ := strings.Cut(tok, ".")
			p, _, _ := strings.Cut(rest, ".")
			var buf [1024]byte // on the stack, as rsguard decodes a header
			if len(p) > 1300 {
				http.Error(w, "too long for this handler", http.StatusBadRequest)
				return
			}
			if _, err := base64.RawURLEncoding.Decode(buf[:], []byte(p)); err != nil {
				http.Error(w, "bad", http.StatusBadRequest)
				return
			}
			next.ServeHTTP(w, r)
		})
	}

	// The least a cached path with a principal of its own per request can
	// do: find the token in a map, copy what it holds for this request into
	// a context node of its own (one allocation, as internal/reqctx does),
	// put it on the request (copied, as r.WithContext does), then the same
	// handler as harness/200.
	seen := map[string]*leastPrincipal{e.tok.rs256: {subject: "user:" + issuer + "#alice", issuer: issuer, scopes: []string{"mcp:tools.call"}}}
	leastCached := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := seen[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		n := &leastNode{Context: r.Context(), p: *p}
		n.p.scopes = append([]string(nil), p.scopes...)
		finalHandler.ServeHTTP(w, r.WithContext(n))
	})

	inRS, pubRS := splitJWS(e.tok.rs256), &e.k.rsa2048.PublicKey
	// The least a first sight can do: the signature check of the request's
	// token (split, base64url, SHA-256, RSA), no claims read, then the same
	// handler as harness/200.
	leastFirst := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		i := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
		if err != nil || verifyRSAFloor(pubRS, floorInput{signingInput: []byte(tok[:i]), sig: sig}) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		finalHandler.ServeHTTP(w, r)
	})
	// The same after the least work that can see the header and the claims:
	// base64url-decode both (no JSON, no checks).
	leastFirstClaims := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		h, rest, _ := strings.Cut(tok, ".")
		p, _, _ := strings.Cut(rest, ".")
		var buf [1024]byte
		if len(h) > 1300 || len(p) > 1300 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, herr := base64.RawURLEncoding.Decode(buf[:], []byte(h))
		_, perr := base64.RawURLEncoding.Decode(buf[:], []byte(p))
		if herr != nil || perr != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		leastFirst.ServeHTTP(w, r)
	})
	expired := distinct(e.tok.expired, 20000)
	cs := []contender{
		{name: "floor/RS256", fn: func() error { return verifyRSAFloor(pubRS, inRS) }},
		{name: "floor/RS256 again", floor: "floor/RS256", fn: func() error { return verifyRSAFloor(pubRS, inRS) }}, // the noise
		{name: "harness/200", floor: "floor/RS256", want: 200, h: finalHandler, tok: e.tok.rs256},
		{name: "harness/200+signature", floor: "floor/RS256", want: 200, h: leastFirst, tok: e.tok.rs256},
		{name: "harness/200+signature+base64", floor: "floor/RS256", want: 200, h: leastFirstClaims, tok: e.tok.rs256},
		{name: "rsguard/first/RS256", floor: "floor/RS256", want: 200, h: rsFirst, tok: e.tok.rs256},
		{name: "harness/200+least-cached", floor: "floor/RS256", want: 200, h: leastCached, tok: e.tok.rs256},
		{name: "harness/401", floor: "floor/RS256", want: 401, h: answer401, tok: e.tok.expired},
		{name: "harness/401-distinct", floor: "floor/RS256", want: 401, h: answer401, toks: expired},
		{name: "harness/401-distinct+base64", floor: "floor/RS256", want: 401, h: decoding(answer401), toks: expired},
		{name: "harness/least401-distinct+base64", floor: "floor/RS256", want: 401, h: decoding(least401), toks: expired},
		{name: "rsguard/cached/RS256", floor: "floor/RS256", want: 200, h: rsCached, tok: e.tok.rs256},
		{name: "rsguard/reject/garbage", floor: "floor/RS256", want: 401, h: rsFirst, tok: e.tok.garbage},
		{name: "rsguard/reject-distinct/expired", floor: "floor/RS256", want: 401, h: rsFirst, toks: expired},
	}
	rounds := 5
	if s := os.Getenv("ROUNDS"); s != "" {
		var err error
		if rounds, err = strconv.Atoi(s); err != nil || rounds < 1 {
			t.Fatalf("ROUNDS=%q: want a number of rounds, at least 1", s)
		}
	}
	ratio := map[string][]float64{}
	ns := map[string][]float64{}
	for range rounds {
		cur := map[string]float64{}
		for _, c := range cs {
			cur[c.name], _ = measure(c)
			ns[c.name] = append(ns[c.name], cur[c.name])
		}
		for _, c := range cs[1:] {
			ratio[c.name] = append(ratio[c.name], cur[c.name]/cur[c.floor])
		}
	}
	fmt.Printf("%-34s %10s %12s\n", "contender", "ns/op", "of floor")
	fmt.Printf("%-34s %10.0f %12s\n", cs[0].name, median(ns[cs[0].name]), "-")
	for _, c := range cs[1:] {
		r := median(ratio[c.name])
		f := fmt.Sprintf("1/%.1f", 1/r)
		if r >= 0.5 {
			f = fmt.Sprintf("%.3fx", r)
		}
		fmt.Printf("%-34s %10.0f %12s\n", c.name, median(ns[c.name]), f)
	}
	m := func(n string) float64 { return median(ratio[n]) }
	fmt.Printf("BUDGET first sight at 1.10x: %.3f of the floor left after the least first sight, %.3f after base64 of header and payload (rsguard uses %.3f more than the least)\n",
		1.10-m("harness/200+signature"), 1.10-m("harness/200+signature+base64"), m("rsguard/first/RS256")-m("harness/200+signature"))
	fmt.Printf("BUDGET cached at 1/30: %.3f of the floor left after the least cached path (rsguard uses %.3f more than it)\n",
		1.0/30-m("harness/200+least-cached"), m("rsguard/cached/RS256")-m("harness/200+least-cached"))
	fmt.Printf("BUDGET cached at 1/30: %.3f of the floor left after the harness's 200 (rsguard uses %.3f); "+
		"a distinct-token refusal at 1/20: %.3f left after the harness's 401 (rsguard uses %.3f), %.3f after base64 of the payload\n",
		1.0/30-m("harness/200"), m("rsguard/cached/RS256")-m("harness/200"),
		1.0/20-m("harness/401-distinct"), m("rsguard/reject-distinct/expired")-m("harness/401-distinct"),
		1.0/20-m("harness/401-distinct+base64"))
	fmt.Printf("BUDGET a distinct-token refusal at 1/20 with the least 401: %.3f left after base64 of the payload\n",
		1.0/20-m("harness/least401-distinct+base64"))
}

// fixedAnswer writes a 401 with the headers h and the body, as cheaply as a
// handler can: one allocation for all the header values, as the Guard's own
// replay of a recorded answer does.
func fixedAnswer(h http.Header, body []byte) http.Handler {
	var keys []string
	var vals []string
	var n []int
	for k, vs := range h {
		keys, n = append(keys, k), append(n, len(vs))
		vals = append(vals, vs...)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := w.Header()
		vs := append([]string(nil), vals...)
		j := 0
		for i, k := range keys {
			out[k] = vs[j : j+n[i] : j+n[i]]
			j += n[i]
		}
		w.WriteHeader(http.StatusUnauthorized)
		if body != nil {
			_, _ = w.Write(body)
		}
	})
}

// leastPrincipal is what leastCached keeps per token and copies per request.
type leastPrincipal struct {
	subject, issuer, clientID, tokenID string
	scopes                             []string
	expiry                             time.Time
}

// leastNode carries a request's own leastPrincipal in its context: one
// allocation for both.
type leastNode struct {
	context.Context
	p leastPrincipal
}

type leastKey struct{}

func (n *leastNode) Value(k any) any {
	if k == (leastKey{}) {
		return &n.p
	}
	return n.Context.Value(k)
}
