package validate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
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
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// dpopSetup is an issuer and a Validator with DPoP in mode, changed by mod.
func dpopSetup(t testing.TB, mode validate.DPoPMode, mod func(*validate.Config)) (*validatetest.Issuer, *validate.Validator) {
	t.Helper()
	is := newIssuer(t, nil)
	v := newValidator(t, is, func(c *validate.Config) {
		c.DPoP.Mode = mode
		if mod != nil {
			mod(c)
		}
	})
	return is, v
}

// serve runs req through a Guard over v and returns the answer.
func serve(t testing.TB, v rsguard.Authenticator, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	guarded(t, v, whoami, nil).ServeHTTP(rec, req)
	return rec
}

// TestDPoPAccepted: a bound token with a good proof, for each algorithm
// of the default list (Ed25519 keys under both names) and one added.
func TestDPoPAccepted(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, func(c *validate.Config) {
		c.DPoP.Algorithms = []string{"ES256", "EdDSA", "Ed25519", "RS256", "PS256", "ES384"}
	})
	for _, alg := range []string{"ES256", "EdDSA", "Ed25519", "RS256", "PS256", "ES384"} {
		t.Run(alg, func(t *testing.T) {
			k := newDPoPKey(t, alg)
			tok := is.Token(map[string]any{"sub": "alice", "scope": "tools:read", "cnf": map[string]any{"jkt": k.jkt}})
			req := dpopRequest(tok, k.proof(t, tok, nil, nil))
			p, err := v.Authenticate(req)
			require.NoError(t, err)
			c := p.Details.(*validate.Claims)
			assert.Equal(t, k.jkt, c.KeyThumbprint)
			assert.Equal(t, "user:"+is.URL+"#alice", p.Subject)
			assert.Equal(t, audit.CredentialJWT, p.Credential)
			assert.Nil(t, p.Header, "no nonce: no header")

			// Through a Guard, with a fresh proof (each is good once).
			rec := serve(t, v, dpopRequest(tok, k.proof(t, tok, nil, nil)))
			assert.Equal(t, http.StatusOK, rec.Code, rec.Header().Get("WWW-Authenticate"))
		})
	}
	t.Run("typ application/dpop+jwt", func(t *testing.T) {
		k := newDPoPKey(t, "ES256")
		tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
		_, err := v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, map[string]any{"typ": "application/DPoP+JWT"})))
		require.NoError(t, err)
	})
	t.Run("scheme case, nonce ignored when not required", func(t *testing.T) {
		k := newDPoPKey(t, "ES256")
		tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
		req := dpopRequest(tok, k.proof(t, tok, map[string]any{"nonce": "whatever"}, nil))
		req.Header.Set("Authorization", "dpop "+tok)
		_, err := v.Authenticate(req)
		require.NoError(t, err)
	})
}

// refusalOf runs req through v and a Guard and checks the answer: status,
// the code on the challenge of scheme (the other challenges without an
// error), the audit reason.
type dpopWant struct {
	status int
	code   string
	reason audit.Reason
	scheme string // the challenge carrying the code; "" = DPoP
}

func checkDPoPRefusal(t *testing.T, v *validate.Validator, req *http.Request, want dpopWant) *httptest.ResponseRecorder {
	t.Helper()
	if want.status == 0 {
		want.status = http.StatusUnauthorized
	}
	if want.scheme == "" {
		want.scheme = "DPoP"
	}
	_, err := v.Authenticate(req.Clone(context.Background()))
	require.Error(t, err)
	assert.ErrorIs(t, err, want.reason)
	var got audit.Reason
	require.True(t, errors.As(err, &got))
	assert.Equal(t, want.reason, got)

	rec := serve(t, v, req)
	assert.Equal(t, want.status, rec.Code)
	cs := dpopChallenges(t, rec.Header())
	require.NotEmpty(t, cs)
	found := false
	for _, c := range cs {
		assert.Equal(t, metadataURL, c.ResourceMetadata, "every challenge points to the metadata")
		if strings.EqualFold(c.Scheme, "DPoP") {
			assert.NotEmpty(t, dpopParam(c, "algs"), "the DPoP challenge names algs")
		}
		if strings.EqualFold(c.Scheme, want.scheme) {
			found = true
			assert.Equal(t, want.code, c.Error, "the error is on the %s challenge", want.scheme)
		} else {
			assert.Empty(t, c.Error, "no error on the %s challenge", c.Scheme)
		}
	}
	assert.True(t, found, "a %s challenge: %q", want.scheme, rec.Header().Values("WWW-Authenticate"))
	return rec
}

