package validate_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// countingKeySet is a KeySet of the application's own (as a KMS or a store
// shared between replicas would be): keys by kid, counting the questions it
// is asked, kid by kid.
type countingKeySet struct {
	mu    sync.Mutex
	keys  map[string]crypto.PublicKey
	asked map[string]int
	err   error         // answered to every question when set
	hold  chan struct{} // when set, a question waits until it is closed
	// entered receives the kid of a question that waits on hold (if the
	// test is not already told of one).
	entered chan string
}

func newCountingKeySet() *countingKeySet {
	return &countingKeySet{keys: make(map[string]crypto.PublicKey), asked: make(map[string]int), entered: make(chan string, 1)}
}

func (s *countingKeySet) Key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	s.mu.Lock()
	s.asked[kid]++
	k, ok := s.keys[kid]
	err, hold := s.err, s.hold
	s.mu.Unlock()
	if hold != nil {
		select {
		case s.entered <- kid:
		default:
		}
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("kid %q: %w", kid, audit.ReasonUnknownKey)
	}
	return k, nil
}

func (s *countingKeySet) set(kid string, k crypto.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k == nil {
		delete(s.keys, kid)
		return
	}
	s.keys[kid] = k
}

func (s *countingKeySet) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// questions returns how many times kid was asked about.
func (s *countingKeySet) questions(kid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[kid]
}

// questionsBut returns how many questions were asked about kids other than
// those listed.
func (s *countingKeySet) questionsBut(kids ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for kid, c := range s.asked {
		n += c
		for _, k := range kids {
			if k == kid {
				n -= c
			}
		}
	}
	return n
}

