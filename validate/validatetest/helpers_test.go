package validatetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// recordTB records Errorf and Fatalf calls instead of failing the test.
type recordTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (r *recordTB) Helper() {}

func (r *recordTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.fatal = true
}

func (r *recordTB) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// get fetches url with the issuer's client and returns status, headers, body.
func get(t *testing.T, is *Issuer, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := is.Client().Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

// getJSON fetches url, requires 200 and decodes the JSON object.
func getJSON(t *testing.T, is *Issuer, url string) map[string]any {
	t.Helper()
	status, h, body := get(t, is, url)
	require.Equal(t, http.StatusOK, status, "GET %s: %s", url, body)
	require.Equal(t, "application/json", h.Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	return m
}

// fetchJWKS fetches the issuer's JWK Set over HTTP and returns its entries.
func fetchJWKS(t *testing.T, is *Issuer) []map[string]any {
	t.Helper()
	return fetchJWKSAt(t, is, is.JWKSURL)
}

// fetchJWKSAt fetches the JWK Set at url and returns its entries.
func fetchJWKSAt(t *testing.T, is *Issuer, url string) []map[string]any {
	t.Helper()
	status, _, body := get(t, is, url)
	require.Equal(t, http.StatusOK, status)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(body, &set))
	return set.Keys
}

// fetchKeys fetches the JWK Set over HTTP and decodes its public keys by kid.
func fetchKeys(t *testing.T, is *Issuer) map[string]crypto.PublicKey {
	t.Helper()
	keys := make(map[string]crypto.PublicKey)
	for _, jwk := range fetchJWKS(t, is) {
		kid, _ := jwk["kid"].(string)
		keys[kid] = parseJWK(t, jwk)
	}
	return keys
}

func b64(t *testing.T, v any) []byte {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "JWK member is %T, want string", v)
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// parseJWK decodes an RSA, EC or OKP public JWK independently of the code
// under test.
func parseJWK(t *testing.T, jwk map[string]any) crypto.PublicKey {
	t.Helper()
	switch jwk["kty"] {
	case "RSA":
		return &rsa.PublicKey{
			N: new(big.Int).SetBytes(b64(t, jwk["n"])),
			E: int(new(big.Int).SetBytes(b64(t, jwk["e"])).Int64()),
		}
	case "EC":
		curves := map[any]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		curve := curves[jwk["crv"]]
		require.NotNil(t, curve, "crv %v", jwk["crv"])
		x, y := b64(t, jwk["x"]), b64(t, jwk["y"])
		size := (curve.Params().BitSize + 7) / 8
		require.Len(t, x, size)
		require.Len(t, y, size)
		return &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	case "OKP":
		require.Equal(t, "Ed25519", jwk["crv"])
		return ed25519.PublicKey(b64(t, jwk["x"]))
	}
	require.Failf(t, "unexpected kty", "kty %v", jwk["kty"])
	return nil
}

// verify checks raw with golang-jwt against the keys fetched over HTTP,
// requiring alg, the issuer and, if non-empty, the audience.
func verify(t *testing.T, is *Issuer, raw, alg, aud string) (jwt.MapClaims, error) {
	t.Helper()
	keys := fetchKeys(t, is)
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{alg}),
		jwt.WithIssuer(is.URL),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if aud != "" {
		opts = append(opts, jwt.WithAudience(aud))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("no published key %q", kid)
	}, opts...)
	return claims, err
}

// parts decodes a compact JWS into its header, payload and signature.
func parts(t *testing.T, raw string) (header map[string]any, payload, sig []byte) {
	t.Helper()
	segs := strings.Split(raw, ".")
	require.Len(t, segs, 3, "token %q", raw)
	h, err := base64.RawURLEncoding.DecodeString(segs[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(h, &header))
	payload, err = base64.RawURLEncoding.DecodeString(segs[1])
	require.NoError(t, err)
	sig, err = base64.RawURLEncoding.DecodeString(segs[2])
	require.NoError(t, err)
	return header, payload, sig
}

// claimsOf decodes the payload of raw as a JSON object.
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	_, payload, _ := parts(t, raw)
	var c map[string]any
	require.NoError(t, json.Unmarshal(payload, &c))
	return c
}

// publishedKids returns the kids of the published keys, in JWK Set order:
// the handles AddKey and Rotate returned, also for an entry whose JWK has
// no "kid" member.
func publishedKids(is *Issuer) []string {
	is.mu.RLock()
	defer is.mu.RUnlock()
	var kids []string
	for _, k := range is.keys {
		if k.published {
			kids = append(kids, k.kid)
		}
	}
	return kids
}

// publicKeyPEM and publicKeyDER encode the public key of kid as a verifier
// confused about algorithms might read it; nil for an unknown kid.
func publicKeyPEM(is *Issuer, kid string) []byte {
	_, p := pkixPublicKey(is.PublicKey(kid))
	return p
}

func publicKeyDER(is *Issuer, kid string) []byte {
	d, _ := pkixPublicKey(is.PublicKey(kid))
	return d
}