// TestDPoPProofChecks: one case per check of RFC 9449 §4.3, each refused
// with 401 invalid_dpop_proof on the DPoP challenge, reason bad_dpop_proof.
func TestDPoPProofChecks(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k := newDPoPKey(t, "ES256")
	other := newDPoPKey(t, "ES256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	hdr := func(extra map[string]any) string { // a header JSON of k with extra members
		m := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.jwk}
		for n, x := range extra {
			m[n] = x
		}
		return jsonString(m)
	}
	claims := jsonString(proofClaims(tok))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	weakRSA := newDPoPKey(t, "RS256")
	weakRSA.priv, weakRSA.jwk = rsaKey, dpopJWK(rsaKey.Public())
	offCurve := map[string]any{"kty": "EC", "crv": "P-256", "x": k.jwk["x"], "y": k.jwk["x"]}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	// Ed25519 key of small order (the identity point): any message verifies
	// with R = identity, S = 0 under it for some keys; refused outright.
	smallOrder := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": dpopB64.EncodeToString(append([]byte{1}, make([]byte, 31)...))}
	private := map[string]any{"kty": "EC", "crv": "P-256", "x": k.jwk["x"], "y": k.jwk["y"], "d": "AAAA"}

	for _, tc := range []struct {
		name   string
		proofs []string
	}{
		{"no proof", nil},
		{"empty proof", []string{""}},
		{"two DPoP fields", []string{k.proof(t, tok, nil, nil), k.proof(t, tok, nil, nil)}},
		{"two proofs in one field", []string{k.proof(t, tok, nil, nil) + ", " + k.proof(t, tok, nil, nil)}},
		{"not a JWS", []string{"not-a-proof"}},
		{"four segments", []string{k.proof(t, tok, nil, nil) + ".x"}},
		{"over 8 KiB", []string{k.proof(t, tok, map[string]any{"pad": strings.Repeat("a", 8<<10)}, nil)}},
		{"typ absent", []string{k.proof(t, tok, nil, map[string]any{"typ": nil})}},
		{"typ JWT", []string{k.proof(t, tok, nil, map[string]any{"typ": "JWT"})}},
		{"typ at+jwt", []string{k.proof(t, tok, nil, map[string]any{"typ": "at+jwt"})}},
		{"alg none", []string{k.signRaw(t, `{"typ":"dpop+jwt","alg":"none","jwk":`+jsonString(k.jwk)+`}`, claims)}},
		{"alg HS256", []string{k.signRaw(t, hdr(map[string]any{"alg": "HS256"}), claims)}},
		{"alg not on the list", []string{k.signRaw(t, hdr(map[string]any{"alg": "ES384"}), claims)}},
		{"no jwk", []string{k.proof(t, tok, nil, map[string]any{"jwk": nil})}},
		{"jwk a string", []string{k.proof(t, tok, nil, map[string]any{"jwk": "key"})}},
		{"jwk with a private member", []string{k.proof(t, tok, nil, map[string]any{"jwk": private})}},
		{"jwk of another type than alg", []string{k.proof(t, tok, nil, map[string]any{"jwk": dpopJWK(weakRSA.priv.Public())})}},
		{"jwk of another curve than alg", []string{k.proof(t, tok, nil, map[string]any{"jwk": dpopJWK(p384.Public())})}},
		{"jwk off its curve", []string{k.proof(t, tok, nil, map[string]any{"jwk": offCurve})}},
		{"jwk alg differs", []string{k.proof(t, tok, nil, map[string]any{"jwk": merge(k.jwk, map[string]any{"alg": "ES384"})})}},
		{"jwk use enc", []string{k.proof(t, tok, nil, map[string]any{"jwk": merge(k.jwk, map[string]any{"use": "enc"})})}},
		{"RSA 1024", []string{weakRSA.proof(t, tok, nil, nil)}},
		{"Ed25519 of small order", []string{newDPoPKey(t, "EdDSA").proof(t, tok, nil, map[string]any{"jwk": smallOrder})}},
		{"crit", []string{k.proof(t, tok, nil, map[string]any{"crit": []string{"exp"}, "exp": 1})}},
		{"jku", []string{k.proof(t, tok, nil, map[string]any{"jku": "https://attacker.example/jwks"})}},
		{"x5c", []string{k.proof(t, tok, nil, map[string]any{"x5c": []string{"MIIB"}})}},
		{"signed by another key than its jwk", []string{other.proof(t, tok, nil, map[string]any{"jwk": k.jwk})}},
		{"signature altered", []string{flipLast(k.proof(t, tok, nil, nil))}},
		{"no signature", []string{strings.TrimRight(k.proof(t, tok, nil, nil), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}},
		{"htm GET", []string{k.proof(t, tok, map[string]any{"htm": "GET"}, nil)}},
		{"htm post (case)", []string{k.proof(t, tok, map[string]any{"htm": "post"}, nil)}},
		{"htm absent", []string{k.proof(t, tok, map[string]any{"htm": nil}, nil)}},
		{"htu another path", []string{k.proof(t, tok, map[string]any{"htu": "https://mcp.example.com/other"}, nil)}},
		{"htu another host", []string{k.proof(t, tok, map[string]any{"htu": "https://attacker.example/mcp"}, nil)}},
		{"htu http", []string{k.proof(t, tok, map[string]any{"htu": "http://mcp.example.com/mcp"}, nil)}},
		{"htu absent", []string{k.proof(t, tok, map[string]any{"htu": nil}, nil)}},
		{"iat absent", []string{k.proof(t, tok, map[string]any{"iat": nil}, nil)}},
		{"iat a string", []string{k.proof(t, tok, map[string]any{"iat": "now"}, nil)}},
		{"iat too old", []string{k.proof(t, tok, map[string]any{"iat": fixedNow.Add(-91 * time.Second).Unix()}, nil)}},
		{"iat in the future", []string{k.proof(t, tok, map[string]any{"iat": fixedNow.Add(31 * time.Second).Unix()}, nil)}},
		{"jti absent", []string{k.proof(t, tok, map[string]any{"jti": nil}, nil)}},
		{"jti empty", []string{k.proof(t, tok, map[string]any{"jti": ""}, nil)}},
		{"jti over 256 bytes", []string{k.proof(t, tok, map[string]any{"jti": strings.Repeat("j", 257)}, nil)}},
		{"jti a number", []string{k.proof(t, tok, map[string]any{"jti": 7}, nil)}},
		{"ath absent", []string{k.proof(t, tok, map[string]any{"ath": nil}, nil)}},
		{"ath of another token", []string{k.proof(t, tok, map[string]any{"ath": dpopAth(tok + "x")}, nil)}},
		{"ath padded", []string{k.proof(t, tok, map[string]any{"ath": dpopAth(tok) + "="}, nil)}},
		{"duplicate claim", []string{k.signRaw(t, hdr(nil), strings.Replace(claims, `"htm":"POST"`, `"htm":"POST","htm":"GET"`, 1))}},
		{"duplicate jwk member", []string{k.signRaw(t, strings.Replace(hdr(nil), `"kty":"EC"`, `"kty":"EC","kty":"EC"`, 1), claims)}},
		{"payload not an object", []string{k.signRaw(t, hdr(nil), `["htm"]`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkDPoPRefusal(t, v, dpopRequest(tok, tc.proofs...), dpopWant{code: rsmeta.ErrorInvalidDPoPProof, reason: audit.ReasonBadDPoPProof})
		})
	}
	t.Run("positive control", func(t *testing.T) {
		_, err := v.Authenticate(dpopRequest(tok, k.signRaw(t, hdr(nil), claims)))
		require.NoError(t, err)
	})
}

func merge(a, b map[string]any) map[string]any {
	m := map[string]any{}
	for k, x := range a {
		m[k] = x
	}
	for k, x := range b {
		m[k] = x
	}
	return m
}

// TestDPoPBinding: the token must be bound to the proof's key (RFC 9449
// §7.1); a binding failure is invalid_token on the DPoP challenge, reason
// sender_constrained.
func TestDPoPBinding(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k, other := newDPoPKey(t, "ES256"), newDPoPKey(t, "ES256")
	for _, tc := range []struct {
		name string
		tok  string
	}{
		{"unbound token", is.Token(nil)},
		{"bound to another key", is.Token(map[string]any{"cnf": map[string]any{"jkt": other.jkt}})},
		{"mTLS-bound", is.Token(map[string]any{"cnf": map[string]any{"x5t#S256": other.jkt}})},
		{"cnf with jkt and more", is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt, "x5t#S256": other.jkt}})},
		{"jkt empty", is.Token(map[string]any{"cnf": map[string]any{"jkt": ""}})},
		{"jkt not a thumbprint", is.Token(map[string]any{"cnf": map[string]any{"jkt": "abc"}})},
		{"cnf null", is.Token(map[string]any{"cnf": nil})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := checkDPoPRefusal(t, v, dpopRequest(tc.tok, k.proof(t, tc.tok, nil, nil)),
				dpopWant{code: rsmeta.ErrorInvalidToken, reason: audit.ReasonSenderConstrained})
			assert.NotContains(t, rec.Body.String(), tc.tok)
		})
	}
	t.Run("bad token", func(t *testing.T) {
		tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}, "exp": fixedNow.Add(-time.Hour).Unix()})
		checkDPoPRefusal(t, v, dpopRequest(tok, k.proof(t, tok, nil, nil)), dpopWant{code: rsmeta.ErrorInvalidToken, reason: audit.ReasonExpired})
	})
}

