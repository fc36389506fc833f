package validate_test

// Failure modes of the issuer as seen through the bearer middleware over
// HTTP: down at start and after, slow, answering garbage or endless bodies,
// flapping; key rotation under a spray of unknown kids; single-flight
// refreshes; no goroutine or memory growth under a long run of refusals; no
// secret in any log line.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// hardClock is a settable clock.
type hardClock struct{ ns atomic.Int64 }

func newHardClock(t time.Time) *hardClock {
	c := &hardClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *hardClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *hardClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// timed sends r and returns the response and how long it took.
func (s *hardServer) timed(t testing.TB, r hardRequest) (hardResponse, time.Duration) {
	t.Helper()
	start := time.Now()
	resp := s.do(t, r)
	return resp, time.Since(start)
}

// randomKid is a token signed by an unpublished key under a fresh kid.
func randomKid(is *validatetest.Issuer, signer *ecdsa.PrivateKey, i int, claims map[string]any) string {
	return is.TokenWith(validatetest.TokenOptions{Signer: signer, Header: map[string]any{"kid": "random-" + strconv.Itoa(i)}}, claims)
}

func TestFailureLazyStartServesThenRecovers(t *testing.T) {
	is := hardIssuer(t, time.Now, "ES256")
	is.SetDown(true)
	logs := &logBuffer{}
	const fetchTimeout = 300 * time.Millisecond
	v := hardValidator(t, is, logs, func(c *validate.Config) {
		c.Fetch.Lazy = true
		c.Now = time.Now
		c.Fetch.MinRefreshInterval = 50 * time.Millisecond
		c.Fetch.Timeout = fetchTimeout
	})
	srv := newHardServer(t, guarded(t, v, protectedOK, logInto(logs)))
	tok := is.Token(nil)

	// Down: a token cannot be verified yet: 503 with Retry-After and the
	// challenge; a request without a token still learns where to go.
	resp, took := srv.timed(t, bearer(tok))
	checkRefusal(t, resp, refusal{status: http.StatusServiceUnavailable}, tok)
	retry, err := strconv.Atoi(resp.header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", resp.header.Get("Retry-After"))
	assert.Positive(t, retry)
	assert.Less(t, took, fetchTimeout+time.Second, "a request waits at most about Fetch.Timeout")
	checkRefusal(t, srv.do(t, hardRequest{}), refuseNoCreds)
	checkRefusal(t, srv.do(t, bearer("garbage")), refuseToken, "garbage")

	// A burst while down: shared, rate-limited fetch attempts, not one per
	// request.
	before := is.Requests(is.MetadataURL) + is.Requests(is.OpenIDConfigurationURL) + is.Requests(is.JWKSURL)
	start := time.Now()
	var wg sync.WaitGroup
	var fails failures // see failures: no testify on the goroutines
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := srv.send(bearer(tok))
			switch {
			case err != nil:
				fails.add("%v", err)
			case resp.status != http.StatusServiceUnavailable:
				fails.add("status %d, want %d", resp.status, http.StatusServiceUnavailable)
			}
		}()
	}
	wg.Wait()
	assert.Empty(t, fails.all(), "failures in the concurrent goroutines")
	// At most one fetch attempt (two discovery documents) per
	// MinRefreshInterval, from requests or from the background retry.
	budget := 2 * (2*int64(time.Since(start)/(50*time.Millisecond)) + 4)
	after := is.Requests(is.MetadataURL) + is.Requests(is.OpenIDConfigurationURL) + is.Requests(is.JWKSURL)
	assert.LessOrEqual(t, int64(after-before), budget,
		"100 requests during an outage must cost the issuer a few fetches, not one each")

	// Up again: served within a few refresh intervals, without a restart.
	is.SetDown(false)
	require.Eventually(t, func() bool { // run on a goroutine of its own: send, not do
		resp, err := srv.send(bearer(tok))
		return err == nil && resp.status == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond, "the validator recovers once the issuer is back")
	assert.Contains(t, logs.String(), "JWKS fetch failed", "the outage was logged")
}

func TestFailureIssuerDownAfterStart(t *testing.T) {
	clk := newHardClock(hardNow)
	is := hardIssuer(t, clk.Now, "ES256")
	v := hardValidator(t, is, nil, func(c *validate.Config) { c.Now = clk.Now })
	srv := newHardServer(t, guarded(t, v, protectedOK, nil))
	attacker := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))

	is.SetDown(true)
	for _, after := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		clk.Advance(after)
		// Cached keys keep verifying, however long the outage.
		tok := is.Token(nil)
		resp, took := srv.timed(t, bearer(tok))
		assert.Equal(t, http.StatusOK, resp.status, "after %v down", after)
		assert.Less(t, took, 3*time.Second)
		// An unknown kid during the outage: refused as invalid (a refresh
		// was tried and failed), never 503, and quickly.
		bad := randomKid(is, attacker, int(after), nil)
		resp, took = srv.timed(t, bearer(bad))
		checkRefusal(t, resp, refuseToken, bad)
		assert.Less(t, took, 5*time.Second, "answered before the fetch timeout")
	}
}

