package validatetest

import (
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetadataDocuments(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, &Options{
		Path:       "/tenants/a",
		Algorithms: []string{"ES256", "EdDSA"},
		Clients: []Client{
			{ID: "c1", Secret: "s1", Scopes: []string{"read", "write"}},
			{ID: "c2", Secret: "s2", Scopes: []string{"write", "admin"}},
		},
	})
	tests := []struct {
		name string
		url  string
		oidc bool
	}{
		{"RFC 8414", is.MetadataURL, false},
		{"OpenID Connect", is.OpenIDConfigurationURL, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := getJSON(t, is, tt.url)
			want := map[string]any{
				"issuer":                                is.URL,
				"jwks_uri":                              is.JWKSURL,
				"token_endpoint":                        is.TokenURL,
				"grant_types_supported":                 []any{"client_credentials"},
				"token_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post"},
				"introspection_endpoint":                is.IntrospectionURL,
				"introspection_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post"},
				"scopes_supported": []any{"read", "write", "admin"},
			}
			if tt.oidc {
				want["subject_types_supported"] = []any{"public"}
				want["id_token_signing_alg_values_supported"] = []any{"ES256", "EdDSA"}
			}
			assert.Equal(t, want, m)
			// Only what it serves: no authorization endpoint, so no
			// response type (RFC 8414 §3.2: no empty arrays) and no PKCE.
			for _, k := range []string{"authorization_endpoint", "response_types_supported", "code_challenge_methods_supported"} {
				assert.NotContains(t, m, k)
			}
		})
	}
}

// TestMetadataForStrictClients: a client that insists on members this
// issuer does not honestly have (the MCP Go SDK v1.8.0's client_credentials
// handler refuses metadata without code_challenge_methods_supported) gets
// them through Options.Metadata.
func TestMetadataForStrictClients(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, &Options{Metadata: map[string]any{
		"code_challenge_methods_supported": []string{"S256"},
		"response_types_supported":         []string{"code"},
	}})
	for _, u := range []string{is.MetadataURL, is.OpenIDConfigurationURL} {
		m := getJSON(t, is, u)
		assert.Equal(t, []any{"S256"}, m["code_challenge_methods_supported"], u)
		assert.Equal(t, []any{"code"}, m["response_types_supported"], u)
	}
}

func TestMetadataOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		opts         Options
		wantMetadata int // status at MetadataURL
		wantOIDC     int
		check        func(t *testing.T, m map[string]any)
	}{
		{
			name:         "both",
			wantMetadata: http.StatusOK, wantOIDC: http.StatusOK,
			check: func(t *testing.T, m map[string]any) {
				assert.Equal(t, []any{}, m["scopes_supported"], "no clients, no scopes, still an array")
			},
		},
		{
			name:         "no RFC 8414",
			opts:         Options{DisableMetadata: true},
			wantMetadata: http.StatusNotFound, wantOIDC: http.StatusOK,
		},
		{
			name:         "no OpenID Connect",
			opts:         Options{DisableOpenIDConfiguration: true},
			wantMetadata: http.StatusOK, wantOIDC: http.StatusNotFound,
		},
		{
			name:         "neither",
			opts:         Options{DisableMetadata: true, DisableOpenIDConfiguration: true},
			wantMetadata: http.StatusNotFound, wantOIDC: http.StatusNotFound,
		},
		{
			name: "overrides",
			opts: Options{Metadata: map[string]any{
				"issuer":           "https://evil.example",
				"scopes_supported": nil,
				"x_extra":          []string{"a"},
			}},
			wantMetadata: http.StatusOK, wantOIDC: http.StatusOK,
			check: func(t *testing.T, m map[string]any) {
				assert.Equal(t, "https://evil.example", m["issuer"])
				assert.NotContains(t, m, "scopes_supported")
				assert.Equal(t, []any{"a"}, m["x_extra"])
				assert.Contains(t, m, "jwks_uri")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			opts.Algorithms = []string{"ES256"}
			is := NewIssuer(t, &opts)
			for _, c := range []struct {
				url  string
				want int
			}{{is.MetadataURL, tt.wantMetadata}, {is.OpenIDConfigurationURL, tt.wantOIDC}} {
				status, _, body := get(t, is, c.url)
				require.Equal(t, c.want, status, c.url)
				if status == http.StatusOK && tt.check != nil {
					var m map[string]any
					require.NoError(t, json.Unmarshal(body, &m))
					tt.check(t, m)
				}
			}
			assert.Equal(t, 1, is.Requests(is.MetadataURL), "404 included")
			assert.Equal(t, 1, is.Requests(is.OpenIDConfigurationURL), "404 included")
			assert.Zero(t, is.Requests(is.JWKSURL))
		})
	}
}

