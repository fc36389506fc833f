package validate_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"slices"
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

// clock is a settable clock for rate-limit tests.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock        { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestDiscovery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    validatetest.Options
		wantErr string
	}{
		{name: "RFC 8414 at the root", opts: validatetest.Options{}},
		{name: "RFC 8414 with path insertion", opts: validatetest.Options{Path: "/tenants/a"}},
		{name: "OpenID Connect only", opts: validatetest.Options{DisableMetadata: true}},
		{name: "OpenID Connect only, issuer with a path", opts: validatetest.Options{Path: "/realms/x", DisableMetadata: true}},
		{name: "issuer mismatch refused", opts: validatetest.Options{Metadata: map[string]any{"issuer": "https://evil.example"}}, wantErr: "does not equal the configured issuer"},
		{name: "no jwks_uri", opts: validatetest.Options{Metadata: map[string]any{"jwks_uri": nil}}, wantErr: "no jwks_uri"},
		{name: "plain-http jwks_uri refused", opts: validatetest.Options{Metadata: map[string]any{"jwks_uri": "http://keys.example.com/jwks"}}, wantErr: "https"},
		{name: "nothing served", opts: validatetest.Options{DisableMetadata: true, DisableOpenIDConfiguration: true}, wantErr: "status 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			is := newIssuer(t, &opts)
			v, err := validate.New(context.Background(), validate.Config{
				Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()},
				Now: func() time.Time { return fixedNow },
			})
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			_, err = v.Verify(context.Background(), is.Token(nil))
			require.NoError(t, err)
		})
	}
}

func TestConfigRefused(t *testing.T) {
	good := validate.Config{Issuer: "https://as.example", Resource: resource, Keys: staticKeySet(t, ed25519JWKS(t))}
	for _, tc := range []struct {
		name string
		mod  func(*validate.Config)
	}{
		{"no issuer", func(c *validate.Config) { c.Issuer = "" }},
		{"relative issuer", func(c *validate.Config) { c.Issuer = "/as" }},
		{"issuer with fragment", func(c *validate.Config) { c.Issuer = "https://as.example#x" }},
		{"no resource", func(c *validate.Config) { c.Resource = "" }},
		{"resource with fragment", func(c *validate.Config) { c.Resource = "https://h/mcp#f" }},
		{"plain-http resource off loopback", func(c *validate.Config) { c.Resource = "http://mcp.example.com/mcp" }},
		{"alg none", func(c *validate.Config) { c.Algorithms = []string{"none"} }},
		{"alg HS256", func(c *validate.Config) { c.Algorithms = []string{"RS256", "HS256"} }},
		{"leeway too large", func(c *validate.Config) { c.Leeway = time.Hour }},
		{"Keys and JWKSURL", func(c *validate.Config) { c.JWKSURL = "https://keys.example.com/jwks" }},
		{"typed-nil Keys", func(c *validate.Config) { c.Keys = (*countingKeySet)(nil) }},
		{"Keys without Issuer", func(c *validate.Config) {
			c.Issuers = []validate.IssuerConfig{{Issuer: "https://other.example", Keys: c.Keys}}
			c.Issuer = ""
		}},
		{"plain-http JWKS URL", func(c *validate.Config) { c.Keys = nil; c.JWKSURL = "http://keys.example.com/jwks" }},
		// Refused before any request: the test must not send traffic off the machine.
		{"plain-http issuer off loopback, discovery", func(c *validate.Config) { c.Keys = nil; c.Issuer = "http://as.invalid" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mod(&cfg)
			_, err := validate.New(context.Background(), cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, rsguard.ErrInvalidConfig)
		})
	}
}