// keySetValidator returns a Validator that trusts is with set as its keys,
// at the time clk tells.
func keySetValidator(t *testing.T, is *validatetest.Issuer, set validate.KeySet, clk *hardClock, mod func(*validate.Config)) *validate.Validator {
	t.Helper()
	cfg := validate.Config{Issuer: is.URL, Resource: resource, Keys: set, Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	v, err := validate.New(context.Background(), cfg)
	require.NoError(t, err)
	return v
}

// forgedKid is a token of is with valid claims naming a kid of the
// attacker's choosing.
func forgedKid(is *validatetest.Issuer, kid string) string {
	return is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": kid}}, nil)
}

// TestKeySetGoodKeyAndGuard: a KeySet of the application's verifies tokens
// behind a Guard like a fetched JWK Set, no HTTP involved; the key it
// returns is asked for again on a cache hit.
func TestKeySetGoodKeyAndGuard(t *testing.T) {
	is := newIssuer(t, nil)
	kid := is.Kid("RS256")
	set := newCountingKeySet()
	set.set(kid, is.PublicKey(kid))
	clk := newHardClock(fixedNow)
	v := keySetValidator(t, is, set, clk, nil)
	base := is.Requests(is.JWKSURL)

	c, err := v.Verify(context.Background(), is.Token(map[string]any{"sub": "alice"}))
	require.NoError(t, err)
	assert.Equal(t, "alice", c.Subject)

	srv := newHardServer(t, guarded(t, v, protectedOK, nil))
	tok := is.Token(nil)
	assert.Equal(t, http.StatusOK, srv.do(t, bearer(tok)).status)
	assert.Equal(t, http.StatusOK, srv.do(t, bearer(tok)).status, "a cache hit")
	assert.Equal(t, http.StatusUnauthorized, srv.do(t, hardRequest{}).status)
	resp := srv.do(t, bearer(forgedKid(is, "nope")))
	assert.Equal(t, http.StatusUnauthorized, resp.status)
	assert.Contains(t, resp.header.Get("WWW-Authenticate"), `error="invalid_token"`)

	assert.Equal(t, 3, set.questions(kid), "asked for every token, cache hits included")
	assert.Equal(t, 1, set.questions("nope"))
	assert.Equal(t, base, is.Requests(is.JWKSURL), "the issuer's JWK Set is never fetched")
}

// TestKeySetUnknownKidFlood: an attacker's flood of tokens naming random kids
// costs an application's KeySet one question per MinRefreshInterval per
// issuer, sequential or concurrent, while tokens naming the kids it knows
// keep verifying, and a key rotated in is accepted within the interval.
func TestKeySetUnknownKidFlood(t *testing.T) {
	a := newIssuer(t, nil)
	b := newIssuer(t, &validatetest.Options{Path: "/b"})
	setA, setB := newCountingKeySet(), newCountingKeySet()
	kidA, kidB := a.Kid("RS256"), b.Kid("RS256")
	setA.set(kidA, a.PublicKey(kidA))
	setB.set(kidB, b.PublicKey(kidB))
	clk := newHardClock(fixedNow)
	v := keySetValidator(t, a, nil, clk, func(c *validate.Config) {
		c.Issuer = ""
		c.Issuers = []validate.IssuerConfig{{Issuer: a.URL, Keys: setA}, {Issuer: b.URL, Keys: setB}}
	})
	ctx := context.Background()
	_, err := v.Verify(ctx, a.Token(nil))
	require.NoError(t, err, "positive control")

	// 200 random kids in a row: one question.
	for i := range 200 {
		_, err := v.Verify(ctx, forgedKid(a, "random-"+strconv.Itoa(i)))
		require.ErrorIs(t, err, audit.ReasonUnknownKey)
		var e *rsguard.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, audit.ReasonUnknownKey, e.Reason)
	}
	assert.Equal(t, 1, setA.questionsBut(kidA), "200 random kids in one interval")
	_, err = v.Verify(ctx, a.Token(map[string]any{"jti": "during the flood"}))
	require.NoError(t, err, "a known kid verifies during the flood")

	// The limit is per issuer: B's set is asked at once.
	_, err = v.Verify(ctx, b.Token(nil))
	require.NoError(t, err, "issuer B, its first kid, during A's flood")
	_, err = v.Verify(ctx, forgedKid(b, "random-b"))
	require.ErrorIs(t, err, audit.ReasonUnknownKey)
	assert.Equal(t, 1, setB.questions("random-b"))

	// 100 concurrent random kids in the same interval: no question.
	const callers = 100
	errs := make(chan error, callers)
	for i := range callers {
		go func() {
			_, err := v.Verify(ctx, forgedKid(a, "concurrent-"+strconv.Itoa(i)))
			errs <- err
		}()
	}
	for range callers {
		require.ErrorIs(t, receive(t, errs, "a verification"), audit.ReasonUnknownKey)
	}
	assert.Equal(t, 1, setA.questionsBut(kidA), "100 concurrent random kids in the same interval")

	// A key rotated in during the interval: refused until it ends, then
	// accepted; the next interval opens one more question.
	rotated := mustEC(t)
	setA.set("rotated", &rotated.PublicKey)
	rotatedTok := signedAs(a, "rotated", "ES256", rotated)
	_, err = v.Verify(ctx, rotatedTok)
	require.ErrorIs(t, err, audit.ReasonUnknownKey, "inside the interval")
	clk.Advance(10 * time.Second)
	_, err = v.Verify(ctx, rotatedTok)
	require.NoError(t, err, "once the interval is over")
	for i := range 200 {
		_, err := v.Verify(ctx, forgedKid(a, "again-"+strconv.Itoa(i)))
		require.ErrorIs(t, err, audit.ReasonUnknownKey)
	}
	assert.Equal(t, 2, setA.questionsBut(kidA, "rotated"), "one more question in the next interval")
	_, err = v.Verify(ctx, rotatedTok)
	require.NoError(t, err, "a kid the set returned a key for is not rate-limited")
}

// TestKeySetSingleFlight: while the set is asked about a kid it has not
// returned a key for yet, requests naming that kid or other new kids wait
// for the answer instead of asking in parallel; then those naming the kid
// the set knows verify, and of the random kids one is asked about and the
// rest refused.
func TestKeySetSingleFlight(t *testing.T) {
	is := newIssuer(t, nil)
	kid := is.Kid("RS256")
	set := newCountingKeySet()
	set.set(kid, is.PublicKey(kid))
	set.hold = make(chan struct{})
	v := keySetValidator(t, is, set, newHardClock(fixedNow), func(c *validate.Config) {
		c.Fetch.Timeout = syncTimeout // the held question outlasts a slow start
	})
	ctx := context.Background()
	var returned atomic.Int64
	verify := func(tok string, out chan<- error) {
		_, err := v.Verify(ctx, tok)
		returned.Add(1)
		out <- err
	}

	known, random := make(chan error, 21), make(chan error, 20)
	go verify(is.Token(nil), known)
	assert.Equal(t, kid, receive(t, set.entered, "the first question"))
	for i := range 20 {
		go verify(is.Token(map[string]any{"jti": strconv.Itoa(i)}), known)
		go verify(forgedKid(is, "random-"+strconv.Itoa(i)), random)
	}
	waitParkedInVerify(t, 41, func() bool { return returned.Load() > 0 })
	assert.Equal(t, 1, set.questionsBut(), "one question while it is held")
	close(set.hold)

	for range 21 {
		assert.NoError(t, receive(t, known, "a verification with the known kid"))
	}
	for range 20 {
		assert.ErrorIs(t, receive(t, random, "a verification with a random kid"), audit.ReasonUnknownKey)
	}
	assert.Equal(t, 1, set.questionsBut(kid), "20 concurrent random kids: one question")
	assert.Equal(t, 21, set.questions(kid), "the known kid is asked about for each token")
}

