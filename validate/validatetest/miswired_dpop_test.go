package validatetest

// Servers that get DPoP or introspection wrong, for the kit's tests: small
// hand-written verifiers, and a validate.Validator behind a rewriting proxy.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/conformance"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

// challenger is an Authenticator made of a function, with the challenges
// of a Validator (so that the Guard sends the DPoP challenge).
type challenger struct {
	f func(*http.Request) (*rsguard.Principal, error)
	v *validate.Validator
}

func (c challenger) Authenticate(r *http.Request) (*rsguard.Principal, error) { return c.f(r) }
func (c challenger) Challenges() []rsmeta.Challenge                           { return c.v.Challenges() }

// bearerIgnoresCnf verifies bearer JWTs as the usual Go stack does —
// blind to "cnf" — and hands DPoP requests to v.
func bearerIgnoresCnf(t *testing.T, is *Issuer, v *validate.Validator) rsguard.Authenticator {
	usual := usualGoStack(t, is, true)
	return challenger{v: v, f: func(r *http.Request) (*rsguard.Principal, error) {
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			return usual.Authenticate(r)
		}
		return v.Authenticate(r)
	}}
}

// laxDPoP is a DPoP verifier written by hand, with what it forgets: the
// proof's htu, its jti, or the token's signature. Bearer requests go to a
// Validator.
type laxDPoP struct {
	is          *Issuer
	v           *validate.Validator
	checkHTU    bool
	recordJTI   bool
	verifyToken bool
	mu          sync.Mutex
	seen        map[string]bool
}

// proofRewriter returns a laxDPoP for mode that forgets what forget says.
func proofRewriter(t *testing.T, is *Issuer, mode validate.DPoPMode, forget string) rsguard.Authenticator {
	v := introValidator(t, is, mode, nil)
	l := &laxDPoP{is: is, v: v, checkHTU: forget != rewriteHTU, recordJTI: forget != rewriteJTI, verifyToken: forget != rewriteTokenSignature,
		seen: map[string]bool{}}
	return challenger{v: v, f: l.authenticate}
}

const (
	rewriteHTU            = "htu"
	rewriteJTI            = "jti"
	rewriteTokenSignature = "the token's signature" // the proof proves the key, and the token is only read: its claims, cnf included, are checked
)

func dpopRefusal(code, desc string) error {
	return &rsguard.Error{Status: http.StatusUnauthorized, Code: code, Description: desc, Err: audit.ReasonBadDPoPProof, Reason: audit.ReasonBadDPoPProof, Scheme: "DPoP"}
}