// TestDPoPModes: what each mode accepts, and its challenges.
func TestDPoPModes(t *testing.T) {
	k := newDPoPKey(t, "ES256")
	for _, mode := range []validate.DPoPMode{validate.DPoPOff, validate.DPoPAllowed, validate.DPoPRequired} {
		t.Run(mode.String(), func(t *testing.T) {
			is, v := dpopSetup(t, mode, nil)
			unbound := is.Token(nil)
			bound := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})

			// No credential: the mode's challenges, without error.
			rec := serve(t, v, httptest.NewRequest(http.MethodPost, resource, nil))
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			var schemes []string
			for _, c := range dpopChallenges(t, rec.Header()) {
				schemes = append(schemes, c.Scheme)
				assert.Empty(t, c.Error)
				assert.Equal(t, metadataURL, c.ResourceMetadata)
			}
			want := map[validate.DPoPMode][]string{validate.DPoPOff: {"Bearer"}, validate.DPoPAllowed: {"Bearer", "DPoP"}, validate.DPoPRequired: {"DPoP"}}[mode]
			assert.Equal(t, want, schemes)
			if mode != validate.DPoPOff {
				cs := dpopChallenges(t, rec.Header())
				assert.Equal(t, "ES256 EdDSA Ed25519 RS256 PS256", dpopParam(cs[len(cs)-1], "algs"))
				assert.Equal(t, []string{`DPoP resource_metadata="` + metadataURL + `", algs="ES256 EdDSA Ed25519 RS256 PS256"`}, rec.Header().Values("WWW-Authenticate")[len(want)-1:])
			}

			// A bound token as Bearer: refused in every mode.
			req := httptest.NewRequest(http.MethodPost, resource, nil)
			req.Header.Set("Authorization", "Bearer "+bound)
			_, err := v.Authenticate(req)
			if mode == validate.DPoPRequired {
				assert.ErrorIs(t, err, audit.ReasonDPoPRequired)
			} else {
				assert.ErrorIs(t, err, audit.ReasonSenderConstrained)
			}
			_, err = v.Verify(context.Background(), bound)
			assert.ErrorIs(t, err, audit.ReasonSenderConstrained, "Verify is the bearer path")

			// An unbound token as Bearer.
			req = httptest.NewRequest(http.MethodPost, resource, nil)
			req.Header.Set("Authorization", "Bearer "+unbound)
			switch mode {
			case validate.DPoPRequired:
				rec := checkDPoPRefusal(t, v, req, dpopWant{reason: audit.ReasonDPoPRequired})
				assert.Contains(t, rec.Body.String(), "accepts only DPoP-bound access tokens")
			default:
				_, err := v.Authenticate(req)
				assert.NoError(t, err)
			}

			// The bound token with its proof.
			_, err = v.Authenticate(dpopRequest(bound, k.proof(t, bound, nil, nil)))
			if mode == validate.DPoPOff {
				assert.ErrorIs(t, err, audit.ReasonNoCredential, "DPoP off: the DPoP scheme is not a credential")
				rec := serve(t, v, dpopRequest(bound, k.proof(t, bound, nil, nil)))
				assert.Equal(t, []string{`Bearer resource_metadata="` + metadataURL + `"`}, rec.Header().Values("WWW-Authenticate"))
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, mode != validate.DPoPOff, len(v.Challenges()) > 0)
		})
	}
}