// signedAs is a token of is signed by signer, whose header names kid.
func signedAs(is *validatetest.Issuer, kid, alg string, signer crypto.Signer) string {
	return is.TokenWith(validatetest.TokenOptions{Alg: alg, Signer: signer, Header: map[string]any{"kid": kid}}, nil)
}

// mustEC returns a new P-256 key.
func mustEC(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// TestKeySetWeakKeysRefused: the keys an application's KeySet returns get
// the checks of a JWK Set's: an RSA key under 2048 bits, an Ed25519 key of
// small order, an EC point off its curve, a key of another type, or one that
// cannot do the token's alg never verify, although each token below carries
// a signature that verifies under its key.
func TestKeySetWeakKeysRefused(t *testing.T) {
	is := newIssuer(t, &validatetest.Options{Algorithms: []string{"RS256", "ES256", "EdDSA"}})
	set := newCountingKeySet()
	v := keySetValidator(t, is, set, newHardClock(fixedNow), func(c *validate.Config) {
		c.Algorithms = []string{"RS256", "ES256", "EdDSA"}
	})

	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	set.set("rsa-1024", &rsa1024.PublicKey)
	identity := smallOrderEd25519(t)[0].x
	set.set("ed-identity", ed25519.PublicKey(identity))
	forged := ""
	for i := 0; i < 64 && forged == ""; i++ {
		input := strings.TrimSuffix(is.TokenWith(validatetest.TokenOptions{Alg: "EdDSA", NoSignature: true, Header: map[string]any{"kid": "ed-identity"}},
			map[string]any{"jti": "forged-" + strconv.Itoa(i)}), ".")
		if ed25519.Verify(identity, []byte(input), identitySignature()) {
			forged = input + "." + b64url(identitySignature())
		}
	}
	require.NotEmpty(t, forged, "premise: crypto/ed25519 accepts the forged signature")
	ec := mustEC(t)
	set.set("ec-off-curve", &ecdsa.PublicKey{Curve: elliptic.P256(), X: ec.X, Y: new(big.Int).Add(ec.Y, big.NewInt(1))})
	set.set("ec-private", ec) // a private key is not what Key returns
	set.set("rsa-for-es256", &mustRSA(t).PublicKey)
	_, goodEd, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	set.set("ed-good", goodEd.Public())

	for _, tc := range []struct {
		name, tok string
		want      error
	}{
		{"RSA 1024", signedAs(is, "rsa-1024", "RS256", rsa1024), audit.ReasonUnknownKey},
		{"Ed25519 identity, forged signature", forged, audit.ReasonUnknownKey},
		{"EC off its curve", signedAs(is, "ec-off-curve", "ES256", ec), audit.ReasonUnknownKey},
		{"EC private key", signedAs(is, "ec-private", "ES256", ec), audit.ReasonUnknownKey},
		{"RSA key, ES256 token", signedAs(is, "rsa-for-es256", "ES256", ec), audit.ReasonBadAlgorithm},
		{"good Ed25519", signedAs(is, "ed-good", "EdDSA", goodEd), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the verdict is the same when the key is known
				_, err := v.Verify(context.Background(), tc.tok)
				if tc.want == nil {
					require.NoError(t, err)
					continue
				}
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
}

// TestKeySetFailure: a KeySet that cannot answer gets the token a 503 with
// Retry-After, never a 401 and never a key; its error text stays out of the
// answer.
func TestKeySetFailure(t *testing.T) {
	is := newIssuer(t, nil)
	kid := is.Kid("RS256")
	set := newCountingKeySet()
	set.set(kid, is.PublicKey(kid))
	clk := newHardClock(fixedNow)
	v := keySetValidator(t, is, set, clk, func(c *validate.Config) { c.Cache.Disable = true })
	_, err := v.Verify(context.Background(), is.Token(nil))
	require.NoError(t, err, "positive control")

	set.setErr(errors.New("kms: connection refused"))
	_, err = v.Verify(context.Background(), is.Token(nil))
	require.ErrorIs(t, err, audit.ReasonKeysUnavailable)
	var e *rsguard.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusServiceUnavailable, e.Status)
	assert.Equal(t, audit.ReasonKeysUnavailable, e.Reason)
	assert.Positive(t, e.RetryAfter)
	assert.NotContains(t, e.Description, "kms")

	srv := newHardServer(t, guarded(t, v, protectedOK, nil))
	resp := srv.do(t, bearer(is.Token(nil)))
	assert.Equal(t, http.StatusServiceUnavailable, resp.status)
	assert.NotEmpty(t, resp.header.Get("Retry-After"))

	// A failed question about a new kid holds off the next one too.
	before := set.questionsBut(kid)
	for i := range 50 {
		_, err := v.Verify(context.Background(), forgedKid(is, "new-"+strconv.Itoa(i)))
		require.Error(t, err)
	}
	assert.Equal(t, before+1, set.questionsBut(kid), "a failing set is asked once per interval about new kids")

	// Neither a key nor an error.
	set.setErr(nil)
	set.set(kid, (*rsa.PublicKey)(nil))
	_, err = v.Verify(context.Background(), is.Token(nil))
	require.ErrorIs(t, err, audit.ReasonKeysUnavailable)
}

// TestKeySetWithdrawnKey: a key the set withdraws or replaces stops the
// tokens it verified at once, cached ones included.
func TestKeySetWithdrawnKey(t *testing.T) {
	is := newIssuer(t, nil)
	kid := is.Kid("RS256")
	set := newCountingKeySet()
	set.set(kid, is.PublicKey(kid))
	clk := newHardClock(fixedNow)
	v := keySetValidator(t, is, set, clk, nil)
	tok := is.Token(nil)
	for range 2 {
		_, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
	}
	set.set(kid, &mustRSA(t).PublicKey) // another key under the same kid
	_, err := v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, audit.ReasonBadSignature, "replaced key")
	set.set(kid, nil)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, audit.ReasonUnknownKey, "withdrawn key")
	set.set(kid, is.PublicKey(kid))
	clk.Advance(10 * time.Second)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err, "the key is back")
}

