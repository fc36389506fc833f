package validate_test

// Tests of the fixes of the security review of introspection and DPoP
// (issue 14): each fails on the code before its fix.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// setStatus makes every answer of the fake AS have status (0: as usual).
func (as *fakeAS) setStatus(status int) {
	as.mu.Lock()
	as.status = status
	as.mu.Unlock()
}

// Item 1: with FailOpen, spending the rate limit does not revive a revoked
// token: the token with a stale positive answer is re-checked from the
// reserved budget, and when every budget is spent it gets 503, not the
// stale answer.
func TestReviewFailOpenNotOnSpentRateLimit(t *testing.T) {
	t.Run("the revoked token is re-checked", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) {
			c.Introspection.FailOpen = true
			c.Introspection.RateLimit = 1
		})
		as.set("known-token-1", as.good(nil))
		verifyOK(t, v, "known-token-1")
		clk.Advance(61 * time.Second) // past CacheTTL
		as.set("known-token-1", `{"active":false}`)
		a := guardAnswer(t, v, "made-up-token-1") // spends the shared budget
		assert.Equal(t, http.StatusUnauthorized, a.status)
		_, err := v.Verify(context.Background(), "known-token-1")
		assert.ErrorIs(t, err, audit.ReasonInactive, "the revocation bites")
		assert.Equal(t, int64(3), as.calls.Load())
	})
	t.Run("every budget spent: 503, never the stale answer", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) {
			c.Introspection.FailOpen = true
			c.Introspection.RateLimit = 1
		})
		as.set("known-token-a", as.good(nil))
		as.set("known-token-b", as.good(nil))
		verifyOK(t, v, "known-token-a")
		clk.Advance(time.Second)
		verifyOK(t, v, "known-token-b")
		clk.Advance(61 * time.Second)
		assert.Equal(t, http.StatusUnauthorized, guardAnswer(t, v, "made-up-token-1").status) // the shared budget
		verifyOK(t, v, "known-token-a")                                                       // the reserved one
		a := guardAnswer(t, v, "known-token-b")
		assert.Equal(t, http.StatusServiceUnavailable, a.status, "FailOpen does not apply to a spent rate limit")
		assert.NotEmpty(t, a.retryAfter)
		assert.Equal(t, int64(4), as.calls.Load())
	})
}

// Item 2: a flood of made-up tokens does not lock out tokens the endpoint
// already accepted (fail closed, the default), cached past CacheTTL or
// with a negative CacheTTL.
func TestReviewFloodDoesNotLockOutKnownTokens(t *testing.T) {
	for _, ttl := range []time.Duration{0, -1} {
		t.Run(fmt.Sprint("CacheTTL=", ttl), func(t *testing.T) {
			as, clk := newFakeAS(t), newIntroClock()
			v := introValidator(t, as, clk, func(c *validate.Config) {
				c.Introspection.RateLimit = 3
				c.Introspection.CacheTTL = ttl
			})
			as.set("known-token-1", as.good(nil))
			verifyOK(t, v, "known-token-1")
			clk.Advance(61 * time.Second)
			for i := range 20 {
				a := guardAnswer(t, v, fmt.Sprint("made-up-", i))
				if i >= 3 {
					assert.Equal(t, http.StatusServiceUnavailable, a.status)
				}
			}
			calls := as.calls.Load()
			for range 3 {
				verifyOK(t, v, "known-token-1")
			}
			if ttl < 0 {
				assert.Equal(t, calls+3, as.calls.Load(), "re-checked every time")
			} else {
				assert.Equal(t, calls+1, as.calls.Load(), "re-checked once, then fresh")
			}
		})
	}
}

// Item 3: a proof's RSA key has 2048 to 4096 bits and the exponent 65537,
// refused as a key before its (costly) signature is checked.
func TestReviewProofRSAKeyBounds(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k := newDPoPKey(t, "RS256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	big4097, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 4096))
	require.NoError(t, err)
	big4097.SetBit(big4097, 4096, 1).SetBit(big4097, 0, 1) // 4097 bits, odd
	big8192, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 8191))
	require.NoError(t, err)
	big8192.SetBit(big8192, 8191, 1).SetBit(big8192, 0, 1)
	for name, jwk := range map[string]map[string]any{
		"4097 bits": merge(k.jwk, map[string]any{"n": dpopB64.EncodeToString(big4097.Bytes())}),
		"8192 bits": merge(k.jwk, map[string]any{"n": dpopB64.EncodeToString(big8192.Bytes())}),
		"e 3":       merge(k.jwk, map[string]any{"e": "Aw"}),
		"e 2^31-1":  merge(k.jwk, map[string]any{"e": "f____w"}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, map[string]any{"jwk": jwk})))
			var e *rsguard.Error
			require.ErrorAs(t, err, &e)
			assert.ErrorIs(t, err, audit.ReasonBadDPoPProof)
			assert.Equal(t, "the DPoP proof's jwk is not an acceptable public key", e.Description, "refused as a key, before the signature")
		})
	}
	_, err = v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, nil)))
	require.NoError(t, err, "a 2048-bit key with e 65537")
}