func TestIssuerUnreachableAtStart(t *testing.T) {
	is := newIssuer(t, nil)
	is.SetDown(true)

	// Default: fail fast.
	_, err := validate.New(context.Background(), validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()}})
	require.Error(t, err)
	assert.NotErrorIs(t, err, rsguard.ErrInvalidConfig)

	// Lazy: start, answer 503-class errors, recover once the issuer is up.
	clk := newClock(fixedNow)
	v := newValidator(t, is, func(c *validate.Config) {
		c.Fetch.Lazy = true
		c.Now = clk.Now
		c.Fetch.MinRefreshInterval = time.Second
	})
	tok := is.Token(nil)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, audit.ReasonKeysUnavailable)
	var e *rsguard.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusServiceUnavailable, e.Status)

	is.SetDown(false)
	clk.Advance(2 * time.Second) // past the unknown-kid rate limit
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err)
}

func TestIssuerDownAfterStart(t *testing.T) {
	is := newIssuer(t, nil)
	clk := newClock(fixedNow)
	v := newValidator(t, is, func(c *validate.Config) { c.Now = clk.Now })
	is.SetDown(true)
	clk.Advance(time.Hour)
	// Cached keys keep verifying; tokens minted at the same fake time.
	tok := is.Token(map[string]any{"iat": clk.Now().Unix(), "exp": clk.Now().Add(time.Minute).Unix()})
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	// An unknown kid while down: refused as unknown, not unavailable.
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Signer: attacker, Header: map[string]any{"kid": "new"}},
		map[string]any{"iat": clk.Now().Unix(), "exp": clk.Now().Add(time.Minute).Unix()}))
	require.ErrorIs(t, err, audit.ReasonUnknownKey)
}

func TestRotation(t *testing.T) {
	is := newIssuer(t, nil)
	first := is.Kid("RS256") // the first key of the JWK Set
	clk := newClock(fixedNow)
	v := newValidator(t, is, func(c *validate.Config) { c.Now = clk.Now })
	base := is.Requests(is.JWKSURL)

	// A burst of random kids: at most one fetch.
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	var wg sync.WaitGroup
	var fails failures // see failures: no testify on the goroutines
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := is.TokenWith(validatetest.TokenOptions{Signer: attacker, Header: map[string]any{"kid": "random-" + strconv.Itoa(i)}}, nil)
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, audit.ReasonUnknownKey) {
				fails.add("random kid %d: error %v, not audit.ReasonUnknownKey", i, err)
			}
		}()
	}
	wg.Wait()
	assert.Empty(t, fails.all(), "failures in the concurrent goroutines")
	assert.LessOrEqual(t, is.Requests(is.JWKSURL)-base, 1, "200 random kids must cost at most one fetch inside the interval")

	// A key rotated in right after the burst: refused inside the rate-limit
	// interval, accepted once it has passed (10 s by default, within 30 s).
	kid := is.Rotate("RS256")
	tok := is.Token(nil)
	clk.Advance(10*time.Second + time.Second)
	c, err := v.Verify(context.Background(), tok)
	require.NoError(t, err, "rotated-in key %s", kid)
	assert.NotNil(t, c)
	assert.LessOrEqual(t, is.Requests(is.JWKSURL)-base, 2)

	// Retired key: once the set is refetched without it, its tokens fail.
	old := first
	is.Retire(old)
	clk.Advance(10*time.Second + time.Second)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "trigger-refresh"}}, nil))
	require.Error(t, err)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Key: old}, nil))
	require.ErrorIs(t, err, audit.ReasonUnknownKey)
}

// TestSingleFlight: callers that meet an unknown kid while a refresh is in
// flight wait for that one fetch and use what it brought. The JWKS handler
// holds the fetch until every caller is parked in Verify, so the outcome
// does not depend on scheduling: one fetch, and every caller verifies with
// the key that only that fetch delivered.
func TestSingleFlight(t *testing.T) {
	is := newIssuer(t, &validatetest.Options{Now: time.Now})
	v := newValidator(t, is, func(c *validate.Config) {
		c.Now = time.Now
		c.Fetch.MinRefreshInterval = time.Nanosecond // no rate limit to hide a second fetch
		c.Fetch.Timeout = syncTimeout                // the held fetch outlasts a slow start
	})
	published := []string{is.Kid("RS256"), is.Kid("PS256"), is.Kid("ES256"), is.Kid("EdDSA")}
	kid := is.Rotate("RS256") // published, but unknown to v until it refetches
	published = append(published, kid)
	tok := is.TokenWith(validatetest.TokenOptions{Key: kid}, nil)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	releaseFetch := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseFetch) // a failed test must not leave the fetch held
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
		_, _ = w.Write(jwksOf(is, published...))
	}))

	const callers = 50
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	receive(t, entered, "JWKS fetch")
	waitParkedInVerify(t, callers, func() bool { return len(errs) > 0 })
	releaseFetch()
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err, "a caller did not get the rotated-in key %s from the shared fetch", kid)
	}
	assert.Equal(t, int64(1), served.Load(), "%d concurrent unknown kids share one JWKS fetch", callers)
}