// TestKeySetConfig: a typed-nil KeySet, or one given with a JWKSURL, is a
// configuration error, wherever it is given.
func TestKeySetConfig(t *testing.T) {
	var typedNil *countingKeySet
	for _, cfg := range []validate.Config{
		{Issuer: "https://as.example", Resource: resource, Keys: typedNil},
		{Resource: resource, Issuers: []validate.IssuerConfig{{Issuer: "https://as.example", Keys: typedNil}}},
		{Resource: resource, Issuers: []validate.IssuerConfig{{Issuer: "https://as.example", Keys: newCountingKeySet(), JWKSURL: "https://as.example/jwks"}}},
	} {
		_, err := validate.New(context.Background(), cfg)
		require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
	}
	_, err := validate.New(context.Background(), validate.Config{Issuer: "https://as.example", Resource: resource, Keys: newCountingKeySet()})
	require.NoError(t, err, "positive control: no fetch, nothing to load")
}

// wrapped is a KeySet of the application's built on a static one: it
// goes through the guards of application key sets.
type wrapped struct{ validate.KeySet }

// TestStaticKeySet: NewStaticKeySet applies a fetched JWK Set's checks,
// refusing what a fetched set would skip with a warning; its Key method
// answers as a KeySet of the application must.
func TestStaticKeySet(t *testing.T) {
	is := newIssuer(t, nil)
	kid := is.Kid("RS256")
	jwk := func(k string) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal(is.PublicJWK(k), &m))
		return m
	}
	doc := func(keys ...any) []byte {
		b, err := json.Marshal(map[string]any{"keys": keys})
		require.NoError(t, err)
		return b
	}
	good := jwk(kid)
	enc := jwk(kid)
	enc["kid"], enc["use"] = "enc-key", "enc"
	private := jwk(kid)
	private["kid"], private["d"] = "leaked", "AQAB"
	for _, tc := range []struct {
		name string
		jwks []byte
	}{
		{"not JSON", []byte("{")},
		{"no keys member", []byte(`{}`)},
		{"no keys", doc()},
		{"no usable key", doc(enc)},
		{"a private key", doc(good, private)},
		{"a duplicate kid", doc(good, good)},
		{"a key that cannot be parsed", doc(good, map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x", "x": "AAAA"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validate.NewStaticKeySet(tc.jwks)
			require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
		})
	}

	set, err := validate.NewStaticKeySet(doc(good, enc))
	require.NoError(t, err)
	k, err := set.Key(context.Background(), kid, "RS256")
	require.NoError(t, err)
	assert.True(t, is.PublicKey(kid).(*rsa.PublicKey).Equal(k))
	_, err = set.Key(context.Background(), "enc-key", "RS256")
	assert.ErrorIs(t, err, audit.ReasonUnknownKey, "a key for encryption")
	_, err = set.Key(context.Background(), "nope", "RS256")
	assert.ErrorIs(t, err, audit.ReasonUnknownKey)
	_, err = set.Key(context.Background(), kid, "ES256")
	assert.ErrorIs(t, err, audit.ReasonBadAlgorithm)

	clk := newHardClock(fixedNow)
	for name, ks := range map[string]validate.KeySet{"static": set, "wrapped": wrapped{set}} {
		v := keySetValidator(t, is, ks, clk, nil)
		_, err = v.Verify(context.Background(), is.Token(nil))
		require.NoError(t, err, name)
		_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "enc-key"}}, nil))
		require.ErrorIs(t, err, audit.ReasonUnknownKey, name)
	}
}