// Item 4: an answer that echoes the token (as "jti", or in another member)
// never puts it in a log line, Claims.Get, Claims.Decode or Claims.ID.
func TestReviewAnswerEchoingTheToken(t *testing.T) {
	const tok = "opaque-Token-0123456789abcdefXYZ"
	as, clk := newFakeAS(t), newIntroClock()
	var logs logBuffer
	v := introValidator(t, as, clk, func(c *validate.Config) { c.Logger = logs.logger() })
	// A scope token outside RFC 6749 §3.3 makes the debug line about dropped
	// scope tokens, which names the jti, fire.
	as.set(tok, as.good(map[string]any{"jti": tok, "echo": tok, "scope": "read bad\\x"}))
	for range 2 { // the answer, then the cache
		c := verifyOK(t, v, tok)
		assert.Empty(t, c.ID)
		_, ok := c.Get("jti")
		assert.False(t, ok, "jti dropped")
		_, ok = c.Get("echo")
		assert.False(t, ok, "echo dropped")
		team, ok := c.Get("team")
		assert.True(t, ok)
		assert.Equal(t, "blue", team, "the other members are kept")
		var all map[string]any
		require.NoError(t, c.Decode(&all))
		b, err := json.Marshal(all)
		require.NoError(t, err)
		assert.NotContains(t, string(b), tok)
		assert.Equal(t, []string{"read"}, c.Scopes)
	}
	assert.Contains(t, logs.String(), "scope tokens outside", "the debug line ran")
	assertNoSecrets(t, logs.String(), tok)

	t.Run("escaped in the answer", func(t *testing.T) {
		const tok2 = "opaque-Token-2"
		as.set(tok2, `{"active":true,"iss":"`+as.issuer+`","aud":"`+introResource+`","exp":`+fmt.Sprint(introEpoch.Add(time.Hour).Unix())+
			`,"sub":"alice","token_type":"Bearer","jti":"\u006fpaque-Token-2","team":"blue"}`)
		c := verifyOK(t, v, tok2)
		_, ok := c.Get("jti")
		assert.False(t, ok)
		assert.Empty(t, c.ID)
	})
	t.Run("duplicates are still refused", func(t *testing.T) {
		const tok3 = "opaque-Token-3"
		as.set(tok3, `{"active":true,"jti":"opaque-Token-3","sub":"a","sub":"b"}`)
		_, err := v.Verify(context.Background(), tok3)
		assert.ErrorIs(t, err, audit.ReasonIntrospectionUnavailable, "not an answer the strict reader reads")
	})
}