func TestBadJWKSResponses(t *testing.T) {
	big := bytes.Repeat([]byte(" "), 2<<20)
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"garbage", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>nope")) }},
		{"huge", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"keys":[`))
			w.Write(big)
		}},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }},
		{"no usable key", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`))
		}},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := newIssuer(t, nil)
			is.Handle(is.JWKSURL, tc.h)
			start := time.Now()
			_, err := validate.New(context.Background(), validate.Config{
				Issuer: is.URL, Resource: resource,
				Fetch: validate.FetchOptions{HTTPClient: is.Client(), Timeout: 300 * time.Millisecond},
			})
			require.Error(t, err)
			assert.Less(t, time.Since(start), 3*time.Second, "start-up must be bounded")
		})
	}
}

func TestKeyUseAndStrength(t *testing.T) {
	is := newIssuer(t, nil)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	enc, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	mismatch, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	weakKid := is.AddKey(validatetest.Key{Signer: weak})
	encKid := is.AddKey(validatetest.Key{Signer: enc, JWK: map[string]any{"use": "enc"}})
	opsKid := is.AddKey(validatetest.Key{Signer: enc, JWK: map[string]any{"kid": "ops", "key_ops": []string{"encrypt"}}})
	mmKid := is.AddKey(validatetest.Key{Signer: mismatch, Alg: "RS256", JWK: map[string]any{"alg": "PS256"}})
	v := newValidator(t, is, nil)
	base := is.Requests(is.JWKSURL)
	for _, tc := range []struct {
		name string
		kid  string
		alg  string
		want error
	}{
		{"RSA 1024", weakKid, "RS256", audit.ReasonUnknownKey},
		{"use enc", encKid, "RS256", audit.ReasonUnknownKey},
		{"key_ops without verify", opsKid, "RS256", audit.ReasonUnknownKey},
		{"JWK alg disagrees with header", mmKid, "RS256", audit.ReasonBadAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Key: tc.kid, Alg: tc.alg}, nil))
			require.ErrorIs(t, err, tc.want)
		})
	}
	assert.Equal(t, base, is.Requests(is.JWKSURL), "a known but unusable kid must not trigger a refresh")
}

func TestCheckHook(t *testing.T) {
	is := newIssuer(t, nil)
	revoked := errors.New("revoked jti")
	policy := errors.New("tenant policy")
	// One shared *Error, as a Check may well return: never written to.
	custom := &rsguard.Error{Status: 403, Code: "insufficient_scope", Description: "tenant not allowed", Err: policy}
	v := newValidator(t, is, func(c *validate.Config) {
		c.Check = func(ctx context.Context, c *validate.Claims) error {
			if c.ID == "bad" {
				return revoked
			}
			if c.ID == "custom" {
				return custom
			}
			return nil
		}
	})
	_, err := v.Verify(context.Background(), is.Token(map[string]any{"jti": "ok"}))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), is.Token(map[string]any{"jti": "bad"}))
	require.ErrorIs(t, err, audit.ReasonRejected)
	require.ErrorIs(t, err, revoked)
	var e *rsguard.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 401, e.Status)
	assert.Equal(t, "invalid_token", e.Code)
	assert.Equal(t, "the access token was rejected", e.Description)
	assert.NotContains(t, e.Description, "revoked jti", "the hook's error text is not sent to clients")
	assert.Equal(t, audit.ReasonRejected, e.Reason)
	if assert.NotNil(t, e.Principal, "refused after verification: the audit trail names who") {
		assert.Equal(t, "user:"+is.URL+"#"+"test-subject", e.Principal.Subject)
		assert.Equal(t, "bad", e.Principal.TokenID)
	}
	_, err = v.Verify(context.Background(), is.Token(map[string]any{"jti": "custom"}))
	require.ErrorAs(t, err, &e)
	assert.NotSame(t, custom, e, "the hook's own *Error is copied")
	assert.Equal(t, 403, e.Status)
	assert.Equal(t, "insufficient_scope", e.Code)
	assert.Equal(t, "tenant not allowed", e.Description)
	assert.Equal(t, audit.ReasonRejected, e.Reason)
	assert.ErrorIs(t, err, policy)
	assert.Equal(t, audit.CredentialJWT, e.Credential)
	assert.NotNil(t, e.Principal)
	assert.Equal(t, rsguard.Error{Status: 403, Code: "insufficient_scope", Description: "tenant not allowed", Err: policy}, *custom)
}

