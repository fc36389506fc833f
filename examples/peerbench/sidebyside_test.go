package peerbench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestSideBySide measures, the way the shared harness ../shared/perf does
// (testing.Benchmark in interleaved rounds in one process, each ratio
// against the floor of the same round, medians of the rounds), what issue 14
// asks of its benchmarks, all through the full middleware — an
// rsguard.Guard over a validate.Validator, then the route scope
// (scopes.Middleware) — as a server uses it:
//
//   - a cached JWT beside a cached introspected opaque token, each against
//     the bare RS256 signature check of the JWT (the floor of a first sight),
//     and the one against the other;
//   - a DPoP request (a bound JWT from the cache, and a proof never seen, as
//     every proof must be) against the bare signature check of its proof
//     with the proof's algorithm: ES256, EdDSA, and RS256 with DPOP_RS256=1
//     (signing a fresh RS256 proof per iteration costs ~1.3 ms, so it is
//     left out by default);
//   - a DPoP proof refused before its signature (made for another URL)
//     against the same floor.
//
// It takes a minute or two and runs only when asked:
//
//	ROUNDS=3 go test -run '^TestSideBySide$' -count=1 -v ./peerbench
//
// TestSideBySideWiring checks, untimed, that every contender here is
// answered as the measurement expects.
func TestSideBySide(t *testing.T) {
	rounds, err := strconv.Atoi(os.Getenv("ROUNDS"))
	if err != nil || rounds < 1 {
		t.Skip("a measurement of a minute or more: run with ROUNDS=3 (and DPOP_RS256=1 for RS256 proofs)")
	}
	s := newSideBySide(t, noop, os.Getenv("DPOP_RS256") == "1")
	cs := s.contenders()
	intro0 := s.introCalls.Load()
	if intro0 != 1 {
		t.Fatalf("introspection endpoint called %d times before the measurement, want 1", intro0)
	}

	ns := map[string][]float64{}
	ratio := map[string][]float64{}    // per round: contender ÷ its floor
	cpuRatio := map[string][]float64{} // the same in process CPU time
	over := map[string][]float64{}     // per round: contender − its floor, in ns
	allocs := map[string]int64{}
	pairs := [][2]string{{"cached/introspected", "cached/jwt"}}
	pairRatio, pairCPU := map[[2]string][]float64{}, map[[2]string][]float64{}
	for range rounds {
		cur, curCPU := map[string]float64{}, map[string]float64{}
		for _, c := range cs {
			x, cpu, a, err := c.measure()
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			cur[c.name], curCPU[c.name] = x, cpu
			ns[c.name] = append(ns[c.name], x)
			allocs[c.name] = a
		}
		for _, c := range cs {
			if c.floor != "" {
				ratio[c.name] = append(ratio[c.name], cur[c.name]/cur[c.floor])
				if curCPU[c.floor] > 0 {
					cpuRatio[c.name] = append(cpuRatio[c.name], curCPU[c.name]/curCPU[c.floor])
				}
				over[c.name] = append(over[c.name], cur[c.name]-cur[c.floor])
			}
		}
		for _, p := range pairs {
			pairRatio[p] = append(pairRatio[p], cur[p[0]]/cur[p[1]])
			if curCPU[p[1]] > 0 {
				pairCPU[p] = append(pairCPU[p], curCPU[p[0]]/curCPU[p[1]])
			}
		}
	}
	if n := s.introCalls.Load(); n != intro0 {
		t.Errorf("introspection endpoint called %d times during the measurement, want 0: the cache did not answer", n-intro0)
	}

	fmt.Printf("%d rounds; ratios: median [min–max] of the rounds, in wall-clock time (as ../shared/perf) and in process CPU time; +µs: median extra wall-clock µs per request over the floor\n", rounds)
	fmt.Printf("%-24s %9s %-22s %-22s %-17s %7s %7s\n", "contender", "ns/op", "x floor", "x floor (cpu)", "floor", "+µs", "allocs")
	for _, c := range cs {
		r, rc, f, o := "-", "-", "-", "-"
		if c.floor != "" {
			r, f = spread(ratio[c.name]), c.floor
			o = fmt.Sprintf("%.1f", median(over[c.name])/1e3)
			if len(cpuRatio[c.name]) > 0 {
				rc = spread(cpuRatio[c.name])
			}
		}
		fmt.Printf("%-24s %9.0f %-22s %-22s %-17s %7s %7d\n", c.name, median(ns[c.name]), r, rc, f, o, allocs[c.name])
	}
	for _, p := range pairs {
		cpu := "-"
		if len(pairCPU[p]) > 0 {
			cpu = spread(pairCPU[p])
		}
		fmt.Printf("%s ÷ %s: %s; in CPU time %s\n", p[0], p[1], spread(pairRatio[p]), cpu)
	}
	m := func(n string) float64 { return median(ratio[n]) }
	summary := fmt.Sprintf("SUMMARY cached introspected/JWT %.2f; cached JWT 1/%.0f of floor, introspected 1/%.0f; DPoP ES256 %.3fx its signature floor, EdDSA %.3fx",
		median(pairRatio[pairs[0]]), 1/m("cached/jwt"), 1/m("cached/introspected"), m("dpop/ES256"), m("dpop/EdDSA"))
	if s.rs256 {
		summary += fmt.Sprintf(", RS256 %.3fx", m("dpop/RS256"))
	}
	fmt.Printf("%s; refused proof (wrong htu) 1/%.0f of floor; introspection calls %d\n",
		summary, 1/m("dpop/reject/wrong-htu"), s.introCalls.Load())
}