// Item 5: a proof is not accepted twice at the very end of its window.
func TestReviewProofReplayAtWindowEnd(t *testing.T) {
	clock := newHardClock(fixedNow)
	is, v := dpopSetup(t, validate.DPoPAllowed, func(c *validate.Config) { c.Now = clock.Now })
	k := newDPoPKey(t, "ES256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}, "exp": fixedNow.Add(time.Hour).Unix()})
	pr := k.proof(t, tok, nil, nil) // iat fixedNow
	_, err := v.Authenticate(dpopRequest(tok, pr))
	require.NoError(t, err)
	clock.Advance(60*time.Second + 30*time.Second) // iat + ProofLifetime + Leeway: still in the window
	_, err = v.Authenticate(dpopRequest(tok, pr))
	assert.ErrorIs(t, err, audit.ReasonDPoPReplay)
	clock.Advance(time.Nanosecond)
	_, err = v.Authenticate(dpopRequest(tok, pr))
	assert.ErrorIs(t, err, audit.ReasonBadDPoPProof, "past the window: refused by its iat")
}

// Item 6: htu is checked against the path the client sent, which
// http.StripPrefix does not change.
func TestReviewHTUUnderStripPrefix(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k := newDPoPKey(t, "ES256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	seen := make(chan string, 4)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- r.URL.Path })
	mux := http.NewServeMux()
	mux.Handle("/mcp/", http.StripPrefix("/mcp", guarded(t, v, inner, nil)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	send := func(htu string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/mcp/x", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", k.proof(t, tok, map[string]any{"htu": htu}, nil))
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, send("https://mcp.example.com/x"), "a proof for the stripped path")
	assert.Equal(t, http.StatusOK, send("https://mcp.example.com/mcp/x"), "a proof for the path the client sent")
	assert.Equal(t, "/x", receive(t, seen, "the handler's path"))

	t.Run("request-target forms", func(t *testing.T) {
		for _, tc := range []struct {
			uri string
			ok  bool
		}{
			{"/mcp", true},
			{"/mcp?q=1", true},
			{"https://mcp.example.com/mcp", true},
			{"https://other.example/mcp", true}, // absolute form: its host is not used, Resource's origin is
			{"*", false},
			{"mcp.example.com:443", false},
			{"ftp://mcp.example.com/mcp", false},
		} {
			req := dpopRequest(tok, k.proof(t, tok, nil, nil))
			req.RequestURI = tc.uri
			_, err := v.Authenticate(req)
			if tc.ok {
				assert.NoError(t, err, tc.uri)
			} else {
				assert.ErrorIs(t, err, audit.ReasonBadDPoPProof, tc.uri)
			}
		}
		// No RequestURI (a request made in process): r.URL.
		req := dpopRequest(tok, k.proof(t, tok, nil, nil))
		req.RequestURI = ""
		_, err := v.Authenticate(req)
		assert.NoError(t, err)
	})
}

// Item 8: a jwk over 2 KiB (padded with members no key has) is refused.
func TestReviewProofJWKSize(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k := newDPoPKey(t, "ES256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	padded := merge(k.jwk, map[string]any{"pad": strings.Repeat("p", 2<<10)})
	checkDPoPRefusal(t, v, dpopRequest(tok, k.proof(t, tok, nil, map[string]any{"jwk": padded})),
		dpopWant{code: rsmeta.ErrorInvalidDPoPProof, reason: audit.ReasonBadDPoPProof})
	small := merge(k.jwk, map[string]any{"kid": strings.Repeat("k", 64)})
	_, err := v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, map[string]any{"jwk": small})))
	require.NoError(t, err, "unknown members within the bound are ignored")
}

// Item 9: configuration failures.
func TestReviewIntrospectionConfigFailures(t *testing.T) {
	t.Run("FailOpen with Cache.Disable", func(t *testing.T) {
		as := newFakeAS(t)
		_, err := validate.New(context.Background(), validate.Config{
			Issuer: as.issuer, Resource: introResource, Keys: staticKeySet(t, ed25519JWKS(t)),
			Cache:         validate.CacheOptions{Disable: true},
			Introspection: &validate.Introspection{Endpoint: as.endpoint(), ClientID: "rs", ClientSecret: "s", FailOpen: true},
		})
		require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "FailOpen")
	})
	t.Run("TokenPrefix no token can start with", func(t *testing.T) {
		as := newFakeAS(t)
		for _, prefix := range []string{"at ", "tok:", "=x", "a=b", "é"} {
			_, err := validate.New(context.Background(), validate.Config{
				Issuer: as.issuer, Resource: introResource, Keys: staticKeySet(t, ed25519JWKS(t)),
				Introspection: &validate.Introspection{Endpoint: as.endpoint(), ClientID: "rs", ClientSecret: "s", TokenPrefix: prefix},
			})
			require.ErrorIs(t, err, rsguard.ErrInvalidConfig, "%q", prefix)
			assert.Contains(t, err.Error(), "TokenPrefix")
		}
		for _, prefix := range []string{"at_", "tok.", "a+/~-", "abc=="} {
			_, err := validate.New(context.Background(), validate.Config{
				Issuer: as.issuer, Resource: introResource, Keys: staticKeySet(t, ed25519JWKS(t)),
				Introspection: &validate.Introspection{Endpoint: as.endpoint(), ClientID: "rs", ClientSecret: "s", TokenPrefix: prefix},
			})
			require.NoError(t, err, "%q", prefix)
		}
	})
	for _, tc := range []struct {
		name string
		mod  func(as *fakeAS)
	}{
		{"401", func(as *fakeAS) { as.secret = "rotated" }},
		{"400 invalid_client", func(as *fakeAS) {
			as.setStatus(http.StatusBadRequest)
			as.set("known-token-1", `{"error":"invalid_client","error_description":"client revoked"}`)
		}},
	} {
		t.Run("refused client credentials, FailOpen: "+tc.name, func(t *testing.T) {
			as, clk := newFakeAS(t), newIntroClock()
			var logs logBuffer
			v := introValidator(t, as, clk, func(c *validate.Config) {
				c.Introspection.FailOpen = true
				c.Logger = logs.logger()
			})
			as.set("known-token-1", as.good(nil))
			verifyOK(t, v, "known-token-1")
			clk.Advance(2 * time.Minute)
			tc.mod(as)
			for range 3 {
				a := guardAnswer(t, v, "known-token-1")
				assert.Equal(t, http.StatusServiceUnavailable, a.status, "fail closed: a configuration failure, not an outage")
			}
			assert.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"), "once per outage:\n%s", logs.String())
			assert.Zero(t, strings.Count(logs.String(), "level=WARN"), logs.String())
			assertNoSecrets(t, logs.String(), "known-token-1", "rotated", "s3cret")
		})
	}
	t.Run("400 without invalid_client is an outage", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		v := introValidator(t, as, clk, func(c *validate.Config) { c.Introspection.FailOpen = true })
		as.set("known-token-1", as.good(nil))
		verifyOK(t, v, "known-token-1")
		clk.Advance(2 * time.Minute)
		as.setStatus(http.StatusBadRequest)
		verifyOK(t, v, "known-token-1")
	})
}