func TestStaticJWKS(t *testing.T) {
	is := newIssuer(t, nil)
	resp, err := is.Client().Get(is.JWKSURL)
	require.NoError(t, err)
	var raw json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	resp.Body.Close()
	v, err := validate.New(context.Background(), validate.Config{Issuer: is.URL, Resource: resource, Keys: staticKeySet(t, raw), Now: func() time.Time { return fixedNow }})
	require.NoError(t, err)
	before := is.Requests(is.JWKSURL)
	_, err = v.Verify(context.Background(), is.Token(nil))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "x"}}, nil))
	require.ErrorIs(t, err, audit.ReasonUnknownKey)
	assert.Equal(t, before, is.Requests(is.JWKSURL))
}

func TestRedirectOffHTTPSRefused(t *testing.T) {
	is := newIssuer(t, nil)
	is.Handle(is.JWKSURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://keys.invalid/jwks", http.StatusFound)
	}))
	_, err := validate.New(context.Background(), validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redirect refused")
}

// ed25519Encoding returns the 32-byte encoding of RFC 8032 §5.1.2 of the
// integer y (any value below 2^255, non-canonical ones included): y
// little-endian, with the top bit, the sign of x, set when negative is true.
func ed25519Encoding(y *big.Int, negative bool) []byte {
	b := y.FillBytes(make([]byte, ed25519.PublicKeySize))
	slices.Reverse(b)
	if negative {
		b[31] |= 0x80
	}
	return b
}

// ed25519Prime is 2^255 - 19, the field prime of Ed25519 (RFC 8032 §5.1).
func ed25519Prime() *big.Int {
	return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
}

// smallOrderEd25519 lists every 32-byte string that crypto/ed25519 decodes
// to a point of small order. Ed25519's curve has 8·L points: 8 of them (of
// order 1, 2, 4 and 8) have small order. Besides their 8 canonical
// encodings, crypto/ed25519 also decodes y + p when that fits in 255 bits
// (y = 0 and y = 1 only), and x = 0 with the sign bit set.
func smallOrderEd25519(t *testing.T) []struct {
	name string
	x    []byte
} {
	p := ed25519Prime()
	y := func(v *big.Int, d int64) *big.Int { return new(big.Int).Add(v, big.NewInt(d)) }
	zero := new(big.Int)
	order8, err := hex.DecodeString("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
	require.NoError(t, err)
	slices.Reverse(order8) // little-endian to big-endian
	y8 := new(big.Int).SetBytes(order8)
	return []struct {
		name string
		x    []byte
	}{
		{"order 1 (identity), y=1", ed25519Encoding(y(zero, 1), false)},
		{"order 1, y=1, x=-0", ed25519Encoding(y(zero, 1), true)},
		{"order 1, y=p+1", ed25519Encoding(y(p, 1), false)},
		{"order 1, y=p+1, x=-0", ed25519Encoding(y(p, 1), true)},
		{"order 2, y=p-1", ed25519Encoding(y(p, -1), false)},
		{"order 2, y=p-1, x=-0", ed25519Encoding(y(p, -1), true)},
		{"order 4, y=0, x>0", ed25519Encoding(zero, false)},
		{"order 4, y=0, x<0", ed25519Encoding(zero, true)},
		{"order 4, y=p, x>0", ed25519Encoding(p, false)},
		{"order 4, y=p, x<0", ed25519Encoding(p, true)},
		{"order 8, y=y8, x>0", ed25519Encoding(y8, false)},
		{"order 8, y=y8, x<0", ed25519Encoding(y8, true)},
		{"order 8, y=p-y8, x>0", ed25519Encoding(new(big.Int).Sub(p, y8), false)},
		{"order 8, y=p-y8, x<0", ed25519Encoding(new(big.Int).Sub(p, y8), true)},
	}
}

// okpJWK is a public Ed25519 JWK (RFC 8037 §2) shaped as issuers publish it.
func okpJWK(kid string, x []byte) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64url(x), "kid": kid, "alg": "EdDSA", "use": "sig"}
}