// TestDPoPBoundTokenAsBearerAfterCache: a bound token verified with its
// proof is in the token cache; presented as Bearer, the hit is refused.
func TestDPoPBoundTokenAsBearerAfterCache(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k := newDPoPKey(t, "ES256")
	bound := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	_, err := v.Authenticate(dpopRequest(bound, k.proof(t, bound, nil, nil)))
	require.NoError(t, err)
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, resource, nil)
		req.Header.Set("Authorization", "Bearer "+bound)
		checkDPoPRefusal(t, v, req, dpopWant{code: rsmeta.ErrorInvalidToken, reason: audit.ReasonSenderConstrained, scheme: "Bearer"})
	}
	// And with another key's proof, from the cache too.
	other := newDPoPKey(t, "ES256")
	checkDPoPRefusal(t, v, dpopRequest(bound, other.proof(t, bound, nil, nil)), dpopWant{code: rsmeta.ErrorInvalidToken, reason: audit.ReasonSenderConstrained})
	// And the unbound path: an unbound token cached as Bearer, then with a proof.
	unbound := is.Token(nil)
	_, err = v.Verify(context.Background(), unbound)
	require.NoError(t, err)
	checkDPoPRefusal(t, v, dpopRequest(unbound, k.proof(t, unbound, nil, nil)), dpopWant{code: rsmeta.ErrorInvalidToken, reason: audit.ReasonSenderConstrained})
}