// Item 10: answers marked as refresh, offline or ID tokens ("typ", as
// Keycloak does) are refused whatever token_type says.
func TestReviewIntrospectionTyp(t *testing.T) {
	as := newFakeAS(t)
	v := introValidator(t, as, newIntroClock(), nil)
	for _, typ := range []string{"Refresh", "Offline", "ID", "refresh"} {
		tok := "tok-" + typ
		as.set(tok, as.good(map[string]any{"typ": typ, "token_type": "Bearer"}))
		a := guardAnswer(t, v, tok)
		assert.Equal(t, http.StatusUnauthorized, a.status, typ)
		_, err := v.Verify(context.Background(), tok)
		assert.ErrorIs(t, err, audit.ReasonBadTokenType, typ)
	}
	as.set("tok-bearer", as.good(map[string]any{"typ": "Bearer"}))
	verifyOK(t, v, "tok-bearer")
	as.set("tok-typ-number", as.good(map[string]any{"typ": 1}))
	verifyOK(t, v, "tok-typ-number")
}

// Item 11: DPoP refusals name the token's kind; a jwk "alg" of EdDSA goes
// with a header Ed25519 and the reverse; the rate-limit and outage warnings
// are spaced each on its own.
func TestReviewNits(t *testing.T) {
	t.Run("credential of a DPoP refusal", func(t *testing.T) {
		as := newFakeAS(t)
		v := introValidator(t, as, newIntroClock(), func(c *validate.Config) { c.DPoP.Mode = validate.DPoPAllowed })
		for tok, want := range map[string]audit.Credential{
			"opaque-token-1": audit.CredentialIntrospection,
			"a.b.c.d.e":      audit.CredentialIntrospection, // a JWE
			unsignedJWS(map[string]any{"iss": "https://other.example"}): audit.CredentialJWT,
		} {
			_, err := v.Authenticate(dpopRequest(tok)) // no proof
			var e *rsguard.Error
			require.ErrorAs(t, err, &e)
			assert.ErrorIs(t, err, audit.ReasonBadDPoPProof)
			assert.Equal(t, want, e.Credential, tok)
		}
		assert.Zero(t, as.calls.Load())

		required := introValidator(t, as, newIntroClock(), func(c *validate.Config) { c.DPoP.Mode = validate.DPoPRequired })
		_, err := authenticate(required, "opaque-token-1") // as Bearer
		var e *rsguard.Error
		require.ErrorAs(t, err, &e)
		assert.ErrorIs(t, err, audit.ReasonDPoPRequired)
		assert.Equal(t, audit.CredentialIntrospection, e.Credential)
	})
	t.Run("EdDSA and Ed25519 are one alg", func(t *testing.T) {
		is, v := dpopSetup(t, validate.DPoPAllowed, nil)
		for _, tc := range []struct{ header, jwkAlg string }{{"Ed25519", "EdDSA"}, {"EdDSA", "Ed25519"}, {"EdDSA", "EdDSA"}} {
			k := newDPoPKey(t, tc.header)
			tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
			jwk := merge(k.jwk, map[string]any{"alg": tc.jwkAlg})
			_, err := v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, map[string]any{"jwk": jwk})))
			assert.NoError(t, err, "%s with jwk alg %s", tc.header, tc.jwkAlg)
		}
		k := newDPoPKey(t, "Ed25519")
		tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
		_, err := v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, map[string]any{"jwk": merge(k.jwk, map[string]any{"alg": "ES256"})})))
		assert.ErrorIs(t, err, audit.ReasonBadDPoPProof)
	})
	t.Run("separate warnings", func(t *testing.T) {
		as, clk := newFakeAS(t), newIntroClock()
		var logs logBuffer
		v := introValidator(t, as, clk, func(c *validate.Config) {
			c.Introspection.RateLimit = 1
			c.Logger = logs.logger()
		})
		guardAnswer(t, v, "made-up-1")
		a := guardAnswer(t, v, "made-up-2")
		require.Equal(t, http.StatusServiceUnavailable, a.status)
		require.Contains(t, logs.String(), "rate limit")
		clk.Advance(time.Second)
		as.setStatus(http.StatusBadGateway)
		guardAnswer(t, v, "made-up-3")
		assert.Equal(t, 2, strings.Count(logs.String(), "level=WARN"), "the outage is logged too:\n%s", logs.String())
		assert.Contains(t, logs.String(), "endpoint unavailable")
	})
}
