package validate_test

// The DPoP attack corpus at the unit level, beside dpop_test.go: the
// categories of issue 14 that its tables cover with fewer than five cases —
// header smuggling, replay, clock edges and downgrade — each get their own
// table here (the conformance kit's dpop section sends the same attacks
// over HTTP).

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestDPoPHeaderSmuggling: the token and the proof each travel in one
// place only (RFC 9449 §4.3 step 1, §7.1).
func TestDPoPHeaderSmuggling(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k := newDPoPKey(t, "ES256")
	badRequest := dpopWant{status: http.StatusBadRequest, code: rsmeta.ErrorInvalidRequest, reason: audit.ReasonInvalidRequest}
	noProof := dpopWant{code: rsmeta.ErrorInvalidDPoPProof, reason: audit.ReasonBadDPoPProof}
	for _, tc := range []struct {
		name string
		req  func(tok string) *http.Request
		want dpopWant
	}{
		{"proof in another header", func(tok string) *http.Request {
			req := dpopRequest(tok)
			req.Header.Set("DPoP-Proof", k.proof(t, tok, nil, nil))
			return req
		}, noProof},
		{"proof in the Authorization header", func(tok string) *http.Request {
			req := dpopRequest(tok)
			req.Header.Add("Authorization", "DPoP "+k.proof(t, tok, nil, nil))
			return req
		}, badRequest},
		{"Bearer and DPoP Authorization headers", func(tok string) *http.Request {
			req := dpopRequest(tok, k.proof(t, tok, nil, nil))
			req.Header.Add("Authorization", "Bearer "+tok)
			return req
		}, badRequest},
		{"two tokens in one DPoP Authorization header", func(tok string) *http.Request {
			req := dpopRequest(tok, k.proof(t, tok, nil, nil))
			req.Header.Set("Authorization", "DPoP "+tok+", DPoP "+tok)
			return req
		}, dpopWant{status: http.StatusBadRequest, code: rsmeta.ErrorInvalidRequest, reason: audit.ReasonInvalidRequest}},
		{"token in the query string with a proof", func(tok string) *http.Request {
			req := dpopRequest(tok, k.proof(t, tok, nil, nil))
			req.URL.RawQuery = "access_token=" + tok
			return req
		}, badRequest},
		{"proof with a line break", func(tok string) *http.Request {
			p := k.proof(t, tok, nil, nil)
			return dpopRequest(tok, p[:10]+"\n"+p[10:])
		}, dpopWant{code: rsmeta.ErrorInvalidDPoPProof, reason: audit.ReasonBadDPoPProof}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
			req := tc.req(tok)
			want := tc.want
			if want.status == http.StatusBadRequest && len(req.Header.Values("Authorization")) > 1 {
				want.scheme = "Bearer" // two Authorization fields: read as Bearer, which refuses them
			}
			checkDPoPRefusal(t, v, req, want)
		})
	}
	// What is not smuggling: the scheme in any case (RFC 9110 §11.1) and
	// white space around the proof.
	for name, req := range map[string]func(tok, proof string) *http.Request{
		"lower-case scheme": func(tok, proof string) *http.Request {
			req := dpopRequest(tok, proof)
			req.Header.Set("Authorization", "dpop "+tok)
			return req
		},
		"white space around the proof": func(tok, proof string) *http.Request { return dpopRequest(tok, " "+proof+"\t") },
	} {
		tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
		_, err := v.Authenticate(req(tok, k.proof(t, tok, nil, nil)))
		assert.NoError(t, err, name)
	}
}