func TestDiscoveryMethods(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, &Options{Algorithms: []string{"ES256"}})
	for _, u := range []string{is.MetadataURL, is.OpenIDConfigurationURL, is.JWKSURL} {
		resp, err := is.Client().Head(u)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, u)

		resp, err = is.Client().Post(u, "application/json", strings.NewReader("{}"))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, u)
		assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, nil)
	jwks := fetchJWKS(t, is)
	require.Len(t, jwks, 4)

	var kids, algs []string
	rsaModuli := map[string]string{}
	for _, jwk := range jwks {
		for _, member := range []string{"kid", "kty", "alg", "use"} {
			assert.IsType(t, "", jwk[member], "%s of %v", member, jwk)
		}
		assert.Equal(t, "sig", jwk["use"])
		kid, alg := jwk["kid"].(string), jwk["alg"].(string)
		kids = append(kids, kid)
		algs = append(algs, alg)
		assert.Equal(t, kid, is.Kid(alg))
		assert.NotContains(t, jwk, "d", "no private member")

		pub := parseJWK(t, jwk)
		assert.True(t, pub.(interface{ Equal(x crypto.PublicKey) bool }).Equal(is.PublicKey(kid)), kid)
		if rk, ok := pub.(*rsa.PublicKey); ok {
			assert.Equal(t, 2048, rk.N.BitLen(), kid)
			rsaModuli[alg] = rk.N.String()
		}
	}
	assert.Equal(t, []string{"RS256", "PS256", "ES256", "EdDSA"}, algs)
	assert.Equal(t, publishedKids(is), kids)
	assert.NotEqual(t, rsaModuli["RS256"], rsaModuli["PS256"], "one key, one algorithm")
	assert.Equal(t, map[string]any{"kty": "EC", "crv": "P-256"}, map[string]any{"kty": jwks[2]["kty"], "crv": jwks[2]["crv"]})
	assert.Equal(t, map[string]any{"kty": "OKP", "crv": "Ed25519"}, map[string]any{"kty": jwks[3]["kty"], "crv": jwks[3]["crv"]})
	assert.Equal(t, 1, is.Requests(is.JWKSURL))
}

func TestSetDown(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, &Options{
		Algorithms: []string{"ES256"},
		Audience:   []string{"https://api.example/mcp"},
		Clients:    []Client{{ID: "c", Secret: "s"}},
	})
	is.Handle(is.JWKSURL, http.NotFoundHandler()) // down takes precedence
	is.SetDown(true)
	for _, u := range []string{is.MetadataURL, is.OpenIDConfigurationURL, is.JWKSURL} {
		status, _, _ := get(t, is, u)
		assert.Equal(t, http.StatusServiceUnavailable, status, u)
	}
	status, _ := postToken(t, is, "grant_type=client_credentials&client_id=c&client_secret=s", nil)
	assert.Equal(t, http.StatusOK, status, "the token endpoint stays up")

	is.SetDown(false)
	is.Handle(is.JWKSURL, nil)
	assert.Len(t, fetchJWKS(t, is), 1)
	assert.Equal(t, 2, is.Requests(is.JWKSURL))
	assert.Equal(t, 1, is.Requests(is.MetadataURL))
	assert.Equal(t, 1, is.Requests(is.OpenIDConfigurationURL))
	assert.Equal(t, 1, is.Requests(is.TokenURL))
}