func TestFailureSlowIssuer(t *testing.T) {
	is := hardIssuer(t, time.Now, "ES256")
	attacker := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	var slow atomic.Pointer[http.HandlerFunc]
	is.Handle(is.JWKSURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := slow.Load()
		if h == nil { // not stalling: the real key set
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(jwksOf(is, is.Kid("ES256")))
			return
		}
		(*h)(w, r)
	}))
	setSlow := func(h http.HandlerFunc) { slow.Store(&h) }
	// Each subtest's validator fetches through a fetchMeter: single flight
	// is the validator never having two JWKS fetches in flight, whatever the
	// issuer's handler is still doing with an abandoned one.
	//
	// unknownKids sends n tokens of unknown kids, each from a goroutine of
	// its own; wait waits for their answers and checks them on the test
	// goroutine (testify's assertions synchronise on t even when they pass,
	// which would order the goroutines and could hide a race).
	unknownKids := func(srv *hardServer, n int, took *atomic.Int64) (wait func(t *testing.T)) {
		var wg sync.WaitGroup
		bad := make([]string, n)
		resps := make([]hardResponse, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bad[i] = randomKid(is, attacker, i, nil)
				start := time.Now()
				resps[i], errs[i] = srv.send(bearer(bad[i]))
				storeMax(took, int64(time.Since(start)))
			}()
		}
		return func(t *testing.T) {
			t.Helper()
			wg.Wait()
			for i := range n {
				if assert.NoError(t, errs[i]) {
					checkRefusal(t, resps[i], refuseToken, bad[i])
				}
			}
		}
	}

	// While a refresh hangs, tokens of known keys are answered at once:
	// the known-kid requests all finish while the fetch is still in flight.
	t.Run("known kids never wait", func(t *testing.T) {
		slow.Store(nil)
		var fetches fetchMeter
		v := hardValidator(t, is, nil, func(c *validate.Config) {
			c.Now = time.Now
			c.Fetch.Timeout = 30 * time.Second
			c.Fetch.MinRefreshInterval = time.Nanosecond
			c.Fetch.HTTPClient = meteredClient(is, &fetches)
		})
		srv := newHardServer(t, guarded(t, v, protectedOK, nil))
		release := make(chan struct{})
		releaseFetch := sync.OnceFunc(func() { close(release) })
		t.Cleanup(releaseFetch) // a failed subtest must not leave the fetch held
		entered := make(chan struct{}, 1)
		setSlow(func(w http.ResponseWriter, r *http.Request) {
			select {
			case entered <- struct{}{}:
			default:
			}
			select {
			case <-release:
				http.Error(w, "gave up", http.StatusGatewayTimeout)
			case <-r.Context().Done():
			}
		})
		var took atomic.Int64
		wait := unknownKids(srv, 20, &took)
		receive(t, entered, "refresh for the unknown kids")
		var known sync.WaitGroup
		var fails failures // see failures: no testify on the goroutines
		for range 20 {
			known.Add(1)
			go func() {
				defer known.Done()
				resp, err := srv.send(bearer(is.Token(nil)))
				switch {
				case err != nil:
					fails.add("known kid: %v", err)
				case resp.status != http.StatusOK:
					fails.add("known kid: status %d, want %d", resp.status, http.StatusOK)
				}
			}()
		}
		known.Wait()
		assert.Empty(t, fails.all(), "failures in the concurrent goroutines")
		assert.Equal(t, int64(1), fetches.inflight.Load(), "the known kids finished while the refresh was still held")
		releaseFetch()
		wait(t)
		assert.Equal(t, int64(1), fetches.most.Load(), "refreshes are single-flight")
		assert.GreaterOrEqual(t, fetches.total.Load(), int64(2), "the start-up fetch and the held refresh went through the meter")
	})

	// However the issuer stalls, no request waits much beyond Fetch.Timeout.
	const fetchTimeout = 300 * time.Millisecond
	for _, stall := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"no answer", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{"headers, then a trickle", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"keys":[`))
			rc := http.NewResponseController(w)
			for {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
					if _, err := w.Write([]byte(" ")); err != nil {
						return
					}
					_ = rc.Flush()
				}
			}
		}},
	} {
		t.Run(stall.name, func(t *testing.T) {
			slow.Store(nil)
			var fetches fetchMeter
			v := hardValidator(t, is, nil, func(c *validate.Config) {
				c.Now = time.Now
				c.Fetch.Timeout = fetchTimeout
				c.Fetch.MinRefreshInterval = time.Nanosecond // every unknown kid wants a refresh
				c.Fetch.HTTPClient = meteredClient(is, &fetches)
			})
			srv := newHardServer(t, guarded(t, v, protectedOK, nil))
			setSlow(stall.h)
			before := fetches.total.Load()
			var took atomic.Int64
			unknownKids(srv, 20, &took)(t)
			assert.Less(t, time.Duration(took.Load()), fetchTimeout+3*time.Second, "no request waits beyond Fetch.Timeout")
			assert.Equal(t, int64(1), fetches.most.Load(), "refreshes are single-flight")
			assert.Positive(t, fetches.total.Load()-before, "the unknown kids caused a refresh")
		})
	}
}

func storeMax(m *atomic.Int64, v int64) {
	for old := m.Load(); v > old && !m.CompareAndSwap(old, v); old = m.Load() {
	}
}

func TestFailureBadRefreshKeepsKeys(t *testing.T) {
	clk := newHardClock(hardNow)
	is := hardIssuer(t, clk.Now, "ES256")
	logs := &logBuffer{}
	const maxBytes = 64 << 10
	const fetchTimeout = 3 * time.Second
	v := hardValidator(t, is, logs, func(c *validate.Config) {
		c.Now = clk.Now
		c.Fetch.MaxBytes = maxBytes
		c.Fetch.Timeout = fetchTimeout
	})
	srv := newHardServer(t, guarded(t, v, protectedOK, logInto(logs)))
	attacker := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	jsonBody := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		}
	}
	var endlessWritten atomic.Int64
	for i, bad := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>maintenance</html>"))
		}},
		{"HTML labelled JSON", jsonBody("<html>maintenance</html>")},
		{"truncated JSON", jsonBody(`{"keys":[{"kty":"EC","crv":"P-256","x":"`)},
		{"no keys member", jsonBody(`{}`)},
		{"null", jsonBody(`null`)},
		{"array", jsonBody(`[]`)},
		{"empty key set", jsonBody(`{"keys":[]}`)},
		{"only unusable keys", jsonBody(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`)},
		{"keys of the wrong type", jsonBody(`{"keys":"all of them"}`)},
		{"deeply nested", jsonBody(`{"keys":` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + `}`)},
		{"over the size bound", jsonBody(`{"keys":[],"pad":"` + strings.Repeat("x", maxBytes) + `"}`)},
		{"endless body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"keys":[`))
			chunk := []byte(strings.Repeat(" ", 32<<10))
			for r.Context().Err() == nil {
				n, err := w.Write(chunk)
				endlessWritten.Add(int64(n))
				if err != nil {
					return
				}
			}
		}},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }},
		{"502", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad gateway", http.StatusBadGateway) }},
		{"404", http.NotFound},
		{"429", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
		{"connection dropped", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }},
	} {
		t.Run(bad.name, func(t *testing.T) {
			is.Handle(is.JWKSURL, bad.h)
			clk.Advance(10*time.Second + time.Second)
			before := is.Requests(is.JWKSURL)
			// An unknown kid triggers a refresh, which fails: refused, quickly.
			tok := randomKid(is, attacker, i, nil)
			resp, took := srv.timed(t, bearer(tok))
			checkRefusal(t, resp, refuseToken, tok)
			// One refresh (net/http may retry a GET whose connection
			// dropped once).
			assert.Contains(t, []int{1, 2}, is.Requests(is.JWKSURL)-before, "refreshes")
			assert.Less(t, took, fetchTimeout, "a bad answer is detected without waiting for the timeout")
			// The keys cached before keep verifying.
			assert.Equal(t, http.StatusOK, srv.do(t, bearer(is.Token(nil))).status, "cached keys lost after a bad refresh")
		})
	}
	// The endless body was cut off near the bound: the reader stopped, and
	// the server's writes failed once the socket buffers were full.
	assert.Less(t, endlessWritten.Load(), int64(64<<20), "the endless body was read without bound")

	// Healthy again: a rotated-in key is picked up at the next refresh.
	is.Handle(is.JWKSURL, nil)
	is.Rotate("ES256")
	clk.Advance(10*time.Second + time.Second)
	assert.Equal(t, http.StatusOK, srv.do(t, bearer(is.Token(nil))).status)
	assert.Contains(t, logs.String(), "keeping cached keys")
}

