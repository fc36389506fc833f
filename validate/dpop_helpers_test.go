package validate_test

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
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/rsmeta"
)

// The DPoP client side of the tests, made with the standard library and
// golang-jwt only: keys, their public JWKs and RFC 7638 thumbprints
// (computed here independently of the package), and proofs.

var dpopB64 = base64.RawURLEncoding

// dpopKey is a client's proof key.
type dpopKey struct {
	alg    string // the proof's header "alg"
	method jwt.SigningMethod
	priv   crypto.Signer
	jwk    map[string]any
	jkt    string
}

var jtiSeq atomic.Int64

// newDPoPKey makes a key for alg: ES256/384/512, RS256, PS256, EdDSA or
// Ed25519 (EdDSA signing, "Ed25519" in the header, RFC 9864).
func newDPoPKey(t testing.TB, alg string) *dpopKey {
	t.Helper()
	k := &dpopKey{alg: alg}
	var err error
	switch alg {
	case "ES256", "ES384", "ES512":
		curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		var ec *ecdsa.PrivateKey
		ec, err = ecdsa.GenerateKey(curve, rand.Reader)
		k.priv, k.method = ec, jwt.GetSigningMethod(alg)
	case "RS256", "PS256":
		var r *rsa.PrivateKey
		r, err = rsa.GenerateKey(rand.Reader, 2048)
		k.priv, k.method = r, jwt.GetSigningMethod(alg)
	case "EdDSA", "Ed25519":
		_, k.priv, err = ed25519.GenerateKey(rand.Reader)
		k.method = jwt.SigningMethodEdDSA
	default:
		t.Fatalf("no key for %s", alg)
	}
	require.NoError(t, err)
	k.jwk = dpopJWK(k.priv.Public())
	k.jkt = dpopThumbprint(k.jwk)
	return k
}

// dpopJWK is the RFC 7517 public JWK of pub.
func dpopJWK(pub crypto.PublicKey) map[string]any {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		return map[string]any{"kty": "EC", "crv": pub.Curve.Params().Name,
			"x": dpopB64.EncodeToString(pub.X.FillBytes(make([]byte, size))), "y": dpopB64.EncodeToString(pub.Y.FillBytes(make([]byte, size)))}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": dpopB64.EncodeToString(pub.N.Bytes()), "e": dpopB64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": dpopB64.EncodeToString(pub)}
	}
	panic("unsupported key")
}

// dpopThumbprint is the RFC 7638 thumbprint of jwk: SHA-256 of the required
// members in lexicographic order without white space (json.Marshal of a
// map sorts its keys and adds none).
func dpopThumbprint(jwk map[string]any) string {
	req := map[string][]string{"EC": {"crv", "kty", "x", "y"}, "RSA": {"e", "kty", "n"}, "OKP": {"crv", "kty", "x"}}[jwk["kty"].(string)]
	m := map[string]any{}
	for _, name := range req {
		m[name] = jwk[name]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return dpopB64.EncodeToString(sum[:])
}

// dpopAth is the "ath" of a proof for tok.
func dpopAth(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return dpopB64.EncodeToString(sum[:])
}

// proofClaims are the claims of a good proof of a POST to resource with
// tok, issued at fixedNow; change them, or delete one with a nil value.
func proofClaims(tok string) map[string]any {
	return map[string]any{"htm": http.MethodPost, "htu": resource, "iat": fixedNow.Unix(),
		"jti": "jti-" + strconv.FormatInt(jtiSeq.Add(1), 10), "ath": dpopAth(tok)}
}

// proof signs a proof with claims (nil: proofClaims(tok)) changed by
// extra, and a header of typ dpop+jwt, alg and the public jwk changed by
// header (a nil value deletes a member).
func (k *dpopKey) proof(t testing.TB, tok string, extra, header map[string]any) string {
	t.Helper()
	claims := jwt.MapClaims(proofClaims(tok))
	for n, v := range extra {
		if v == nil {
			delete(claims, n)
		} else {
			claims[n] = v
		}
	}
	jt := jwt.NewWithClaims(k.method, claims)
	jt.Header["alg"] = k.alg
	jt.Header["typ"] = "dpop+jwt"
	jt.Header["jwk"] = k.jwk
	for n, v := range header {
		if v == nil {
			delete(jt.Header, n)
		} else {
			jt.Header[n] = v
		}
	}
	s, err := jt.SignedString(k.priv)
	require.NoError(t, err)
	return s
}

// signRaw signs a proof whose header and payload are the JSON texts given
// (for shapes a map cannot hold).
func (k *dpopKey) signRaw(t testing.TB, header, payload string) string {
	t.Helper()
	in := dpopB64.EncodeToString([]byte(header)) + "." + dpopB64.EncodeToString([]byte(payload))
	sig, err := k.method.Sign(in, k.priv)
	require.NoError(t, err)
	return in + "." + dpopB64.EncodeToString(sig)
}

// dpopRequest is a POST to the resource with `Authorization: DPoP tok` and
// the proofs given, one DPoP field line each.
func dpopRequest(tok string, proofs ...string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, resource, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return req
}

// dpopChallenges parses the WWW-Authenticate field values of rec.
func dpopChallenges(t testing.TB, h http.Header) []rsmeta.Challenge {
	t.Helper()
	var out []rsmeta.Challenge
	for _, v := range h.Values("WWW-Authenticate") {
		cs, err := rsmeta.ParseChallenges(v)
		require.NoError(t, err, v)
		out = append(out, cs...)
	}
	return out
}

// dpopParam returns the auth-param name of c.
func dpopParam(c rsmeta.Challenge, name string) string {
	for _, p := range c.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}