// identitySignature is R = the encoding of the identity point, S = 0: under
// a small-order key A, crypto/ed25519.Verify checks [S]B - [k]A == R, that is
// [k]A == identity, which holds whenever the order of A divides k =
// SHA-512(R || A || M) mod L — for every message when A is the identity, for
// one message in 2, 4 or 8 otherwise.
func identitySignature() []byte {
	sig := make([]byte, ed25519.SignatureSize)
	sig[0] = 1
	return sig
}

// forgeEd25519 returns a token naming kid, with valid claims and the
// signature identitySignature, that crypto/ed25519.Verify accepts under pub
// (varying "jti" until it does). With ok false, none of 64 tries verified —
// what happens for any key that is not of small order.
func forgeEd25519(is *validatetest.Issuer, kid string, pub []byte) (token string, ok bool) {
	sig := identitySignature()
	for i := range 64 {
		input := is.TokenWith(validatetest.TokenOptions{Key: kid, Alg: "EdDSA", NoSignature: true},
			map[string]any{"jti": "forged-" + strconv.Itoa(i)})
		input = strings.TrimSuffix(input, ".")
		if ed25519.Verify(pub, []byte(input), sig) {
			return input + "." + b64url(sig), true
		}
	}
	return "", false
}

// TestDegenerateEd25519KeysRefused: an issuer's JWK Set that publishes an
// Ed25519 key of small order (of any encoding crypto/ed25519 accepts), an
// encoding with y >= p, or a string that is no curve point, must not make
// tokens naming that key verify. For small-order keys the tokens carry a
// signature crypto/ed25519.Verify accepts (anyone can forge it, for any
// claims), so the test fails if the key is used at all.
func TestDegenerateEd25519KeysRefused(t *testing.T) {
	identity := smallOrderEd25519(t)[0].x
	require.True(t, ed25519.Verify(identity, []byte(`{"sub":"anyone","scope":"admin"}`), identitySignature()),
		"premise: crypto/ed25519 accepts R=identity, S=0 for any message under the identity key")

	is := newIssuer(t, nil)
	pubGenuine, genuine, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	genuineKid := is.AddKey(validatetest.Key{JWK: okpJWK("genuine", pubGenuine)})

	type tc struct{ name, kid, token string }
	var cases []tc
	for i, so := range smallOrderEd25519(t) {
		kid := is.AddKey(validatetest.Key{JWK: okpJWK("small-order-"+strconv.Itoa(i), so.x)})
		tok, ok := forgeEd25519(is, kid, so.x)
		require.True(t, ok, "%s: premise: crypto/ed25519.Verify accepts a forged signature", so.name)
		cases = append(cases, tc{so.name, kid, tok})
	}
	p := ed25519Prime()
	for _, other := range []struct {
		name string
		x    []byte
	}{
		// y = 2 gives x^2 = 3/(4d+1), not a square mod p (TestCheckEd25519).
		{"not on the curve, y=2", ed25519Encoding(big.NewInt(2), false)},
		// y = 3 is on the curve, with a point of large order.
		{"non-canonical y=p+3 of a large-order point", ed25519Encoding(new(big.Int).Add(p, big.NewInt(3)), false)},
		{"non-canonical y=2^255-1", bytes.Repeat([]byte{0xff}, 32)},
	} {
		kid := is.AddKey(validatetest.Key{JWK: okpJWK(other.name, other.x)})
		tok := is.TokenWith(validatetest.TokenOptions{Key: kid, Alg: "EdDSA", NoSignature: true}, nil) + b64url(identitySignature())
		cases = append(cases, tc{other.name, kid, tok})
	}

	v := newValidator(t, is, nil)
	base := is.Requests(is.JWKSURL)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), c.token)
			require.ErrorIs(t, err, audit.ReasonUnknownKey)
		})
	}
	t.Run("genuine key in the same JWK shape", func(t *testing.T) {
		_, err := v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Key: genuineKid, Signer: genuine}, nil))
		require.NoError(t, err)
	})
	assert.Equal(t, base, is.Requests(is.JWKSURL), "a known but unusable kid must not trigger a refresh")

	t.Run("a set whose only key is of small order is refused", func(t *testing.T) {
		jwks, err := json.Marshal(map[string]any{"keys": []any{okpJWK("identity", identity)}})
		require.NoError(t, err)
		_, err = validate.NewStaticKeySet(jwks)
		require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
	})
}