// TestSideBySideWiring proves, without timing anything, that the
// contenders of TestSideBySide do the work they are named after: the
// cached JWT, the introspected token and every DPoP request reach the
// protected handler through the Guard and the route scope; the
// introspection endpoint was asked once, and a second request is answered
// from the cache; a proof is good once (which is why the measurement signs a
// fresh one per request); the refused proof is refused as a bad proof; and
// each floor verifies its signature.
func TestSideBySideWiring(t *testing.T) {
	s := newSideBySide(t, reached, true)
	for _, c := range s.contenders() {
		t.Run(c.name, func(t *testing.T) {
			if c.fn != nil {
				if err := c.fn(); err != nil {
					t.Fatalf("floor: %v", err)
				}
				return
			}
			for range 2 { // the second one from the caches
				req := c.req()
				if c.proofs != nil {
					req.Header["Dpop"] = c.proofs(1)
				}
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, req)
				want := c.want
				if want == http.StatusOK {
					want = accepted // reached the handler
				}
				if rec.Code != want {
					t.Fatalf("status %d, want %d (WWW-Authenticate %q)", rec.Code, want, rec.Header().Values("WWW-Authenticate"))
				}
				if want == http.StatusUnauthorized && !strings.Contains(strings.Join(rec.Header().Values("WWW-Authenticate"), ", "), `error="invalid_dpop_proof"`) {
					t.Errorf("refused without invalid_dpop_proof: %q", rec.Header().Values("WWW-Authenticate"))
				}
			}
		})
	}
	if n := s.introCalls.Load(); n != 1 {
		t.Errorf("introspection endpoint called %d times, want 1 (warm-up; then the cache)", n)
	}
	if p := s.introProblem.Load(); p != nil {
		t.Errorf("introspection endpoint: %s", *p)
	}
	t.Run("replayed proof", func(t *testing.T) {
		c := s.dpop["ES256"]
		req := dpopReq(s.boundTok["ES256"], c.proof(s.boundTok["ES256"]))
		for i, want := range []int{accepted, http.StatusUnauthorized} {
			rec := httptest.NewRecorder()
			s.dpopH.ServeHTTP(rec, req)
			if rec.Code != want {
				t.Fatalf("use %d: status %d, want %d", i+1, rec.Code, want)
			}
		}
	})
}

// sideBySide is the setup of TestSideBySide: one issuer, three middlewares
// (a Validator with default settings, one that introspects opaque tokens,
// one that accepts DPoP), the tokens and the DPoP clients.
type sideBySide struct {
	is             *validatetest.Issuer
	jwtH, introH   http.Handler
	dpopH          http.Handler
	jwtTok, opaque string
	introCalls     atomic.Int64
	introProblem   atomic.Pointer[string]
	rs256          bool
	dpop           map[string]*dpopClient // by proof alg
	boundTok       map[string]string      // a token bound to dpop[alg]'s key
	dpopAlgs       []string
}

// sbsRouteScope is the scope the route requires (the tokens have
// tokenScope).
const sbsRouteScope = "tools:read"