// TestDPoPReplayCorpus: a proof is accepted once, whatever else of the
// request changes (RFC 9449 §11.1).
func TestDPoPReplayCorpus(t *testing.T) {
	replay := dpopWant{code: rsmeta.ErrorInvalidDPoPProof, reason: audit.ReasonDPoPReplay}
	for _, tc := range []struct {
		name  string
		again func(t *testing.T, k *dpopKey, tok, proof string, mint func() string) *http.Request
	}{
		{"same jti in a new proof", func(t *testing.T, k *dpopKey, tok, proof string, _ func() string) *http.Request {
			return dpopRequest(tok, k.proof(t, tok, map[string]any{"jti": proofJTI(t, proof), "iat": fixedNow.Add(-time.Second).Unix()}, nil))
		}},
		{"same jti with another token of the key", func(t *testing.T, k *dpopKey, _, proof string, mint func() string) *http.Request {
			tok2 := mint()
			return dpopRequest(tok2, k.proof(t, tok2, map[string]any{"jti": proofJTI(t, proof)}, nil))
		}},
		{"same proof with a query string added", func(_ *testing.T, _ *dpopKey, tok, proof string, _ func() string) *http.Request {
			req := dpopRequest(tok, proof)
			req.URL.RawQuery = "page=2"
			return req
		}},
		{"same proof under the lower-case scheme", func(_ *testing.T, _ *dpopKey, tok, proof string, _ func() string) *http.Request {
			req := dpopRequest(tok, proof)
			req.Header.Set("Authorization", "dpop "+tok)
			return req
		}},
		{"same proof with white space around it", func(_ *testing.T, _ *dpopKey, tok, proof string, _ func() string) *http.Request {
			return dpopRequest(tok, " "+proof+" ")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is, v := dpopSetup(t, validate.DPoPAllowed, nil)
			k := newDPoPKey(t, "ES256")
			mint := func() string { return is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}}) }
			tok := mint()
			proof := k.proof(t, tok, nil, nil)
			_, err := v.Authenticate(dpopRequest(tok, proof))
			require.NoError(t, err)
			checkDPoPRefusal(t, v, tc.again(t, k, tok, proof, mint), replay)
		})
	}
	t.Run("same proof at once", func(t *testing.T) {
		is, v := dpopSetup(t, validate.DPoPAllowed, nil)
		k := newDPoPKey(t, "ES256")
		tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
		proof := k.proof(t, tok, nil, nil)
		const n = 16
		errs := make(chan error, n)
		var start sync.WaitGroup
		start.Add(1)
		for range n {
			go func() {
				start.Wait()
				_, err := v.Authenticate(dpopRequest(tok, proof))
				errs <- err
			}()
		}
		start.Done()
		accepted := 0
		for range n {
			if err := <-errs; err == nil {
				accepted++
			} else {
				assert.ErrorIs(t, err, audit.ReasonDPoPReplay)
			}
		}
		assert.Equal(t, 1, accepted, "one proof sent %d times at once is accepted once", n)
	})
}

// proofJTI is the "jti" of a proof.
func proofJTI(t *testing.T, proof string) string {
	t.Helper()
	var claims map[string]any
	require.NoError(t, jsonUnmarshal(proof, &claims))
	jti, _ := claims["jti"].(string)
	require.NotEmpty(t, jti)
	return jti
}

// TestDPoPClockEdges: the "iat" window, now-ProofLifetime-Leeway ≤ iat ≤
// now+Leeway (60 s and 30 s by default), at its edges and far beyond.
func TestDPoPClockEdges(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k := newDPoPKey(t, "ES256")
	for _, tc := range []struct {
		name string
		iat  any
		ok   bool
	}{
		{"iat at the window's start", fixedNow.Add(-90 * time.Second).Unix(), true},
		{"iat a second before the window", fixedNow.Add(-91 * time.Second).Unix(), false},
		{"iat at the leeway's end", fixedNow.Add(30 * time.Second).Unix(), true},
		{"iat a second past the leeway", fixedNow.Add(31 * time.Second).Unix(), false},
		{"iat with a fraction, in the window", float64(fixedNow.Unix()) - 0.5, true},
		{"iat zero", 0, false},
		{"iat negative", -1, false},
		{"iat in the year 3000", int64(32503680000), false},
		{"iat 1e300", 1e300, false},
		{"iat null", rawJSON("null"), false},
		{"iat true", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
			req := dpopRequest(tok, k.proof(t, tok, map[string]any{"iat": tc.iat}, nil))
			if tc.ok {
				_, err := v.Authenticate(req)
				assert.NoError(t, err)
				return
			}
			checkDPoPRefusal(t, v, req, dpopWant{code: rsmeta.ErrorInvalidDPoPProof, reason: audit.ReasonBadDPoPProof})
		})
	}
}