// ecJWK is a public EC JWK (RFC 7518 §6.2.1) with the given coordinates,
// each padded to the curve's size.
func ecJWK(kid string, curve elliptic.Curve, x, y *big.Int) map[string]any {
	size := (curve.Params().BitSize + 7) / 8
	alg := map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[curve.Params().Name]
	return map[string]any{"kty": "EC", "crv": curve.Params().Name, "kid": kid, "alg": alg, "use": "sig",
		"x": b64url(x.FillBytes(make([]byte, size))), "y": b64url(y.FillBytes(make([]byte, size)))}
}

// TestOffCurveECKeysRefused: an EC key whose point is not on its curve
// (including the all-zero coordinates that stand for the point at infinity)
// is refused when the key set is loaded, while a genuine key in the same JWK
// shape verifies.
func TestOffCurveECKeysRefused(t *testing.T) {
	is := newIssuer(t, nil)
	type tc struct {
		name, kid string
		signer    *ecdsa.PrivateKey
		want      error
	}
	var cases []tc
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		name := curve.Params().Name
		priv, err := ecdsa.GenerateKey(curve, rand.Reader)
		require.NoError(t, err)
		ek, err := priv.PublicKey.ECDH()
		require.NoError(t, err)
		point := ek.Bytes() // 0x04 || X || Y
		size := (len(point) - 1) / 2
		x, y := new(big.Int).SetBytes(point[1:1+size]), new(big.Int).SetBytes(point[1+size:])
		yPlus1 := new(big.Int).Add(y, big.NewInt(1))
		//lint:ignore SA1019 an oracle independent of the ECDH check under test
		require.False(t, curve.IsOnCurve(x, yPlus1), "premise")
		zero := new(big.Int)
		cases = append(cases,
			tc{name + " genuine", is.AddKey(validatetest.Key{JWK: ecJWK(name+"-genuine", curve, x, y)}), priv, nil},
			tc{name + " off the curve", is.AddKey(validatetest.Key{JWK: ecJWK(name+"-off", curve, x, yPlus1)}), priv, audit.ReasonUnknownKey},
			tc{name + " zero coordinates (point at infinity)", is.AddKey(validatetest.Key{JWK: ecJWK(name+"-zero", curve, zero, zero)}), priv, audit.ReasonUnknownKey},
		)
	}
	v := newValidator(t, is, func(c *validate.Config) { c.Algorithms = []string{"ES256", "ES384", "ES512"} })
	base := is.Requests(is.JWKSURL)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Key: c.kid, Signer: c.signer}, nil))
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.want)
		})
	}
	assert.Equal(t, base, is.Requests(is.JWKSURL), "a known but unusable kid must not trigger a refresh")
}