// TestDPoPReplay: a proof is good once; the in-memory store never forgets a
// live proof, and refuses new ones with 503 when full of them.
func TestDPoPReplay(t *testing.T) {
	clock := newHardClock(fixedNow)
	is, v := dpopSetup(t, validate.DPoPAllowed, func(c *validate.Config) {
		c.Now = clock.Now
		c.DPoP.MaxProofs = 3
	})
	k := newDPoPKey(t, "ES256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}, "exp": fixedNow.Add(time.Hour).Unix()})

	pr := k.proof(t, tok, nil, nil)
	_, err := v.Authenticate(dpopRequest(tok, pr))
	require.NoError(t, err)
	checkDPoPRefusal(t, v, dpopRequest(tok, pr), dpopWant{code: rsmeta.ErrorInvalidDPoPProof, reason: audit.ReasonDPoPReplay})

	// The same jti under another key is another proof.
	k2 := newDPoPKey(t, "ES256")
	tok2 := is.Token(map[string]any{"cnf": map[string]any{"jkt": k2.jkt}, "exp": fixedNow.Add(time.Hour).Unix()})
	var claims map[string]any
	require.NoError(t, jsonUnmarshal(pr, &claims))
	_, err = v.Authenticate(dpopRequest(tok2, k2.proof(t, tok2, map[string]any{"jti": claims["jti"]}, nil)))
	require.NoError(t, err)

	// Full of live proofs (3): a new one gets 503 with Retry-After.
	_, err = v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, nil)))
	require.NoError(t, err)
	full := k.proof(t, tok, nil, nil)
	rec := checkDPoPRefusal(t, v, dpopRequest(tok, full), dpopWant{status: http.StatusServiceUnavailable, reason: audit.ReasonStoreUnavailable})
	assert.Equal(t, "91", rec.Header().Get("Retry-After"), "until the oldest proof (iat+60s+30s leeway+1s margin) is forgotten")
	// The replayed proof is still remembered.
	checkDPoPRefusal(t, v, dpopRequest(tok, pr), dpopWant{code: rsmeta.ErrorInvalidDPoPProof, reason: audit.ReasonDPoPReplay})

	// Past the window the store has room again; the old proofs are now
	// refused by their iat.
	clock.Advance(91 * time.Second)
	_, err = v.Authenticate(dpopRequest(tok, k.proof(t, tok, map[string]any{"iat": clock.Now().Unix()}, nil)))
	require.NoError(t, err)
	checkDPoPRefusal(t, v, dpopRequest(tok, pr), dpopWant{code: rsmeta.ErrorInvalidDPoPProof, reason: audit.ReasonBadDPoPProof})
}

