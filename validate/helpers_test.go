package validate_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// metadataURL is the RFC 9728 §3.1 path-inserted metadata URL of resource
// (and of hardResource, the same URL): the resource_metadata of every
// challenge of the Guards of these tests.
const metadataURL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

// guarded returns h behind an rsguard.Guard over a (a Validator), whose
// challenges carry metadataURL; mod, if not nil, changes the Guard's
// configuration first.
func guarded(t testing.TB, a rsguard.Authenticator, h http.Handler, mod func(*rsguard.Config)) http.Handler {
	t.Helper()
	cfg := rsguard.Config{Authenticator: a, ResourceMetadata: metadataURL}
	if mod != nil {
		mod(&cfg)
	}
	g, err := rsguard.New(cfg)
	require.NoError(t, err)
	return g.Middleware(h)
}

// clientCredentials runs an RFC 6749 §4.4 token request with the RFC 8707
// resource parameter against the test issuer and returns the access token.
func clientCredentials(t *testing.T, is *validatetest.Issuer, id, secret, resource, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}, "scope": {scope}}
	req, err := http.NewRequest(http.MethodPost, is.TokenURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := is.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "Bearer", body.TokenType)
	return body.AccessToken
}

// authenticate runs v.Authenticate on a request carrying tok.
func authenticate(v rsguard.Authenticator, tok string) (*rsguard.Principal, error) {
	r, _ := http.NewRequest(http.MethodGet, "https://mcp.example.com/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return v.Authenticate(r)
}

// staticKeySet returns validate.NewStaticKeySet(jwks), failing the test if
// it is refused.
func staticKeySet(tb testing.TB, jwks []byte) validate.KeySet {
	tb.Helper()
	ks, err := validate.NewStaticKeySet(jwks)
	require.NoError(tb, err)
	return ks
}

// ed25519JWKS returns a JWK Set of one new Ed25519 key, kid "k".
func ed25519JWKS(tb testing.TB) []byte {
	tb.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(tb, err)
	return []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","kid":"k","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}]}`)
}

// publicKeyDER returns the issuer's public key with this kid as PKIX,
// ASN.1 DER, and publicKeyPEM as a PEM "PUBLIC KEY" block: byte strings a
// verifier confused about algorithms might use as an HMAC secret.
func publicKeyDER(tb testing.TB, is *validatetest.Issuer, kid string) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(is.PublicKey(kid))
	require.NoError(tb, err, "kid %s", kid)
	return der
}

func publicKeyPEM(tb testing.TB, is *validatetest.Issuer, kid string) []byte {
	tb.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicKeyDER(tb, is, kid)})
}
