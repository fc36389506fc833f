package validatetest_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// In a test, pass the *testing.T (or *testing.B) as the first argument: the
// issuer is then shut down when the test ends. An example has none, so it
// passes nil and closes the issuer itself.
func Example() {
	iss := validatetest.NewIssuer(nil, &validatetest.Options{
		Path:     "/tenants/a",
		Audience: []string{"https://mcp.example.com/mcp"},
	})
	defer iss.Close()

	// The code under test discovers the issuer from its identifier, with a
	// client that trusts the issuer's certificate.
	resp, err := iss.Client().Get(iss.MetadataURL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		panic(err)
	}
	fmt.Println(path(iss.MetadataURL))
	fmt.Println(meta.Issuer == iss.URL, meta.JWKSURI == iss.JWKSURL)

	// A test then sends requests with a token from the issuer.
	token := iss.Token(map[string]any{"scope": "tools:read"})
	fmt.Println(strings.Count(token, "."), "dots")
	// Output:
	// /.well-known/oauth-authorization-server/tenants/a
	// true true
	// 2 dots
}

// path returns the path of a URL: the issuer's port changes on every run.
func path(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	return p.Path
}

func ExampleIssuer_Token() {
	iss := validatetest.NewIssuer(nil, &validatetest.Options{Algorithms: []string{"ES256"}})
	defer iss.Close()

	raw := iss.Token(map[string]any{
		"aud":   "https://mcp.example.com/mcp",
		"scope": "tools:read tools:write",
		"sub":   "alice",
	})

	// Verify it the way a resource server would (here with the public key
	// directly; a validator fetches iss.JWKSURL).
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		return iss.PublicKey(t.Header["kid"].(string)), nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(iss.URL),
		jwt.WithAudience("https://mcp.example.com/mcp"), jwt.WithExpirationRequired())
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Header["typ"], claims["sub"], claims["client_id"], claims["scope"])
	// Output: at+jwt alice test-client tools:read tools:write
}

func ExampleIssuer_TokenWith() {
	iss := validatetest.NewIssuer(nil, nil)
	defer iss.Close()
	rs256 := iss.Kid("RS256")

	// An unsecured token: "none", any casing, empty signature.
	none := iss.TokenWith(validatetest.TokenOptions{Alg: "nOnE"}, nil)
	fmt.Println(strings.HasSuffix(none, "."))

	// Algorithm confusion: HS256 keyed with the published RSA key's PEM,
	// naming that key's kid.
	der, err := x509.MarshalPKIXPublicKey(iss.PublicKey(rs256))
	if err != nil {
		panic(err)
	}
	confused := iss.TokenWith(validatetest.TokenOptions{
		Alg:    "HS256",
		Secret: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	}, nil)
	fmt.Println(header(confused))

	// A header a validator must refuse, and a claim of the wrong type.
	odd := iss.TokenWith(validatetest.TokenOptions{
		Header: map[string]any{"crit": []string{"x-unknown"}, "typ": "dpop+jwt", "kid": nil},
	}, map[string]any{"exp": "tomorrow"})
	fmt.Println(header(odd))
	// Output:
	// true
	// alg=HS256 kid=ok typ=at+jwt
	// alg=RS256 crit=[x-unknown] typ=dpop+jwt
}

// header prints a token's header with a fixed member order, and "ok" for
// the issuer's random kid.
func header(raw string) string {
	tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		panic(err)
	}
	var out []string
	for _, k := range []string{"alg", "crit", "kid", "typ"} {
		switch v, ok := tok.Header[k]; {
		case !ok:
		case k == "kid":
			out = append(out, "kid=ok")
		default:
			out = append(out, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(out, " ")
}

func ExampleIssuer_Rotate() {
	iss := validatetest.NewIssuer(nil, &validatetest.Options{Algorithms: []string{"ES256"}})
	defer iss.Close()
	old := iss.Kid("ES256")

	kid := iss.Rotate("ES256") // both keys published; new tokens use kid
	fmt.Println(published(iss, old), published(iss, kid), iss.Kid("ES256") == kid)

	iss.Retire(old) // tokens signed with old no longer verify
	fmt.Println(published(iss, old), published(iss, kid))
	// Output:
	// true true true
	// false true
}

// published reports whether the issuer's JWK Set, as a validator fetches
// it, has a key with this kid.
func published(iss *validatetest.Issuer, kid string) bool {
	resp, err := iss.Client().Get(iss.JWKSURL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		panic(err)
	}
	return slices.ContainsFunc(set.Keys, func(k struct {
		Kid string `json:"kid"`
	}) bool {
		return k.Kid == kid
	})
}

// The token endpoint at iss.TokenURL, and how often it was asked.
func ExampleIssuer_Requests() {
	iss := validatetest.NewIssuer(nil, &validatetest.Options{
		Clients: []validatetest.Client{{ID: "svc", Secret: "s3cret", Scopes: []string{"tools:read", "tools:write"}}},
	})
	defer iss.Close()

	// An OAuth client gets a token with client_credentials (RFC 6749 §4.4)
	// for a resource (RFC 8707).
	resp, err := iss.Client().PostForm(iss.TokenURL, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"svc"},
		"client_secret": {"s3cret"},
		"scope":         {"tools:read"},
		"resource":      {"https://mcp.example.com/mcp"},
	})
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, resp.Header.Get("Cache-Control"), body.TokenType, body.ExpiresIn, body.Scope)
	fmt.Println(iss.Requests(iss.TokenURL))
	// Output:
	// 200 no-store Bearer 300 tools:read
	// 1
}

func ExampleIssuer_SetDown() {
	iss := validatetest.NewIssuer(nil, &validatetest.Options{Algorithms: []string{"EdDSA"}})
	defer iss.Close()

	iss.SetDown(true)
	resp, err := iss.Client().Get(iss.JWKSURL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, iss.Requests(iss.JWKSURL))
	// Output: 503 1
}

func ExampleIssuer_Handle() {
	iss := validatetest.NewIssuer(nil, &validatetest.Options{Algorithms: []string{"EdDSA"}})
	defer iss.Close()

	// A JWK Set the code under test must survive.
	iss.Handle(iss.JWKSURL, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys": [{"kty":`))
	}))
	resp, err := iss.Client().Get(iss.JWKSURL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	iss.Handle(iss.JWKSURL, nil) // the issuer's own JWK Set again
	fmt.Println(published(iss, iss.Kid("EdDSA")), iss.Requests(iss.JWKSURL))
	// Output:
	// {"keys": [{"kty":
	// true 2
}