// newSideBySide builds the setup, with next as the protected handler, and
// sends each middleware one good request so that keys, tokens and the
// introspection answer are in their caches.
func newSideBySide(tb testing.TB, next http.Handler, rs256 bool) *sideBySide {
	tb.Helper()
	s := &sideBySide{rs256: rs256, dpop: map[string]*dpopClient{}, boundTok: map[string]string{}}
	s.is = validatetest.NewIssuer(tb, &validatetest.Options{PlainHTTP: true, Algorithms: algs, Audience: []string{resource}})
	// An hour of validity (the default is 5 minutes): a run of many rounds
	// must not see the cached token expire.
	exp := time.Now().Add(time.Hour).Unix()
	s.jwtTok = s.is.Token(map[string]any{"scope": tokenScope, "exp": exp})

	// The authorization server's introspection endpoint (RFC 7662), on
	// 127.0.0.1: it authenticates the resource server (client_secret_basic)
	// and counts the requests.
	const clientID, secret = "rs-1", "rs-1-secret"
	s.opaque = "op_" + base64.RawURLEncoding.EncodeToString(randomBytes(tb, 32))
	answer, err := json.Marshal(map[string]any{
		"active": true, "iss": s.is.URL, "aud": resource, "scope": tokenScope, "sub": "alice",
		"client_id": "agent-1", "token_type": "Bearer", "iat": time.Now().Unix(), "exp": exp,
	})
	if err != nil {
		tb.Fatal(err)
	}
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.introCalls.Add(1)
		id, pw, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil || !ok || id != clientID || pw != secret || r.PostForm.Get("token") != s.opaque {
			msg := fmt.Sprintf("unexpected request: %s %s, client %q, form ok %t", r.Method, r.URL.Path, id, err == nil)
			s.introProblem.CompareAndSwap(nil, &msg)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}))
	tb.Cleanup(as.Close)

	s.jwtH = guardOver(tb, validate.Config{Issuer: s.is.URL, Resource: resource, Algorithms: algs}, next)
	s.introH = guardOver(tb, validate.Config{
		Issuer: s.is.URL, Resource: resource, Algorithms: algs,
		Introspection: &validate.Introspection{
			Endpoint: as.URL + "/introspect", ClientID: clientID, ClientSecret: secret,
			// One answer for the whole run (the default, 1 min, would make
			// a long run ask again, once a minute).
			CacheTTL: time.Hour,
		},
	}, next)
	// Proofs live 60 s (the default), and are remembered that long plus
	// the leeway: room for every proof of a few rounds.
	s.dpopH = guardOver(tb, validate.Config{
		Issuer: s.is.URL, Resource: resource, Algorithms: algs,
		DPoP: validate.DPoPConfig{Mode: validate.DPoPAllowed, MaxProofs: 4 << 20},
	}, next)

	s.dpopAlgs = []string{"ES256", "EdDSA"}
	if rs256 {
		s.dpopAlgs = append(s.dpopAlgs, "RS256")
	}
	for _, alg := range s.dpopAlgs {
		c := newDPoPClient(tb, alg)
		s.dpop[alg] = c
		s.boundTok[alg] = s.is.Token(map[string]any{"scope": tokenScope, "exp": exp, "cnf": map[string]any{"jkt": c.jkt}})
	}

	// Warm-up: keys fetched, tokens verified and cached, the answer cached.
	warm := func(name string, h http.Handler, req *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			tb.Fatalf("warm-up %s: status %d (WWW-Authenticate %q)", name, rec.Code, rec.Header().Values("WWW-Authenticate"))
		}
	}
	warm("jwt", s.jwtH, newRequest(s.jwtTok))
	warm("introspected", s.introH, newRequest(s.opaque))
	for _, alg := range s.dpopAlgs {
		warm("dpop "+alg, s.dpopH, dpopReq(s.boundTok[alg], s.dpop[alg].proof(s.boundTok[alg])))
	}
	return s
}

// guardOver is the middleware a server builds: the Validator of cfg as the
// Authenticator of an rsguard.Guard, then the route scope, then next.
func guardOver(tb testing.TB, cfg validate.Config, next http.Handler) http.Handler {
	tb.Helper()
	v, err := validate.New(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	meta, err := rsmeta.WellKnownURL(resource)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: meta})
	if err != nil {
		tb.Fatal(err)
	}
	return g.Middleware(scopes.Middleware(sbsRouteScope)(next))
}