func TestFailureFlappingIssuer(t *testing.T) {
	clk := newHardClock(hardNow)
	is := hardIssuer(t, clk.Now, "ES256")
	v := hardValidator(t, is, nil, func(c *validate.Config) { c.Now = clk.Now })
	srv := newHardServer(t, guarded(t, v, protectedOK, nil))
	var n atomic.Int64
	var mu sync.Mutex
	published := []string{is.Kid("ES256")} // rotated keys are added, none retired
	is.Handle(is.JWKSURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 1 { // every other answer fails
			http.Error(w, "flap", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		doc := jwksOf(is, published...)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	// Every 44 s the issuer rotates; every 11 s (past the refresh rate
	// limit) a client calls with a token of the newest key and another with
	// a token of the key before.
	rotated := map[string]int{}
	accepted := map[string]int{}
	previous := is.Kid("ES256")
	for round := range 24 {
		clk.Advance(10*time.Second + time.Second)
		if round%4 == 0 {
			previous = is.Kid("ES256")
			kid := is.Rotate("ES256")
			mu.Lock()
			published = append(published, kid)
			mu.Unlock()
			rotated[kid] = round
		}
		kid := is.Kid("ES256")
		resp := srv.do(t, bearer(is.Token(nil)))
		require.NotEqual(t, http.StatusServiceUnavailable, resp.status, "503 after keys were loaded")
		if _, seen := accepted[kid]; !seen && resp.status == http.StatusOK {
			accepted[kid] = round
		}
		old := is.TokenWith(validatetest.TokenOptions{Key: previous}, nil)
		require.Equal(t, http.StatusOK, srv.do(t, bearer(old)).status, "round %d: a cached key stopped verifying", round)
	}
	for kid, r := range rotated {
		a, ok := accepted[kid]
		if assert.True(t, ok, "key %s never accepted while the issuer flapped", kid) {
			// One failed fetch, then one that succeeds.
			assert.LessOrEqual(t, a-r, 1, "key %s took %d rounds of 11 s", kid, a-r)
		}
	}
}

// jwksOf returns a JWK Set document of the issuer's keys with these kids,
// each as the issuer publishes it: the real key set, for a handler that
// replaces the issuer's.
func jwksOf(is *validatetest.Issuer, kids ...string) []byte {
	var keys []string
	for _, kid := range kids {
		keys = append(keys, string(is.PublicJWK(kid)))
	}
	return []byte(`{"keys":[` + strings.Join(keys, ",") + `]}`)
}

// publishedJWKs fetches the issuer's JWK Set and returns its entries.
func publishedJWKs(t *testing.T, is *validatetest.Issuer) []map[string]any {
	t.Helper()
	resp, err := is.Client().Get(is.JWKSURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	return set.Keys
}

func TestRotationUnderKidSpray(t *testing.T) {
	clk := newHardClock(hardNow)
	is := hardIssuer(t, clk.Now, "ES256")
	v := hardValidator(t, is, nil, func(c *validate.Config) { c.Now = clk.Now })
	srv := newHardServer(t, guarded(t, v, protectedOK, nil))
	attacker := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	base := is.Requests(is.JWKSURL)

	// 200 requests with random kids, all at once: refused, and they cost
	// the issuer at most one fetch.
	// The goroutines keep the answers; the test goroutine checks them (see
	// failures: no testify on the goroutines).
	var wg sync.WaitGroup
	toks := make([]string, 200)
	resps := make([]hardResponse, 200)
	errs := make([]error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i] = randomKid(is, attacker, i, nil)
			resps[i], errs[i] = srv.send(bearer(toks[i]))
		}()
	}
	wg.Wait()
	for i := range 200 {
		if assert.NoError(t, errs[i]) {
			checkRefusal(t, resps[i], refuseToken, toks[i])
		}
	}
	assert.LessOrEqual(t, is.Requests(is.JWKSURL)-base, 1, "200 random kids: JWKS fetches")

	// Right after the burst the issuer rotates in a new key, while the
	// attacker keeps spraying ten random kids per second. The new key must
	// be accepted within 30 s, and the spray must stay cheap.
	is.Rotate("ES256")
	legit := is.Token(map[string]any{"exp": hardNow.Add(time.Hour).Unix()})
	rotated := clk.Now()
	var acceptedAfter time.Duration = -1
	for step := 0; step < 60; step++ { // 30 s in steps of 500 ms
		clk.Advance(500 * time.Millisecond)
		for j := range 5 {
			tok := randomKid(is, attacker, 1000+10*step+j, map[string]any{"exp": hardNow.Add(time.Hour).Unix()})
			assert.Equal(t, http.StatusUnauthorized, srv.do(t, bearer(tok)).status)
		}
		if acceptedAfter < 0 && srv.do(t, bearer(legit)).status == http.StatusOK {
			acceptedAfter = clk.Now().Sub(rotated)
		}
	}
	require.GreaterOrEqual(t, acceptedAfter, time.Duration(0), "the rotated-in key was never accepted")
	assert.LessOrEqual(t, acceptedAfter, 30*time.Second, "rotated-in key accepted after %v", acceptedAfter)
	assert.LessOrEqual(t, acceptedAfter, (10*time.Second)+time.Second)
	fetches := is.Requests(is.JWKSURL) - base
	assert.LessOrEqual(t, fetches, 5, "500 random kids over 30 s cost %d JWKS fetches", fetches)
	t.Logf("rotated-in key accepted after %v; %d JWKS fetches for 700 random kids", acceptedAfter, fetches)
}

// TestSingleFlightRefreshOverHTTP: 50 requests with unknown kids, all
// parked on the one refresh the first of them started, which the issuer
// holds until they are: one fetch, and 50 well-formed refusals.
func TestSingleFlightRefreshOverHTTP(t *testing.T) {
	is := hardIssuer(t, time.Now, "ES256")
	var fetches fetchMeter
	v := hardValidator(t, is, nil, func(c *validate.Config) {
		c.Now = time.Now
		c.Fetch.MinRefreshInterval = time.Nanosecond // no rate limit to hide a second fetch
		c.Fetch.Timeout = syncTimeout                // the held fetch outlasts a slow start
		c.Fetch.HTTPClient = meteredClient(is, &fetches)
	})
	srv := newHardServer(t, guarded(t, v, protectedOK, nil))
	attacker := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	release := make(chan struct{})
	releaseFetch := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseFetch) // a failed test must not leave the fetch held
	entered := make(chan struct{}, 1)
	var served atomic.Int64
	is.Handle(is.JWKSURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwksOf(is, is.Kid("ES256")))
	}))
	const callers = 50
	toks := make([]string, callers)
	resps := make([]hardResponse, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	var returned atomic.Int64
	for i := range callers {
		toks[i] = randomKid(is, attacker, i, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer returned.Add(1)
			resps[i], errs[i] = srv.send(bearer(toks[i]))
		}()
	}
	receive(t, entered, "JWKS fetch")
	waitParkedInVerify(t, callers, func() bool { return returned.Load() > 0 })
	releaseFetch()
	wg.Wait()
	for i := range callers {
		if assert.NoError(t, errs[i]) {
			checkRefusal(t, resps[i], refuseToken, toks[i])
		}
	}
	assert.Equal(t, int64(1), served.Load(), "%d concurrent unknown kids share one JWKS fetch", callers)
	assert.Equal(t, int64(1), fetches.most.Load(), "concurrent refreshes share one fetch")
}