// TestTenantRefusedByCheck: a tenant policy written as Config.Check, refusing
// with an error that wraps audit.ReasonBadIssuer, is answered and audited as an issuer
// refusal (bad_issuer), with the principal the token proved.
func TestTenantRefusedByCheck(t *testing.T) {
	is := newIssuer(t, nil)
	allowed := map[string]bool{"acme": true}
	v := newValidator(t, is, func(c *validate.Config) {
		c.TenantClaim = "tid"
		c.Check = func(_ context.Context, c *validate.Claims) error {
			if c.Issuer != is.URL || !allowed[c.Tenant()] {
				return fmt.Errorf("tenant %q is not served by %s: %w", c.Tenant(), c.Issuer, audit.ReasonBadIssuer)
			}
			return nil
		}
	})
	var got []audit.Decision
	var mu sync.Mutex
	srv := newHardServer(t, guarded(t, v, protectedOK, func(c *rsguard.Config) {
		c.OnDecision = func(_ context.Context, d audit.Decision) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, d)
		}
	}))
	assert.Equal(t, http.StatusOK, srv.do(t, bearer(is.Token(map[string]any{"tid": "acme"}))).status)
	resp := srv.do(t, bearer(is.Token(map[string]any{"tid": "globex"})))
	assert.Equal(t, http.StatusUnauthorized, resp.status)
	assert.Contains(t, resp.header.Get("WWW-Authenticate"), `error="invalid_token"`)
	assert.NotContains(t, resp.header.Get("WWW-Authenticate"), "globex", "the Check's text is not sent")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2)
	assert.Equal(t, audit.ReasonOK, got[0].Reason)
	assert.Equal(t, audit.ReasonBadIssuer, got[1].Reason)
	assert.Equal(t, "globex", got[1].Tenant, "the refusal names the tenant the token proved")

	_, err := v.Verify(context.Background(), is.Token(map[string]any{"tid": "globex"}))
	require.ErrorIs(t, err, audit.ReasonBadIssuer)
	require.ErrorContains(t, err, `tenant "globex" is not served`, "the refusal wraps the Check's error")
	assert.NotErrorIs(t, err, audit.ReasonRejected, "one class: bad_issuer")
	var e *rsguard.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, audit.ReasonBadIssuer, e.Reason)
	assert.Equal(t, "invalid_token", e.Code)
	assert.Equal(t, "the token's issuer or tenant is not accepted", e.Description)
}