// sbsContender is one line of TestSideBySide: a middleware and its request,
// or a bare function (a floor).
type sbsContender struct {
	name  string
	floor string // the contender of the same round it is divided by
	want  int    // the status every request must get
	h     http.Handler
	req   func() *http.Request
	// proofs, if set, returns n fresh DPoP proofs: request i carries the
	// i-th (made before the clock runs).
	proofs func(n int) []string
	fn     func() error // instead of h: a bare function
}

func (s *sideBySide) contenders() []sbsContender {
	cs := []sbsContender{
		{name: "floor/RS256", fn: sigFloor(s.jwtTok, jwt.SigningMethodRS256, s.is.PublicKey(s.is.Kid("RS256")))},
		{name: "cached/jwt", floor: "floor/RS256", want: http.StatusOK, h: s.jwtH, req: func() *http.Request { return newRequest(s.jwtTok) }},
		{name: "cached/introspected", floor: "floor/RS256", want: http.StatusOK, h: s.introH, req: func() *http.Request { return newRequest(s.opaque) }},
	}
	for _, alg := range s.dpopAlgs {
		c, tok := s.dpop[alg], s.boundTok[alg]
		p := c.proof(tok)
		cs = append(cs,
			sbsContender{name: "floor/dpop-" + alg, fn: sigFloor(p, c.method, c.priv.Public())},
			sbsContender{name: "dpop/" + alg, floor: "floor/dpop-" + alg, want: http.StatusOK, h: s.dpopH,
				req: func() *http.Request { return dpopReq(tok) },
				proofs: func(n int) []string {
					ps := make([]string, n)
					for i := range ps {
						ps[i] = c.proof(tok)
					}
					return ps
				}},
		)
	}
	// Refused before its signature: a proof made for another URL. Each
	// request sends the same proof; nothing of it is remembered (the replay
	// store sees only proofs that passed every other check).
	c, tok := s.dpop["ES256"], s.boundTok["ES256"]
	wrongHTU := c.proofFor(tok, "https://other.example/mcp")
	cs = append(cs, sbsContender{name: "dpop/reject/wrong-htu", floor: "floor/dpop-ES256", want: http.StatusUnauthorized, h: s.dpopH,
		req: func() *http.Request { return dpopReq(tok, wrongHTU) }})
	return cs
}

// measure runs c under testing.Benchmark and returns its wall-clock ns,
// process CPU ns (0 if unknown) and allocations per request.
func (c sbsContender) measure() (nsPerOp, cpuPerOp float64, allocs int64, err error) {
	var failed atomic.Pointer[string]
	r := testing.Benchmark(func(b *testing.B) { c.run(b, &failed, &cpuPerOp) })
	if p := failed.Load(); p != nil {
		return 0, 0, 0, fmt.Errorf("%s", *p)
	}
	if r.N == 0 {
		return 0, 0, 0, fmt.Errorf("not measured")
	}
	return float64(r.T.Nanoseconds()) / float64(r.N), cpuPerOp, r.AllocsPerOp(), nil
}

// run is the benchmark of c: b.N requests (or calls of c.fn), each checked.
// A failure is put in failed (testing.Benchmark does not report it). If
// cpuPerOp is not nil, it gets the process CPU time per request of this
// call (testing.Benchmark's last call, the one it reports, writes it last).
func (c sbsContender) run(b *testing.B, failed *atomic.Pointer[string], cpuPerOp *float64) {
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		failed.CompareAndSwap(nil, &msg)
		b.Fatal(msg)
	}
	var req *http.Request
	var proofs []string
	if c.h != nil {
		req = c.req()
	}
	if c.proofs != nil {
		proofs = c.proofs(b.N)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := range b.N {
		if c.fn != nil {
			if err := c.fn(); err != nil {
				fail("%v", err)
			}
			continue
		}
		if proofs != nil {
			req.Header["Dpop"] = proofs[i : i+1]
		}
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			fail("request %d: status %d, want %d (WWW-Authenticate %q)", i, rec.Code, c.want, rec.Header().Values("WWW-Authenticate"))
		}
	}
	b.StopTimer()
	if cpuPerOp != nil {
		*cpuPerOp = float64(cpu.elapsed()) / float64(b.N)
	}
}