func TestNoGrowthUnderRejections(t *testing.T) {
	clk := newHardClock(hardNow)
	is := hardIssuer(t, clk.Now, "ES256")
	v := hardValidator(t, is, nil, func(c *validate.Config) { c.Now = clk.Now })
	h := guarded(t, v, protectedOK, nil)
	srv := newHardServer(t, h)
	attacker := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))

	// A fixed mix of refusals of every kind, reused so that the test
	// measures the middleware, not the minting.
	mix := []hardRequest{
		{}, bearer("garbage"), bearer("a.b.c"), bearer(is.TokenWith(validatetest.TokenOptions{Alg: "none"}, nil)),
		bearer(is.Token(map[string]any{"exp": hardNow.Add(-time.Hour).Unix()})),
		bearer(is.Token(map[string]any{"aud": "https://other.example/mcp"})),
		bearer(is.TokenWith(validatetest.TokenOptions{Signer: attacker, Key: is.Kid("ES256")}, nil)),
		bearer(strings.Repeat("a", 20000)),
		{headers: [][2]string{{"Authorization", "Bearer a"}, {"Authorization", "Bearer b"}}},
		{target: "/mcp?access_token=x"},
	}
	for i := range 20 {
		mix = append(mix, bearer(randomKid(is, attacker, i, map[string]any{"exp": hardNow.Add(24 * time.Hour).Unix()})))
	}
	round := func(n int) {
		for i := range n {
			if i%500 == 0 {
				clk.Advance(10*time.Second + time.Second) // let unknown kids refresh again
			}
			r := mix[i%len(mix)]
			if i%10 == 0 {
				resp := srv.do(t, r) // some over the wire, on kept-alive connections
				require.NotEqual(t, http.StatusOK, resp.status)
				continue
			}
			resp := (&hardServer{h: h}).doLocal(r)
			require.NotEqual(t, http.StatusOK, resp)
		}
	}
	// heap collects twice (GC is synchronous; the second pass frees what
	// finalizers of the first released) and returns the live heap.
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	round(1000) // warm up: pools, connections, the first refreshes
	srv.srv.Client().CloseIdleConnections()
	// The closed connections' goroutines on both ends exit on their own
	// time: the baseline is the count once it has stopped falling.
	g0 := settledGoroutines()
	m0 := heap()
	round(20000)
	srv.srv.Client().CloseIdleConnections()
	// No leak: the count comes back within 2 of the baseline, however
	// long the exiting goroutines take (bounded by syncTimeout).
	g1 := goroutinesAtMost(g0 + 2)
	m1 := heap()
	t.Logf("goroutines %d -> %d, heap %d KiB -> %d KiB", g0, g1, m0>>10, m1>>10)
	assert.LessOrEqual(t, g1, g0+2, "goroutines grew under rejected requests")
	assert.Less(t, int64(m1)-int64(m0), int64(4<<20), "heap grew by more than 4 MiB under rejected requests")
}