func (l *laxDPoP) authenticate(r *http.Request) (*rsguard.Principal, error) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "DPoP") || len(r.Header.Values("Authorization")) != 1 {
		return l.v.Authenticate(r)
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 || strings.Contains(proofs[0], ",") || r.URL.Query().Has("access_token") || strings.Contains(tok, " ") {
		return nil, dpopRefusal("invalid_dpop_proof", "one proof")
	}
	var jkt string
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(proofs[0], claims, func(pt *jwt.Token) (any, error) {
		if pt.Header["typ"] != "dpop+jwt" || pt.Header["crit"] != nil {
			return nil, errors.New("typ")
		}
		jwk, _ := pt.Header["jwk"].(map[string]any)
		if jwk == nil || jwk["kty"] != "EC" || jwk["crv"] != "P-256" || jwk["d"] != nil {
			return nil, errors.New("jwk")
		}
		x, err1 := base64.RawURLEncoding.DecodeString(jwk["x"].(string))
		y, err2 := base64.RawURLEncoding.DecodeString(jwk["y"].(string))
		if err1 != nil || err2 != nil {
			return nil, errors.New("jwk")
		}
		jkt = conformance.Thumbprint(jwk)
		return &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}, nil
	}, jwt.WithValidMethods([]string{"ES256"}))
	if err != nil {
		return nil, dpopRefusal("invalid_dpop_proof", "bad proof")
	}
	iat, _ := claims["iat"].(float64)
	sum := sha256.Sum256([]byte(tok))
	switch {
	case claims["htm"] != r.Method:
		return nil, dpopRefusal("invalid_dpop_proof", "htm")
	case l.checkHTU && claims["htu"] != kitResource:
		return nil, dpopRefusal("invalid_dpop_proof", "htu")
	case time.Since(time.Unix(int64(iat), 0)).Abs() > time.Minute:
		return nil, dpopRefusal("invalid_dpop_proof", "iat")
	case claims["ath"] != base64.RawURLEncoding.EncodeToString(sum[:]):
		return nil, dpopRefusal("invalid_dpop_proof", "ath")
	}
	jti, _ := claims["jti"].(string)
	if l.recordJTI {
		l.mu.Lock()
		seen := l.seen[jkt+jti]
		l.seen[jkt+jti] = true
		l.mu.Unlock()
		if seen || jti == "" {
			return nil, dpopRefusal("invalid_dpop_proof", "replay")
		}
	}
	// The token: a JWT of the issuer, bound to the proof's key.
	tc := jwt.MapClaims{}
	claimChecks := []jwt.ParserOption{jwt.WithIssuer(l.is.URL), jwt.WithAudience(kitResource), jwt.WithExpirationRequired()}
	if l.verifyToken {
		_, err = jwt.ParseWithClaims(tok, tc, func(t *jwt.Token) (any, error) {
			kid, _ := t.Header["kid"].(string)
			return l.is.PublicKey(kid), nil
		}, append(claimChecks, jwt.WithValidMethods([]string{"RS256"}))...)
	} else if _, _, err = jwt.NewParser().ParseUnverified(tok, tc); err == nil {
		// "The proof shows the client holds the key the token names":
		// the claims are checked, the signature never.
		err = jwt.NewValidator(claimChecks...).Validate(tc)
	}
	if err != nil {
		return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Err: err, Scheme: "DPoP"}
	}
	cnf, _ := tc["cnf"].(map[string]any)
	if cnf == nil || cnf["jkt"] != jkt || len(cnf) != 1 {
		return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: "key binding", Reason: audit.ReasonSenderConstrained, Scheme: "DPoP"}
	}
	sub, _ := tc["sub"].(string)
	scope, _ := tc["scope"].(string)
	granted, _ := rsguard.ParseScopes(scope)
	return &rsguard.Principal{Subject: "user:" + l.is.URL + "#" + sub, Credential: audit.CredentialJWT, Scopes: granted}, nil
}

// answerRewriter is a Validator (DPoP mode) that introspects at is through
// a proxy that passes f every answer that is a JSON object: a server that
// reads the answer more kindly than it should.
func answerRewriter(t *testing.T, is *Issuer, mode validate.DPoPMode, f func(map[string]any)) rsguard.Authenticator {
	t.Helper()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, is.IntrospectionURL, bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := is.Client().Do(req)
		if err != nil {
			http.Error(w, "upstream", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var m map[string]any
		if resp.StatusCode == http.StatusOK && json.Unmarshal(answer, &m) == nil && m != nil {
			f(m)
			answer, _ = json.Marshal(m)
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(proxy.Close)
	return introValidator(t, is, mode, func(c *validate.Config) { c.Introspection.Endpoint = proxy.URL + "/introspect" })
}

// laxIntrospector introspects as a quick hand-written server does: the
// answer decoded by encoding/json (the last duplicate wins, trailing data
// and the content type unchecked), "active" and "iss" and "exp" checked,
// neither "aud" nor "token_type".
func laxIntrospector(t *testing.T, is *Issuer) rsguard.Authenticator {
	client := is.Client()
	return authFunc(func(r *http.Request) (*rsguard.Principal, error) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return nil, &rsguard.Error{Status: http.StatusUnauthorized, Err: audit.ReasonNoCredential}
		}
		ctx, cancel := context.WithTimeout(r.Context(), kitIntroTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, is.IntrospectionURL, strings.NewReader(url.Values{"token": {tok}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rsClientID, rsClientSecret)
		resp, err := client.Do(req)
		if err != nil {
			return nil, &rsguard.Error{Status: http.StatusServiceUnavailable, Err: err}
		}
		defer resp.Body.Close()
		var a struct {
			Active bool    `json:"active"`
			Iss    string  `json:"iss"`
			Exp    float64 `json:"exp"`
			Sub    string  `json:"sub"`
			Scope  string  `json:"scope"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return nil, &rsguard.Error{Status: http.StatusServiceUnavailable, Err: err}
		}
		if !a.Active || a.Iss != is.URL || time.Unix(int64(a.Exp), 0).Before(time.Now()) {
			return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: "inactive"}
		}
		granted, _ := rsguard.ParseScopes(a.Scope)
		return &rsguard.Principal{Subject: "user:" + is.URL + "#" + a.Sub, Credential: audit.CredentialIntrospection, Scopes: granted}, nil
	})
}