// TestDPoPReplayNotRecordedForRefusals: proofs refused for their token
// (or their signature) do not reach the store.
func TestDPoPReplayNotRecordedForRefusals(t *testing.T) {
	store := &countingStore{}
	is, v := dpopSetup(t, validate.DPoPAllowed, func(c *validate.Config) { c.DPoP.Replay = store })
	k := newDPoPKey(t, "ES256")
	expired := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}, "exp": fixedNow.Add(-time.Hour).Unix()})
	_, err := v.Authenticate(dpopRequest(expired, k.proof(t, expired, nil, nil)))
	require.ErrorIs(t, err, audit.ReasonExpired)
	_, err = v.Authenticate(dpopRequest(expired, flipLast(k.proof(t, expired, nil, nil))))
	require.ErrorIs(t, err, audit.ReasonBadDPoPProof)
	assert.Zero(t, store.calls)

	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	_, err = v.Authenticate(dpopRequest(tok, k.proof(t, tok, nil, nil)))
	require.NoError(t, err)
	require.Equal(t, 1, store.calls)
	assert.Len(t, store.last, 43, "the id is a base64url SHA-256")
	assert.True(t, store.until.Equal(fixedNow.Add(91*time.Second)), "until iat + ProofLifetime + Leeway + 1 s: %v", store.until)

	store.err = errors.New("store down")
	rec := checkDPoPRefusal(t, v, dpopRequest(tok, k.proof(t, tok, nil, nil)), dpopWant{status: http.StatusServiceUnavailable, reason: audit.ReasonStoreUnavailable})
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	assert.NotContains(t, rec.Body.String(), "store down")
}

type countingStore struct {
	calls int
	last  string
	until time.Time
	err   error
}

func (s *countingStore) Use(_ context.Context, id string, until time.Time) (bool, error) {
	s.calls++
	s.last, s.until = id, until
	return false, s.err
}