// doLocal serves r in process and returns the status.
func (s *hardServer) doLocal(r hardRequest) int {
	req := localRequest(r)
	w := &statusWriter{header: http.Header{}}
	s.h.ServeHTTP(w, req)
	return w.status
}

func localRequest(r hardRequest) *http.Request {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	target := r.target
	if target == "" {
		target = "/mcp"
	}
	req, _ := http.NewRequest(method, "http://mcp.example.com"+target, strings.NewReader(r.body))
	for _, h := range r.headers {
		req.Header.Add(h[0], h[1])
	}
	return req
}

// statusWriter is a ResponseWriter that keeps only the status.
type statusWriter struct {
	header http.Header
	status int
}

func (w *statusWriter) Header() http.Header { return w.header }
func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}

// TestNoSecretsInLogs drives every logging path of validate (start-up with
// dubious keys, failed refreshes, an outage, refusals of every class) with
// debug logging on, and checks that no token, no part of one, no hash of
// one, and no key material reaches the log.
func TestNoSecretsInLogs(t *testing.T) {
	clk := newHardClock(hardNow)
	is := hardIssuer(t, clk.Now, "ES256", "RS256")
	// Keys the validator skips or refuses, carrying private and secret
	// material that must not be logged either.
	secretK := "c2VjcmV0LW1hYy1rZXktdGhhdC1tdXN0LW5ldmVyLWJlLWxvZ2dlZA"
	privD := "bm90LWEtcmVhbC1wcml2YXRlLWV4cG9uZW50LWJ1dC1zdGlsbC1zZWNyZXQ"
	is.AddKey(validatetest.Key{JWK: map[string]any{"kty": "oct", "kid": "hmac", "k": secretK}})
	is.AddKey(validatetest.Key{JWK: map[string]any{"kty": "RSA", "kid": "broken", "n": "bm90LWEtbW9kdWx1cy1hdC1hbGwtYnV0LWxvbmctZW5vdWdo", "e": "AQAB", "d": privD}})
	is.AddKey(validatetest.Key{JWK: map[string]any{"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "y": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"}})
	is.AddKey(validatetest.Key{JWK: map[string]any{"kty": "OKP", "kid": "ed-with-d", "crv": "Ed25519", "x": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "d": privD}})
	is.AddKey(validatetest.Key{JWK: map[string]any{"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": "bm90LWFuLWVkMjU1MTkta2V5LWJ1dC1zZWNyZXQtaXNo"}})
	is.AddKey(validatetest.Key{JWK: map[string]any{"kty": "EC", "kid": is.Kid("ES256"), "crv": "P-256", "x": "ZHVwbGljYXRlLWtpZC14LWNvb3JkaW5hdGUtdmFsMDE", "y": "ZHVwbGljYXRlLWtpZC15LWNvb3JkaW5hdGUtdmFsMDE"}})

	logs := &logBuffer{}
	v := hardValidator(t, is, logs, func(c *validate.Config) { c.Now = clk.Now })
	srv := newHardServer(t, guarded(t, v, protectedOK, logInto(logs)))
	attacker := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))

	var sent []string
	send := func(r hardRequest, tok string) {
		sent = append(sent, tok)
		srv.do(t, r)
	}
	for _, tok := range []string{
		is.Token(nil), // accepted
		is.Token(map[string]any{"exp": hardNow.Add(-time.Hour).Unix()}),
		is.Token(map[string]any{"aud": "https://other.example"}),
		is.Token(map[string]any{"iss": "https://evil.example"}),
		is.Token(map[string]any{"exp": "soon"}),
		is.TokenWith(validatetest.TokenOptions{Alg: "none"}, nil),
		is.TokenWith(validatetest.TokenOptions{Alg: "HS256", Secret: publicKeyPEM(t, is, is.Kid("RS256")), Key: is.Kid("RS256")}, nil),
		is.TokenWith(validatetest.TokenOptions{Signer: attacker, Key: is.Kid("ES256")}, nil),
		is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"crit": []string{"x"}}}, nil),
		is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"typ": "dpop+jwt"}}, nil),
		is.TokenWith(validatetest.TokenOptions{Key: "hmac", Alg: "HS256", Secret: []byte("secret-mac-key")}, nil),
		"eyJhbGciOiJSUzI1NiJ9.not-json-at-all.c2lnbmF0dXJl",
	} {
		send(bearer(tok), tok)
	}
	good := is.Token(nil)
	send(hardRequest{headers: [][2]string{{"Authorization", "Bearer " + good}, {"Authorization", "Bearer " + good}}}, good)
	send(hardRequest{target: "/mcp?access_token=" + good}, good)
	send(hardRequest{headers: [][2]string{{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+good))}}}, good)

	// Failed refreshes of several kinds, and an outage.
	for i, h := range []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","k":"` + secretK + `"}], "d":"` + privD + `"`))
		},
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(good))
		},
		func(w http.ResponseWriter, r *http.Request) { http.Error(w, good, http.StatusInternalServerError) },
		nil,
	} {
		is.Handle(is.JWKSURL, h)
		is.SetDown(h == nil)
		clk.Advance(10*time.Second + time.Second)
		tok := randomKid(is, attacker, i, nil)
		send(bearer(tok), tok)
	}
	is.SetDown(false)
	is.Handle(is.JWKSURL, nil)

	out := logs.String()
	for _, want := range []string{"skipping a JWK", "JWKS fetch failed", "request refused", "duplicate kid"} {
		assert.Contains(t, out, want, "the log line %q was expected: without it this test checks nothing", want)
	}
	var secrets []string
	for _, tok := range sent {
		sum := sha256.Sum256([]byte(tok))
		secrets = append(secrets, tok, hex.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]))
	}
	eachNotIn(t, out, "logs", secrets...)
	for _, jwk := range publishedJWKs(t, is) {
		for _, member := range []string{"n", "x", "y", "d", "k"} {
			if s, ok := jwk[member].(string); ok && len(s) >= 16 {
				eachNotIn(t, out, "logs", s[:16])
			}
		}
	}
	eachNotIn(t, out, "logs", secretK, privD, "secret-mac-key", "BEGIN PUBLIC KEY")
	if t.Failed() || testing.Verbose() {
		fmt.Println(out)
	}
}
