package validate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
				Issuer: is.URL(), Resource: resource, HTTPClient: is.Client(),
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
	good := validate.Config{Issuer: "https://as.example", Resource: resource, JWKS: json.RawMessage(`{"keys":[]}`)}
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
		{"empty static JWKS", func(c *validate.Config) {}},
		{"plain-http JWKS URL", func(c *validate.Config) { c.JWKS = nil; c.JWKSURL = "http://keys.example.com/jwks" }},
		// Refused before any request: the test must not send traffic off the machine.
		{"plain-http issuer off loopback, discovery", func(c *validate.Config) { c.JWKS = nil; c.Issuer = "http://as.invalid" }},
		{"challenge scope with a quote", func(c *validate.Config) {
			c.JWKS = nil
			c.JWKSURL = "https://127.0.0.1:1/jwks"
			c.Lazy = true
			c.ChallengeScopes = []string{`a"b`}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mod(&cfg)
			_, err := validate.New(context.Background(), cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, validate.ErrConfig)
		})
	}
}

func TestIssuerUnreachableAtStart(t *testing.T) {
	is := newIssuer(t, nil)
	is.SetDown(true)

	// Default: fail fast.
	_, err := validate.New(context.Background(), validate.Config{Issuer: is.URL(), Resource: resource, HTTPClient: is.Client()})
	require.Error(t, err)
	assert.NotErrorIs(t, err, validate.ErrConfig)

	// Lazy: start, answer 503-class errors, recover once the issuer is up.
	clk := newClock(fixedNow)
	v := newValidator(t, is, func(c *validate.Config) {
		c.Lazy = true
		c.Now = clk.Now
		c.MinRefreshInterval = time.Second
	})
	tok := is.Token(nil)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, validate.ErrKeysUnavailable)
	var e *validate.Error
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
	require.ErrorIs(t, err, validate.ErrUnknownKey)
}

func TestRotation(t *testing.T) {
	is := newIssuer(t, nil)
	clk := newClock(fixedNow)
	v := newValidator(t, is, func(c *validate.Config) { c.Now = clk.Now })
	base := is.JWKSRequests()

	// A burst of random kids: at most one fetch.
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := is.TokenWith(validatetest.TokenOptions{Signer: attacker, Header: map[string]any{"kid": "random-" + strconv.Itoa(i)}}, nil)
			_, err := v.Verify(context.Background(), tok)
			assert.ErrorIs(t, err, validate.ErrUnknownKey)
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, is.JWKSRequests()-base, int64(1), "200 random kids must cost at most one fetch inside the interval")

	// A key rotated in right after the burst: refused inside the rate-limit
	// interval, accepted once it has passed (10 s by default, within 30 s).
	kid := is.Rotate("RS256")
	tok := is.Token(nil)
	clk.Advance(validate.DefaultMinRefreshInterval + time.Second)
	c, err := v.Verify(context.Background(), tok)
	require.NoError(t, err, "rotated-in key %s", kid)
	assert.NotNil(t, c)
	assert.LessOrEqual(t, is.JWKSRequests()-base, int64(2))

	// Retired key: once the set is refetched without it, its tokens fail.
	old := is.Kids()[0]
	is.Retire(old)
	clk.Advance(validate.DefaultMinRefreshInterval + time.Second)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "trigger-refresh"}}, nil))
	require.Error(t, err)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Key: old}, nil))
	require.ErrorIs(t, err, validate.ErrUnknownKey)
}

func TestSingleFlight(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, func(c *validate.Config) { c.MinRefreshInterval = time.Nanosecond })
	// A slow JWKS: concurrent unknown kids share the one in-flight fetch.
	release := make(chan struct{})
	var served atomic.Int64
	is.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "unknown"}}, nil))
			assert.Error(t, err)
		}()
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	assert.LessOrEqual(t, served.Load(), int64(3))
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
			is.SetJWKSHandler(tc.h)
			start := time.Now()
			_, err := validate.New(context.Background(), validate.Config{
				Issuer: is.URL(), Resource: resource, HTTPClient: is.Client(),
				FetchTimeout: 300 * time.Millisecond,
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
	base := is.JWKSRequests()
	for _, tc := range []struct {
		name string
		kid  string
		alg  string
		want error
	}{
		{"RSA 1024", weakKid, "RS256", validate.ErrUnknownKey},
		{"use enc", encKid, "RS256", validate.ErrUnknownKey},
		{"key_ops without verify", opsKid, "RS256", validate.ErrUnknownKey},
		{"JWK alg disagrees with header", mmKid, "RS256", validate.ErrAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Key: tc.kid, Alg: tc.alg}, nil))
			require.ErrorIs(t, err, tc.want)
		})
	}
	assert.Equal(t, base, is.JWKSRequests(), "a known but unusable kid must not trigger a refresh")
}

func TestCheckHook(t *testing.T) {
	is := newIssuer(t, nil)
	revoked := errors.New("revoked jti")
	v := newValidator(t, is, func(c *validate.Config) {
		c.Check = func(ctx context.Context, c *validate.Claims) error {
			if c.ID == "bad" {
				return revoked
			}
			if c.ID == "custom" {
				return &validate.Error{Status: 403, Code: "insufficient_scope", Description: "tenant not allowed", Err: validate.ErrRejected}
			}
			return nil
		}
	})
	_, err := v.Verify(context.Background(), is.Token(map[string]any{"jti": "ok"}))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), is.Token(map[string]any{"jti": "bad"}))
	require.ErrorIs(t, err, validate.ErrRejected)
	require.ErrorIs(t, err, revoked)
	var e *validate.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 401, e.Status)
	assert.NotContains(t, e.Description, "revoked jti", "the hook's error text is not sent to clients")
	_, err = v.Verify(context.Background(), is.Token(map[string]any{"jti": "custom"}))
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 403, e.Status)
}

func TestStaticJWKS(t *testing.T) {
	is := newIssuer(t, nil)
	resp, err := is.Client().Get(is.JWKSURL())
	require.NoError(t, err)
	var raw json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	resp.Body.Close()
	v, err := validate.New(context.Background(), validate.Config{Issuer: is.URL(), Resource: resource, JWKS: raw, Now: func() time.Time { return fixedNow }})
	require.NoError(t, err)
	before := is.JWKSRequests()
	_, err = v.Verify(context.Background(), is.Token(nil))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "x"}}, nil))
	require.ErrorIs(t, err, validate.ErrUnknownKey)
	assert.Equal(t, before, is.JWKSRequests())
}

func TestRedirectOffHTTPSRefused(t *testing.T) {
	is := newIssuer(t, nil)
	is.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://keys.invalid/jwks", http.StatusFound)
	}))
	_, err := validate.New(context.Background(), validate.Config{Issuer: is.URL(), Resource: resource, HTTPClient: is.Client()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redirect refused")
}