// TestDPoPDowngradeCorpus: a bound token never passes without its proof,
// nor an unbound one with a proof; and the DPoP scheme is not read when
// DPoP is off (RFC 9449 §7.1, §7.2).
func TestDPoPDowngradeCorpus(t *testing.T) {
	k := newDPoPKey(t, "ES256")
	bound := map[string]any{"cnf": map[string]any{"jkt": k.jkt}}
	sender := dpopWant{code: rsmeta.ErrorInvalidToken, reason: audit.ReasonSenderConstrained, scheme: "Bearer"}
	t.Run("bound token as Bearer with its proof", func(t *testing.T) {
		is, v := dpopSetup(t, validate.DPoPAllowed, nil)
		tok := is.Token(bound)
		req := dpopRequest(tok, k.proof(t, tok, nil, nil))
		req.Header.Set("Authorization", "Bearer "+tok)
		checkDPoPRefusal(t, v, req, sender)
	})
	t.Run("bound token as Bearer once accepted with DPoP", func(t *testing.T) {
		is, v := dpopSetup(t, validate.DPoPAllowed, nil)
		tok := is.Token(bound)
		_, err := v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, nil)))
		require.NoError(t, err)
		req := dpopRequest(tok)
		req.Header.Set("Authorization", "Bearer "+tok)
		checkDPoPRefusal(t, v, req, sender)
		_, err = v.Verify(context.Background(), tok)
		assert.ErrorIs(t, err, audit.ReasonSenderConstrained, "Verify, the bearer path, too")
	})
	t.Run("bound token with its proof while DPoP is off", func(t *testing.T) {
		is, v := dpopSetup(t, validate.DPoPOff, nil)
		tok := is.Token(bound)
		_, err := v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, nil)))
		assert.ErrorIs(t, err, audit.ReasonNoCredential)
	})
	t.Run("unbound token with a valid proof", func(t *testing.T) {
		is, v := dpopSetup(t, validate.DPoPRequired, nil)
		tok := is.Token(nil)
		checkDPoPRefusal(t, v, dpopRequest(tok, k.proof(t, tok, nil, nil)), dpopWant{code: rsmeta.ErrorInvalidToken, reason: audit.ReasonSenderConstrained})
	})
	t.Run("bearer token where DPoP is required", func(t *testing.T) {
		is, v := dpopSetup(t, validate.DPoPRequired, nil)
		req := dpopRequest("")
		req.Header.Set("Authorization", "Bearer "+is.Token(nil))
		_, err := v.Authenticate(req)
		assert.ErrorIs(t, err, audit.ReasonDPoPRequired)
	})
	t.Run("bound opaque token as Bearer", func(t *testing.T) {
		// An introspection answer's cnf binds the token as a JWT's does; the
		// test issuer introspects for its registered clients.
		is := newIssuer(t, &validatetest.Options{Clients: []validatetest.Client{{ID: "rs", Secret: "rs-secret"}}})
		v := newValidator(t, is, func(c *validate.Config) {
			c.DPoP.Mode = validate.DPoPAllowed
			c.Introspection = &validate.Introspection{ClientID: "rs", ClientSecret: "rs-secret"}
		})
		tok := is.OpaqueToken(bound)
		req := dpopRequest(tok)
		req.Header.Set("Authorization", "Bearer "+tok)
		checkDPoPRefusal(t, v, req, sender)
		// With its proof, it passes.
		tok = is.OpaqueToken(bound)
		p, err := v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, nil)))
		require.NoError(t, err)
		assert.Equal(t, audit.CredentialIntrospection, p.Credential)
	})
}
