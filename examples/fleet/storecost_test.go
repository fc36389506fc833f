package fleet

import (
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/apikey/sqlstore"
	"github.com/rsguard/rsguard/examples/internal/services"
	"github.com/rsguard/rsguard/redisstore"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestStoreCost measures what a shared store adds per request, as issue 15
// asks ("a Redis round trip on loopback, the local cache hit for API
// keys"), the way ../peerbench's TestSideBySide does: testing.Benchmark in
// interleaved rounds in one process, each contender divided by the floors
// of the same round, medians of the rounds. Every contender is a request
// through the full middleware a server builds — an rsguard.Guard over the
// authenticator, then the route scope (scopes.Middleware) — with a real
// redis-server and a real PostgreSQL on 127.0.0.1, started by the test
// binary:
//
//	floor/ES256, floor/RS256   the bare signature check of the JWT (golang-jwt)
//	jwt/no-revocation          a cached JWT, no revocation store
//	jwt/denylist-memory        a cached JWT, validate.DenyList
//	jwt/denylist-redis         a cached JWT, redisstore.DenyList (one MGET)
//	apikey/memory              an API key, apikey.MemoryStore
//	apikey/sql-cached          an API key, sqlstore.Store, answered from its
//	                           cache (the database is not queried: asserted)
//	apikey/sql-cached+usage    the same, with sqlstore.Recorder counting the
//	                           use (in memory; no write during the run: asserted)
//	dpop/replay-memory         a DPoP request (cached bound JWT, an ES256
//	                           proof never seen, made before the clock runs),
//	                           the Validator's in-memory replay store
//	dpop/replay-redis          the same, redisstore.ReplayStore (one SET NX)
//
// Each deny list holds 1000 entries that do not match. Each shared-store
// contender is also given as the µs it adds per request to its in-memory
// counterpart (the median over the rounds of the difference). It takes a
// minute or so and runs only when asked:
//
//	ROUNDS=3 go test -run '^TestStoreCost$' -count=1 -v ./fleet
//
// TestStoreCostWiring checks, untimed, that every contender is answered as
// the measurement expects.
func TestStoreCost(t *testing.T) {
	rounds, err := strconv.Atoi(os.Getenv("ROUNDS"))
	if err != nil || rounds < 1 {
		t.Skip("a measurement of a minute or so: run with ROUNDS=3")
	}
	s := newStoreCost(t)
	cs := s.contenders()
	db0, rec0, cmd0 := s.sql.Stats(), s.rec.Stats(), s.redisCommands(t)

	ns := map[string][]float64{}
	ratio := map[string][][2]float64{} // per round: ÷ floor/ES256, ÷ floor/RS256
	added := map[string][]float64{}    // per round: − the in-memory counterpart, ns
	allocs := map[string]int64{}
	for range rounds {
		cur := map[string]float64{}
		for _, c := range cs {
			x, a, err := c.measure()
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			cur[c.name] = x
			ns[c.name] = append(ns[c.name], x)
			allocs[c.name] = a
		}
		for _, c := range cs {
			ratio[c.name] = append(ratio[c.name], [2]float64{cur[c.name] / cur["floor/ES256"], cur[c.name] / cur["floor/RS256"]})
			if c.mem != "" {
				added[c.name] = append(added[c.name], cur[c.name]-cur[c.mem])
			}
		}
	}
	db1, rec1, cmd1 := s.sql.Stats(), s.rec.Stats(), s.redisCommands(t)
	if cmd1 == cmd0 {
		t.Error("Redis processed no command during the measurement")
	}
	if db1.Queries != db0.Queries {
		t.Errorf("the database was queried %d times during the measurement, want 0: the cache did not answer", db1.Queries-db0.Queries)
	}
	if db1.Hits == db0.Hits {
		t.Error("no lookup answered from the sqlstore cache during the measurement")
	}
	if rec1.Flushes != rec0.Flushes || rec1.Written != rec0.Written {
		t.Errorf("the Recorder wrote during the measurement (%d flushes, %d counts)", rec1.Flushes-rec0.Flushes, rec1.Written-rec0.Written)
	}
	if rec1.Recorded == rec0.Recorded {
		t.Error("the Recorder counted nothing during the measurement")
	}

	fmt.Printf("%d rounds, GOMAXPROCS %d; ratios: median [min–max] of the rounds, wall-clock; +µs: median added per request over the in-memory counterpart\n", rounds, runtime.GOMAXPROCS(0))
	fmt.Printf("%-24s %9s %-22s %-22s %-20s %13s %7s\n", "contender", "ns/op", "x floor ES256", "x floor RS256", "in-memory", "+µs", "allocs")
	for _, c := range cs {
		es, rs := make([]float64, 0, rounds), make([]float64, 0, rounds)
		for _, r := range ratio[c.name] {
			es, rs = append(es, r[0]), append(rs, r[1])
		}
		mem, plus := "-", "-"
		if c.mem != "" {
			mem, plus = c.mem, spreadUS(added[c.name])
		}
		fmt.Printf("%-24s %9.0f %-22s %-22s %-20s %13s %7d\n", c.name, scMedian(ns[c.name]), scSpread(es), scSpread(rs), mem, plus, allocs[c.name])
	}
	fmt.Printf("during the measurement: database queries %d, sqlstore cache hits %d, usage counted %d and written %d, Redis commands %d\n",
		db1.Queries-db0.Queries, db1.Hits-db0.Hits, rec1.Recorded-rec0.Recorded, rec1.Written-rec0.Written, cmd1-cmd0)
}

// TestStoreCostWiring proves, without timing anything, that the contenders
// of TestStoreCost do the work they are named after: each request reaches
// the protected handler through the Guard and the route scope (twice: the
// second from the caches); the API keys of PostgreSQL are read once and
// then answered from the cache, the Recorder counts their uses without
// writing them; each floor verifies its signature; and the stores are on
// the path: a token revoked in either deny list is refused, and a proof
// replayed to either replay store is refused.
func TestStoreCostWiring(t *testing.T) {
	s := newStoreCost(t)
	for _, c := range s.contenders() {
		t.Run(c.name, func(t *testing.T) {
			if c.fn != nil {
				if err := c.fn(); err != nil {
					t.Fatalf("floor: %v", err)
				}
				return
			}
			for range 2 {
				req := c.req()
				if c.header != "" {
					req.Header[c.header] = c.values(1)
				}
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, req)
				if rec.Code != scReached {
					t.Fatalf("status %d, want %d (WWW-Authenticate %q)", rec.Code, scReached, rec.Header().Values("WWW-Authenticate"))
				}
			}
		})
	}
	if st := s.sql.Stats(); st.Queries != 1 || st.Hits < 4 {
		t.Errorf("sqlstore: %d queries, %d cache hits; want 1 (the warm-up) and the rest from the cache", st.Queries, st.Hits)
	}
	if st := s.rec.Stats(); st.Recorded < 3 || st.Flushes != 0 || st.Written != 0 {
		t.Errorf("Recorder: %+v; want the uses counted and none written", st)
	}

	t.Run("revoked", func(t *testing.T) {
		ctx := context.Background()
		if err := s.memDeny.RevokeSubject(s.is.URL, "alice", time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.redisDeny.RevokeSubject(ctx, s.is.URL, "alice", time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for name, h := range map[string]http.Handler{"memory": s.jwtMemDeny, "redis": s.jwtRedisDeny} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, scBearer(s.jwtTok))
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s deny list: a revoked cached token got %d, want 401", name, rec.Code)
			}
		}
	})
	t.Run("replayed proof", func(t *testing.T) {
		for name, h := range map[string]http.Handler{"memory": s.dpopMem, "redis": s.dpopRedis} {
			proof := s.dpopKey.Proof(http.MethodPost, scResource, s.boundTok)
			for i, want := range []int{scReached, http.StatusUnauthorized} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, scDPoP(s.boundTok, proof))
				if rec.Code != want {
					t.Errorf("%s replay store, use %d: status %d, want %d", name, i+1, rec.Code, want)
				}
			}
		}
	})
}