// TestDPoPNonce: the nonce flow of RFC 9449 §9.
func TestDPoPNonce(t *testing.T) {
	clock := newHardClock(fixedNow)
	is, v := dpopSetup(t, validate.DPoPRequired, func(c *validate.Config) {
		c.Now = clock.Now
		c.DPoP.Nonce = true
		c.DPoP.NonceSecret = []byte(strings.Repeat("s", 32))
	})
	k := newDPoPKey(t, "ES256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}, "exp": fixedNow.Add(time.Hour).Unix()})
	proof := func(nonce any) string {
		return k.proof(t, tok, map[string]any{"nonce": nonce, "iat": clock.Now().Unix()}, nil)
	}

	// First request: no nonce.
	rec := checkDPoPRefusal(t, v, dpopRequest(tok, proof(nil)), dpopWant{code: rsmeta.ErrorUseDPoPNonce, reason: audit.ReasonUseDPoPNonce})
	nonce := rec.Header().Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)
	assert.Empty(t, rec.Header().Values("DPoP-Nonce")[1:], "one nonce")

	// Retry with it: accepted, no new nonce needed.
	rec = serve(t, v, dpopRequest(tok, proof(nonce)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Header().Get("WWW-Authenticate"))
	assert.Empty(t, rec.Header().Get("DPoP-Nonce"))

	// A forged nonce, or one of another secret.
	checkDPoPRefusal(t, v, dpopRequest(tok, proof("AAAAAAAAAAAAAAAAAAAAAA")), dpopWant{code: rsmeta.ErrorUseDPoPNonce, reason: audit.ReasonUseDPoPNonce})

	// One window later it is still good, and the answer carries a fresh one.
	clock.Advance(60 * time.Second)
	rec = serve(t, v, dpopRequest(tok, proof(nonce)))
	require.Equal(t, http.StatusOK, rec.Code)
	fresh := rec.Header().Get("DPoP-Nonce")
	require.NotEmpty(t, fresh)
	assert.NotEqual(t, nonce, fresh)

	// Two windows later it is stale, and the refusal gives the current
	// one; the one given a window ago is still good.
	clock.Advance(60 * time.Second)
	rec = checkDPoPRefusal(t, v, dpopRequest(tok, proof(nonce)), dpopWant{code: rsmeta.ErrorUseDPoPNonce, reason: audit.ReasonUseDPoPNonce})
	latest := rec.Header().Get("DPoP-Nonce")
	assert.NotContains(t, []string{"", nonce, fresh}, latest)
	_, err := v.Authenticate(dpopRequest(tok, proof(fresh)))
	require.NoError(t, err)
	_, err = v.Authenticate(dpopRequest(tok, proof(latest)))
	require.NoError(t, err)

	// A replica with the same secret accepts this replica's nonces.
	v2 := newValidator(t, is, func(c *validate.Config) {
		c.Now = clock.Now
		c.DPoP = validate.DPoPConfig{Mode: validate.DPoPRequired, Nonce: true, NonceSecret: []byte(strings.Repeat("s", 32))}
	})
	_, err = v2.Authenticate(dpopRequest(tok, proof(fresh)))
	require.NoError(t, err)
}

// TestDPoPHTU: the htu comparison (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2,
// §6.2.3).
func TestDPoPHTU(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k := newDPoPKey(t, "ES256")
	tok := is.Token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	for _, tc := range []struct {
		name, target, htu string
		header            map[string]string
		ok                bool
	}{
		{"exact", resource, resource, nil, true},
		{"default port", resource, "https://mcp.example.com:443/mcp", nil, true},
		{"scheme and host case", resource, "HTTPS://MCP.Example.COM/mcp", nil, true},
		{"query ignored", resource, resource + "?a=b", nil, true},
		{"fragment ignored", resource, resource + "#f", nil, true},
		{"request query ignored", resource + "?x=1", resource, nil, true},
		{"percent-encoding case", "https://mcp.example.com/a%2fb", "https://mcp.example.com/a%2Fb", nil, true},
		{"unreserved percent-encoded", "https://mcp.example.com/mcp", "https://mcp.example.com/%6Dcp", nil, true},
		{"dot segments", "https://mcp.example.com/mcp", "https://mcp.example.com/x/../mcp", nil, true},
		{"path case", resource, "https://mcp.example.com/MCP", nil, false},
		{"trailing slash", resource, resource + "/", nil, false},
		{"request trailing slash", resource + "/", resource, nil, false},
		{"other port", resource, "https://mcp.example.com:8443/mcp", nil, false},
		{"http", resource, "http://mcp.example.com/mcp", nil, false},
		{"userinfo", resource, "https://user@mcp.example.com/mcp", nil, false},
		{"relative", resource, "/mcp", nil, false},
		{"encoded slash is not a slash", "https://mcp.example.com/a/b", "https://mcp.example.com/a%2Fb", nil, false},
		{"X-Forwarded-Host ignored", resource, "https://proxy.example/mcp", map[string]string{"X-Forwarded-Host": "proxy.example"}, false},
		{"Host ignored", "https://proxy.example/mcp", "https://proxy.example/mcp", nil, false},
		{"Host ignored, resource origin used", "https://proxy.example/mcp", resource, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.target, nil)
			req.Header.Set("Authorization", "DPoP "+tok)
			req.Header.Set("DPoP", k.proof(t, tok, map[string]any{"htu": tc.htu}, nil))
			for n, x := range tc.header {
				req.Header.Set(n, x)
			}
			_, err := v.Authenticate(req)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, audit.ReasonBadDPoPProof)
			}
		})
	}
}

// TestDPoPScopesChallenge: a scope check's 403 for a DPoP request is a
// DPoP challenge, with algs; for a Bearer request a Bearer one.
func TestDPoPScopesChallenge(t *testing.T) {
	is, v := dpopSetup(t, validate.DPoPAllowed, nil)
	k := newDPoPKey(t, "ES256")
	need, err := scopes.NewRoute(scopes.RouteConfig{Scopes: []string{"tools:write"}})
	require.NoError(t, err)
	h := guarded(t, v, need.Handler(whoami), nil)

	tok := is.Token(map[string]any{"scope": "tools:read", "cnf": map[string]any{"jkt": k.jkt}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, dpopRequest(tok, k.proof(t, tok, nil, nil)))
	require.Equal(t, http.StatusForbidden, rec.Code)
	assert.Equal(t, []string{`DPoP resource_metadata="` + metadataURL + `", scope="tools:write", error="insufficient_scope", error_description="the access token lacks scope tools:write", algs="ES256 EdDSA Ed25519 RS256 PS256"`},
		rec.Header().Values("WWW-Authenticate"))

	unbound := is.Token(map[string]any{"scope": "tools:read"})
	req := httptest.NewRequest(http.MethodPost, resource, nil)
	req.Header.Set("Authorization", "Bearer "+unbound)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusForbidden, rec.Code)
	cs := dpopChallenges(t, rec.Header())
	require.Len(t, cs, 1)
	assert.Equal(t, "Bearer", cs[0].Scheme)
}