// BenchmarkSideBySide runs the contenders of TestSideBySide one after the
// other, as plain benchmarks: for profiling one of them, e.g.
//
//	go test -run '^$' -bench 'SideBySide/dpop/ES256$' -cpuprofile cpu.out ./peerbench
//
// Compare ratios with TestSideBySide, whose rounds interleave them.
func BenchmarkSideBySide(b *testing.B) {
	s := newSideBySide(b, noop, true)
	for _, c := range s.contenders() {
		b.Run(c.name, func(b *testing.B) { c.run(b, new(atomic.Pointer[string]), nil) })
	}
}

// sigFloor returns the bare signature check of the compact JWS tok with
// golang-jwt's method m (as BenchmarkSignatureFloor does): what no
// verification of tok can skip.
func sigFloor(tok string, m jwt.SigningMethod, key crypto.PublicKey) func() error {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return func() error { return err }
	}
	input := tok[:i]
	return func() error { return m.Verify(input, sig, key) }
}

// median returns the median of xs.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread formats the median of xs with their range.
func spread(xs []float64) string {
	return fmt.Sprintf("%.3f [%.3f–%.3f]", median(xs), slices.Min(xs), slices.Max(xs))
}

// dpopReq is a POST to the resource with `Authorization: DPoP tok` and the
// proofs given.
func dpopReq(tok string, proofs ...string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return req
}

// dpopClient is a DPoP client's proof key (RFC 9449 §4), made here with
// the standard library and golang-jwt, independently of package validate.
type dpopClient struct {
	method jwt.SigningMethod
	priv   crypto.Signer
	header string // the base64url protected header, the same for every proof
	jkt    string // RFC 7638 thumbprint of the public key
	prefix string // of every jti: random, so two runs never share one
	seq    atomic.Int64
}

func newDPoPClient(tb testing.TB, alg string) *dpopClient {
	tb.Helper()
	c := &dpopClient{prefix: base64.RawURLEncoding.EncodeToString(randomBytes(tb, 9))}
	var jwk map[string]string
	var thumb []string // the members of the RFC 7638 thumbprint
	b64 := base64.RawURLEncoding.EncodeToString
	switch alg {
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		c.priv, c.method = k, jwt.SigningMethodES256
		jwk = map[string]string{"kty": "EC", "crv": "P-256",
			"x": b64(k.X.FillBytes(make([]byte, 32))), "y": b64(k.Y.FillBytes(make([]byte, 32)))}
		thumb = []string{"crv", "kty", "x", "y"}
	case "EdDSA":
		pub, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		c.priv, c.method = k, jwt.SigningMethodEdDSA
		jwk = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}
		thumb = []string{"crv", "kty", "x"}
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		c.priv, c.method = k, jwt.SigningMethodRS256
		jwk = map[string]string{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
		thumb = []string{"e", "kty", "n"}
	default:
		tb.Fatalf("no DPoP key for %s", alg)
	}
	req := map[string]string{}
	for _, m := range thumb {
		req[m] = jwk[m]
	}
	canon, err := json.Marshal(req) // sorted keys, no white space: RFC 7638 §3
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(canon)
	c.jkt = b64(sum[:])
	h, err := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": jwk})
	if err != nil {
		tb.Fatal(err)
	}
	c.header = b64(h)
	return c
}

// proof returns a fresh proof (a new jti, iat now) of a POST to the
// resource with tok.
func (c *dpopClient) proof(tok string) string { return c.proofFor(tok, resource) }

// proofFor returns a fresh proof of a POST to htu with tok.
func (c *dpopClient) proofFor(tok, htu string) string {
	ath := sha256.Sum256([]byte(tok))
	payload := `{"htm":"POST","htu":` + strconv.Quote(htu) + `,"iat":` + strconv.FormatInt(time.Now().Unix(), 10) +
		`,"jti":"` + c.prefix + "-" + strconv.FormatInt(c.seq.Add(1), 10) + `","ath":"` + base64.RawURLEncoding.EncodeToString(ath[:]) + `"}`
	input := c.header + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := c.method.Sign(input, c.priv)
	if err != nil {
		panic(err) // not reached: the key fits the method
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func randomBytes(tb testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}