func TestReplacementHandlers(t *testing.T) {
	t.Parallel()
	is := NewIssuer(t, &Options{Algorithms: []string{"ES256"}, DisableOpenIDConfiguration: true})
	garbage := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys": [{"kty": `))
	})
	for _, u := range []string{is.JWKSURL, is.MetadataURL, is.OpenIDConfigurationURL, is.TokenURL} {
		is.Handle(u, garbage)
	}
	for _, u := range []string{is.JWKSURL, is.MetadataURL, is.OpenIDConfigurationURL} {
		status, _, body := get(t, is, u)
		assert.Equal(t, http.StatusOK, status, u)
		assert.Equal(t, `{"keys": [{"kty": `, string(body), u)
	}
	resp, err := is.Client().Post(is.TokenURL, "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, `{"keys": [{"kty": `, string(raw))

	// Each URL has its own handler.
	is.Handle(is.JWKSURL, nil)
	assert.Len(t, fetchJWKS(t, is), 1)
	_, _, body := get(t, is, is.MetadataURL)
	assert.Equal(t, `{"keys": [{"kty": `, string(body), "still replaced")

	for _, u := range []string{is.MetadataURL, is.OpenIDConfigurationURL, is.TokenURL} {
		is.Handle(u, nil)
	}
	assert.Equal(t, is.URL, getJSON(t, is, is.MetadataURL)["issuer"])
	status, _, _ := get(t, is, is.OpenIDConfigurationURL)
	assert.Equal(t, http.StatusNotFound, status, "disabled again")
	status, _ = postToken(t, is, "grant_type=client_credentials", nil)
	assert.Equal(t, http.StatusUnauthorized, status, "the issuer's own token endpoint again")
	assert.Equal(t, 2, is.Requests(is.JWKSURL))
	assert.Equal(t, 3, is.Requests(is.MetadataURL))
	assert.Equal(t, 2, is.Requests(is.OpenIDConfigurationURL))
	assert.Equal(t, 2, is.Requests(is.TokenURL))
}

// TestEndpointURLs: Handle and Requests take the issuer's four endpoint
// URLs; any other URL is a mistake of the test, reported with tb.Errorf
// (from any goroutine), never a panic. The URL fields are read-only: a test
// that writes into them changes nothing the issuer serves.
func TestEndpointURLs(t *testing.T) {
	t.Parallel()
	rec := &recordTB{TB: t}
	is := NewIssuer(rec, &Options{Algorithms: []string{"ES256"}})
	for _, u := range []string{is.URL, is.URL + "/jwks/", strings.ToUpper(is.JWKSURL), "", "https://example.com/jwks"} {
		is.Handle(u, http.NotFoundHandler())
		assert.Zero(t, is.Requests(u), u)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		is.Handle("nope", nil)
	}()
	<-done
	rec.mu.Lock()
	assert.Len(t, rec.errors, 11, "each misuse is reported: %q", rec.errors)
	assert.False(t, rec.fatal)
	rec.mu.Unlock()

	jwksURL := is.JWKSURL
	is.JWKSURL = "https://example.com/elsewhere"
	is.URL = "https://example.com"
	assert.Len(t, fetchJWKSAt(t, is, jwksURL), 1, "still served where it was")
	assert.Equal(t, 1, is.Requests(jwksURL))
	status, _, body := get(t, is, is.MetadataURL)
	require.Equal(t, http.StatusOK, status)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	assert.Equal(t, jwksURL, m["jwks_uri"])
	assert.NotEqual(t, "https://example.com", m["issuer"])
}