// TestDPoPMalformedAuthorization: `Authorization: DPoP` without a
// well-formed token is 400 invalid_request on the DPoP challenge.
func TestDPoPMalformedAuthorization(t *testing.T) {
	_, v := dpopSetup(t, validate.DPoPAllowed, nil)
	for _, h := range []string{"DPoP", "DPoP ", "DPoP a b", "DPoP a\"b"} {
		req := httptest.NewRequest(http.MethodPost, resource, nil)
		req.Header.Set("Authorization", h)
		req.Header.Set("DPoP", "x.y.z")
		checkDPoPRefusal(t, v, req, dpopWant{status: http.StatusBadRequest, code: rsmeta.ErrorInvalidRequest, reason: audit.ReasonInvalidRequest})
	}
	req := httptest.NewRequest(http.MethodPost, resource+"?access_token=x", nil)
	req.Header.Set("Authorization", "DPoP abc")
	checkDPoPRefusal(t, v, req, dpopWant{status: http.StatusBadRequest, code: rsmeta.ErrorInvalidRequest, reason: audit.ReasonInvalidRequest})
}

// TestDPoPConfigErrors: New refuses bad DPoP configurations, naming the
// field.
func TestDPoPConfigErrors(t *testing.T) {
	is := newIssuer(t, nil)
	for _, tc := range []struct {
		name string
		cfg  validate.DPoPConfig
		want string
	}{
		{"fields with mode off", validate.DPoPConfig{Nonce: true}, "Mode is DPoPOff"},
		{"unknown mode", validate.DPoPConfig{Mode: 7}, "DPoP.Mode"},
		{"alg none", validate.DPoPConfig{Mode: validate.DPoPAllowed, Algorithms: []string{"none"}}, "DPoP.Algorithms"},
		{"alg HS256", validate.DPoPConfig{Mode: validate.DPoPAllowed, Algorithms: []string{"HS256"}}, "DPoP.Algorithms"},
		{"alg twice", validate.DPoPConfig{Mode: validate.DPoPAllowed, Algorithms: []string{"ES256", "ES256"}}, "twice"},
		{"negative lifetime", validate.DPoPConfig{Mode: validate.DPoPAllowed, ProofLifetime: -1}, "DPoP.ProofLifetime"},
		{"long lifetime", validate.DPoPConfig{Mode: validate.DPoPAllowed, ProofLifetime: time.Hour}, "DPoP.ProofLifetime"},
		{"negative max proofs", validate.DPoPConfig{Mode: validate.DPoPAllowed, MaxProofs: -1}, "DPoP.MaxProofs"},
		{"max proofs with a store", validate.DPoPConfig{Mode: validate.DPoPAllowed, MaxProofs: 5, Replay: &countingStore{}}, "DPoP.MaxProofs"},
		{"nil store", validate.DPoPConfig{Mode: validate.DPoPAllowed, Replay: (*countingStore)(nil)}, "DPoP.Replay"},
		{"short secret", validate.DPoPConfig{Mode: validate.DPoPAllowed, Nonce: true, NonceSecret: []byte("short")}, "DPoP.NonceSecret"},
		{"secret without nonce", validate.DPoPConfig{Mode: validate.DPoPAllowed, NonceSecret: make([]byte, 32)}, "DPoP.NonceSecret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validate.New(context.Background(), validate.Config{Issuer: is.URL, Resource: resource,
				Fetch: validate.FetchOptions{HTTPClient: is.Client()}, DPoP: tc.cfg})
			require.ErrorIs(t, err, rsguard.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.Nil(t, validate.DPoPConfig{}.SigningAlgorithms())
	assert.Equal(t, []string{"ES256", "EdDSA", "Ed25519", "RS256", "PS256"}, validate.DPoPConfig{Mode: validate.DPoPRequired}.SigningAlgorithms())
}

func jsonUnmarshal(jws string, v any) error {
	_, p, _ := strings.Cut(jws, ".")
	p, _, _ = strings.Cut(p, ".")
	b, err := dpopB64.DecodeString(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