// The resource every middleware guards, the scope its route requires and
// the status of its handler.
const (
	scResource   = "https://api.example.com/mcp"
	scRouteScope = "tools:read"
	scReached    = http.StatusNoContent
)

var scHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(scReached) })

// storeCost is the setup of TestStoreCost: one issuer, Redis, a database,
// the middlewares and the credentials, every cache warm.
type storeCost struct {
	is                                *validatetest.Issuer
	jwtTok, rsTok, boundTok           string
	apiKey                            string
	dpopKey                           *validatetest.DPoPKey
	memDeny                           *validate.DenyList
	redisDeny                         *redisstore.DenyList
	sql                               *sqlstore.Store
	rec                               *sqlstore.Recorder
	jwtNone, jwtMemDeny, jwtRedisDeny http.Handler
	keyMem, keySQL, keySQLUsage       http.Handler
	dpopMem, dpopRedis                http.Handler
	redis                             *redis.Client
}

// redisCommands returns the commands Redis has processed since it started
// (INFO stats: total_commands_processed).
func (s *storeCost) redisCommands(t *testing.T) int64 {
	t.Helper()
	info, err := s.redis.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("Redis INFO stats without total_commands_processed")
	return 0
}

func newStoreCost(t *testing.T) *storeCost {
	t.Helper()
	db, _ := newDB(t, nil)
	rds, err := services.StartRedis()
	services.Require(t, err)
	t.Cleanup(func() { _ = rds.Close() })
	client := redis.NewClient(&redis.Options{Addr: rds.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	ctx := context.Background()

	s := &storeCost{redis: client}
	algs := []string{"ES256", "RS256"}
	s.is = validatetest.NewIssuer(t, &validatetest.Options{PlainHTTP: true, Algorithms: algs, Audience: []string{scResource}})
	// An hour of validity: a run of many rounds must not see the cached
	// tokens expire.
	exp := time.Now().Add(time.Hour).Unix()
	claims := func(extra map[string]any) map[string]any {
		c := map[string]any{"scope": "tools:read tools:write", "exp": exp, "sub": "alice", "client_id": "agent-1", "sid": "s-1"}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	s.jwtTok = s.is.TokenWith(validatetest.TokenOptions{Alg: "ES256"}, claims(nil))
	s.rsTok = s.is.TokenWith(validatetest.TokenOptions{Alg: "RS256"}, claims(nil))
	s.dpopKey = validatetest.NewDPoPKey(t, "ES256")
	s.boundTok = s.is.TokenWith(validatetest.TokenOptions{Alg: "ES256"}, claims(map[string]any{"cnf": map[string]any{"jkt": s.dpopKey.Thumbprint()}}))

	// The deny lists, each with 1000 entries that do not match.
	if s.memDeny, err = validate.NewDenyList(validate.DenyListConfig{}); err != nil {
		t.Fatal(err)
	}
	if s.redisDeny, err = redisstore.NewDenyList(redisstore.DenyListConfig{Client: client}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 1000 {
		other := fmt.Sprint("user-", i)
		if err := s.memDeny.RevokeSubject(s.is.URL, other, now); err != nil {
			t.Fatal(err)
		}
		if err := s.redisDeny.RevokeSubject(ctx, s.is.URL, other, now); err != nil {
			t.Fatal(err)
		}
	}
	replay, err := redisstore.NewReplayStore(redisstore.ReplayStoreConfig{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	jwtCfg := func(rev validate.Revocations) validate.Config {
		return validate.Config{Issuer: s.is.URL, Resource: scResource, Algorithms: algs, Revocations: rev}
	}
	// Proofs are remembered 61 s plus the leeway: room for every proof of
	// a few rounds in the in-memory store (its default bound, 100 000,
	// would fill up).
	dpopCfg := func(r validate.ReplayStore) validate.Config {
		c := jwtCfg(nil)
		c.DPoP = validate.DPoPConfig{Mode: validate.DPoPAllowed, Algorithms: []string{"ES256"}, Replay: r}
		if r == nil {
			c.DPoP.MaxProofs = 4 << 20
		}
		return c
	}
	s.jwtNone = scGuard(t, scValidator(t, jwtCfg(nil)))
	s.jwtMemDeny = scGuard(t, scValidator(t, jwtCfg(s.memDeny)))
	s.jwtRedisDeny = scGuard(t, scValidator(t, jwtCfg(s.redisDeny)))
	s.dpopMem = scGuard(t, scValidator(t, dpopCfg(nil)))
	s.dpopRedis = scGuard(t, scValidator(t, dpopCfg(replay)))

	// One API key, in memory and in the database.
	key, rec := issue(t, db, apikey.Record{ClientID: "billing-cron", Scopes: []string{"tools:read"}})
	s.apiKey = key
	mem, err := apikey.NewMemoryStore(rec)
	if err != nil {
		t.Fatal(err)
	}
	// The defaults (30 s staleness, refreshed at 10 s) would make a long
	// run read the row again: an hour, so that every lookup of the run is a
	// cache hit, as almost every lookup of a busy server is.
	if s.sql, err = sqlstore.New(sqlstore.Config{DB: db, MaxStaleness: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Batched as in production, but never written during the run: no
	// interval and no count threshold is reached.
	if s.rec, err = sqlstore.NewRecorder(sqlstore.RecorderConfig{DB: db, FlushInterval: time.Hour, FlushEvery: math.MaxInt}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.rec.Close(context.Background()) })
	keyAuth := func(store apikey.Store, onUse func(*http.Request, apikey.Use)) rsguard.Authenticator {
		a, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, OnUse: onUse})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	s.keyMem = scGuard(t, keyAuth(mem, nil))
	s.keySQL = scGuard(t, keyAuth(s.sql, nil))
	s.keySQLUsage = scGuard(t, keyAuth(s.sql, s.rec.OnUse))

	// Warm-up: keys fetched, tokens verified and cached, the key read.
	for _, c := range s.contenders() {
		if c.h == nil {
			continue
		}
		req := c.req()
		if c.header != "" {
			req.Header[c.header] = c.values(1)
		}
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if rec.Code != scReached {
			t.Fatalf("warm-up %s: status %d (WWW-Authenticate %q)", c.name, rec.Code, rec.Header().Values("WWW-Authenticate"))
		}
	}
	return s
}

func scValidator(t *testing.T, cfg validate.Config) rsguard.Authenticator {
	t.Helper()
	v, err := validate.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// scGuard is the middleware a server builds: auth as the Authenticator of
// an rsguard.Guard, then the route scope, then the handler.
func scGuard(t *testing.T, auth rsguard.Authenticator) http.Handler {
	t.Helper()
	meta, err := rsmeta.WellKnownURL(scResource)
	if err != nil {
		t.Fatal(err)
	}
	g, err := rsguard.New(rsguard.Config{Authenticator: auth, ResourceMetadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	return g.Middleware(scopes.Middleware(scRouteScope)(scHandler))
}

// scContender is one line of TestStoreCost: a middleware and its request,
// or a bare function (a floor).
type scContender struct {
	name string
	mem  string // the in-memory counterpart of a shared store's contender
	h    http.Handler
	req  func() *http.Request
	// header, if set, is given to request i as the i-th of the n values
	// of values(n), made before the clock runs: a fresh DPoP proof, or the
	// API key (the apikey.Authenticator removes it from the request it
	// accepted).
	header string
	values func(n int) []string
	fn     func() error // instead of h: a bare function
}

func (s *storeCost) contenders() []scContender {
	bearer := func() *http.Request { return scBearer(s.jwtTok) }
	apiKey := func() *http.Request { return httptest.NewRequest(http.MethodPost, "/mcp", nil) }
	keys := func(n int) []string {
		ks := make([]string, n)
		for i := range ks {
			ks[i] = s.apiKey
		}
		return ks
	}
	dpop := func() *http.Request { return scDPoP(s.boundTok) }
	proofs := func(n int) []string {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = s.dpopKey.Proof(http.MethodPost, scResource, s.boundTok)
		}
		return ps
	}
	return []scContender{
		{name: "floor/ES256", fn: scSigFloor(s.jwtTok, jwt.SigningMethodES256, s.is.PublicKey(s.is.Kid("ES256")))},
		{name: "floor/RS256", fn: scSigFloor(s.rsTok, jwt.SigningMethodRS256, s.is.PublicKey(s.is.Kid("RS256")))},
		{name: "jwt/no-revocation", h: s.jwtNone, req: bearer},
		{name: "jwt/denylist-memory", h: s.jwtMemDeny, req: bearer},
		{name: "jwt/denylist-redis", mem: "jwt/denylist-memory", h: s.jwtRedisDeny, req: bearer},
		{name: "apikey/memory", h: s.keyMem, req: apiKey, header: "X-Api-Key", values: keys},
		{name: "apikey/sql-cached", mem: "apikey/memory", h: s.keySQL, req: apiKey, header: "X-Api-Key", values: keys},
		{name: "apikey/sql-cached+usage", mem: "apikey/memory", h: s.keySQLUsage, req: apiKey, header: "X-Api-Key", values: keys},
		{name: "dpop/replay-memory", h: s.dpopMem, req: dpop, header: "Dpop", values: proofs},
		{name: "dpop/replay-redis", mem: "dpop/replay-memory", h: s.dpopRedis, req: dpop, header: "Dpop", values: proofs},
	}
}

// measure runs c under testing.Benchmark and returns its wall-clock ns and
// allocations per request.
func (c scContender) measure() (nsPerOp float64, allocs int64, err error) {
	var failed atomic.Pointer[string]
	r := testing.Benchmark(func(b *testing.B) { c.run(b, &failed) })
	if p := failed.Load(); p != nil {
		return 0, 0, fmt.Errorf("%s", *p)
	}
	if r.N == 0 {
		return 0, 0, fmt.Errorf("not measured")
	}
	return float64(r.T.Nanoseconds()) / float64(r.N), r.AllocsPerOp(), nil
}

// run is the benchmark of c: b.N requests (or calls of c.fn), each checked.
// A failure is put in failed (testing.Benchmark does not report it).
func (c scContender) run(b *testing.B, failed *atomic.Pointer[string]) {
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		failed.CompareAndSwap(nil, &msg)
		b.Fatal(msg)
	}
	var req *http.Request
	var values []string
	if c.h != nil {
		req = c.req()
	}
	if c.header != "" {
		values = c.values(b.N)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if c.fn != nil {
			if err := c.fn(); err != nil {
				fail("%v", err)
			}
			continue
		}
		if values != nil {
			req.Header[c.header] = values[i : i+1]
		}
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if rec.Code != scReached {
			fail("request %d: status %d, want %d (WWW-Authenticate %q)", i, rec.Code, scReached, rec.Header().Values("WWW-Authenticate"))
		}
	}
}

// scSigFloor returns the bare signature check of the compact JWS tok with
// golang-jwt's method m: what no first verification of tok can skip.
func scSigFloor(tok string, m jwt.SigningMethod, key crypto.PublicKey) func() error {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return func() error { return err }
	}
	input := tok[:i]
	return func() error { return m.Verify(input, sig, key) }
}

func scBearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func scDPoP(tok string, proofs ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

func scMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	switch {
	case len(s) == 0:
		return 0
	case len(s)%2 == 1:
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// scSpread formats the median of xs with their range.
func scSpread(xs []float64) string {
	return fmt.Sprintf("%.3f [%.3f–%.3f]", scMedian(xs), slices.Min(xs), slices.Max(xs))
}

// spreadUS formats the median of xs, in ns, as µs with their range.
func spreadUS(xs []float64) string {
	return fmt.Sprintf("%.1f [%.1f–%.1f]", scMedian(xs)/1e3, slices.Min(xs)/1e3, slices.Max(xs)/1e3)
}
