package validate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// A resource that accepts only DPoP-bound tokens (RFC 9449): the client
// proves, with each request, that it holds the key its token is bound to.
func ExampleDPoPConfig() {
	const resource = "https://mcp.example.com/mcp"
	is := validatetest.NewIssuer(nil, &validatetest.Options{Audience: []string{resource}})
	defer is.Close()
	v, err := validate.New(context.Background(), validate.Config{
		Issuer:   is.URL,
		Resource: resource,
		Fetch:    validate.FetchOptions{HTTPClient: is.Client()},
		DPoP:     validate.DPoPConfig{Mode: validate.DPoPRequired},
	})
	if err != nil {
		panic(err)
	}
	guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"})
	if err != nil {
		panic(err)
	}
	h := guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := validate.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s, key %t", c.Subject, c.KeyThumbprint != "")
	}))

	// The client's key, and its RFC 7638 thumbprint, which the
	// authorization server puts in the token's cnf.jkt.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": b64(key.X.FillBytes(make([]byte, 32))), "y": b64(key.Y.FillBytes(make([]byte, 32)))}
	sum := sha256.Sum256([]byte(fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, jwk["x"], jwk["y"])))
	tok := is.Token(map[string]any{"sub": "alice", "cnf": map[string]any{"jkt": b64(sum[:])}})

	// A proof for one request: its method, URL and token.
	ath := sha256.Sum256([]byte(tok))
	proof := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"htm": "POST", "htu": resource, "iat": time.Now().Unix(), "jti": "p-1", "ath": b64(ath[:]),
	})
	proof.Header["typ"], proof.Header["jwk"] = "dpop+jwt", jwk
	signed, _ := proof.SignedString(key)

	req := httptest.NewRequest(http.MethodPost, resource, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", signed)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())

	// The same proof again is a replay; the token as Bearer is refused.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	req.Header.Set("Authorization", "Bearer "+tok)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 200 hello alice, key true
	// 401 DPoP resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", error="invalid_dpop_proof", error_description="the DPoP proof was already used", algs="ES256 EdDSA Ed25519 RS256 PS256"
	// 401 DPoP resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", algs="ES256 EdDSA Ed25519 RS256 PS256"
}
