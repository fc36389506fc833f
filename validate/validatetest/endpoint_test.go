package validatetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenRequest describes one request to the token endpoint.
type tokenRequest struct {
	method      string // default POST
	contentType string // default application/x-www-form-urlencoded
	body        string
	header      http.Header
}

// doToken sends req and returns the status, headers and decoded JSON body.
func doToken(t *testing.T, is *Issuer, req tokenRequest) (int, http.Header, map[string]any) {
	t.Helper()
	if req.method == "" {
		req.method = http.MethodPost
	}
	if req.contentType == "" {
		req.contentType = "application/x-www-form-urlencoded"
	}
	r, err := http.NewRequest(req.method, is.TokenURL, strings.NewReader(req.body))
	require.NoError(t, err)
	for k, v := range req.header {
		r.Header[k] = v
	}
	r.Header.Set("Content-Type", req.contentType)
	resp, err := is.Client().Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "body %s", raw)
	return resp.StatusCode, resp.Header, m
}

// postToken posts a form body, with HTTP Basic credentials if basic is set.
func postToken(t *testing.T, is *Issuer, body string, basic []string) (int, map[string]any) {
	t.Helper()
	h := http.Header{}
	if basic != nil {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(basic[0], basic[1])
		h = r.Header
	}
	status, _, m := doToken(t, is, tokenRequest{body: body, header: h})
	return status, m
}

func basicAuth(id, secret string) http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r.Header
}

func endpointIssuer(t testing.TB, opts Options) *Issuer {
	opts.Algorithms = []string{"ES256", "EdDSA"}
	opts.DefaultAlgorithm = "EdDSA"
	opts.Clients = []Client{
		{ID: "svc", Secret: "s3cret", Scopes: []string{"read", "write"}},
		{ID: "odd:id é", Secret: "p@ss:w/rd+", Scopes: []string{"read"}},
		{ID: "none", Secret: "x"},
	}
	return NewIssuer(t, &opts)
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	const api = "https://api.example/mcp"
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		opts      Options
		req       tokenRequest
		wantSub   string
		wantAud   any
		wantScope string // in the response and the token; "" => absent
	}{
		{
			name:    "basic auth, all scopes by default",
			req:     tokenRequest{body: "grant_type=client_credentials&resource=" + url.QueryEscape(api), header: basicAuth("svc", "s3cret")},
			wantSub: "svc", wantAud: api, wantScope: "read write",
		},
		{
			name:    "client_secret_post, one scope",
			req:     tokenRequest{body: "grant_type=client_credentials&client_id=svc&client_secret=s3cret&scope=write&resource=" + url.QueryEscape(api)},
			wantSub: "svc", wantAud: api, wantScope: "write",
		},
		{
			name:    "basic auth with client_id repeated in the body",
			req:     tokenRequest{body: "grant_type=client_credentials&client_id=svc&scope=read+read&resource=" + url.QueryEscape(api), header: basicAuth("svc", "s3cret")},
			wantSub: "svc", wantAud: api, wantScope: "read",
		},
		{
			name:    "form-urlencoded basic credentials",
			req:     tokenRequest{body: "grant_type=client_credentials&resource=" + url.QueryEscape(api), header: basicAuth("odd:id é", "p@ss:w/rd+")},
			wantSub: "odd:id é", wantAud: api, wantScope: "read",
		},
		{
			name:    "several resources",
			req:     tokenRequest{body: "grant_type=client_credentials&client_id=svc&client_secret=s3cret&resource=https://a.example&resource=urn:x:b&resource=https://a.example"},
			wantSub: "svc", wantAud: []any{"https://a.example", "urn:x:b"}, wantScope: "read write",
		},
		{
			name:    "default audience",
			opts:    Options{Audience: []string{api}},
			req:     tokenRequest{body: "grant_type=client_credentials&client_id=svc&client_secret=s3cret&scope="},
			wantSub: "svc", wantAud: api, wantScope: "read write",
		},
		{
			name:    "client without scopes",
			req:     tokenRequest{body: "grant_type=client_credentials&client_id=none&client_secret=x&resource=" + url.QueryEscape(api)},
			wantSub: "none", wantAud: api,
		},
		{
			name:    "content type with charset",
			req:     tokenRequest{contentType: "application/x-www-form-urlencoded; charset=utf-8", body: "grant_type=client_credentials&client_id=svc&client_secret=s3cret&resource=" + url.QueryEscape(api)},
			wantSub: "svc", wantAud: api, wantScope: "read write",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			opts.Path = "/tenants/a"
			opts.Lifetime = 90 * time.Second
			opts.Now = func() time.Time { return now }
			is := endpointIssuer(t, opts)

			status, h, resp := doToken(t, is, tt.req)
			require.Equal(t, http.StatusOK, status, "%v", resp)
			assert.Equal(t, "no-store", h.Get("Cache-Control"))
			assert.Equal(t, "no-cache", h.Get("Pragma"))
			assert.Equal(t, "application/json", h.Get("Content-Type"))
			assert.Equal(t, "Bearer", resp["token_type"])
			assert.Equal(t, float64(90), resp["expires_in"])
			if tt.wantScope == "" {
				assert.NotContains(t, resp, "scope")
			} else {
				assert.Equal(t, tt.wantScope, resp["scope"])
			}

			raw, _ := resp["access_token"].(string)
			h2, _, _ := parts(t, raw)
			assert.Equal(t, map[string]any{"alg": "EdDSA", "kid": is.Kid("EdDSA"), "typ": "at+jwt"}, h2)
			claims := claimsOf(t, raw)
			assert.Len(t, claims["jti"], 32)
			delete(claims, "jti")
			want := map[string]any{
				"iss": is.URL, "sub": tt.wantSub, "client_id": tt.wantSub, "aud": tt.wantAud,
				"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(90 * time.Second).Unix()),
			}
			if tt.wantScope != "" {
				want["scope"] = tt.wantScope
			}
			assert.Equal(t, want, claims)
		})
	}
}

func TestTokenEndpointVerifies(t *testing.T) {
	t.Parallel()
	is := endpointIssuer(t, Options{})
	status, resp := postToken(t, is, "grant_type=client_credentials&resource=https://api.example", []string{"svc", "s3cret"})
	require.Equal(t, http.StatusOK, status)
	claims, err := verify(t, is, resp["access_token"].(string), "EdDSA", "https://api.example")
	require.NoError(t, err)
	assert.Equal(t, "svc", claims["sub"])
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	is := endpointIssuer(t, Options{})
	const good = "grant_type=client_credentials&resource=https%3A%2F%2Fapi.example"
	tests := []struct {
		name       string
		req        tokenRequest
		wantStatus int
		wantError  string
	}{
		{"GET", tokenRequest{method: http.MethodGet}, http.StatusMethodNotAllowed, "invalid_request"},
		{"JSON body", tokenRequest{contentType: "application/json", body: `{"grant_type":"client_credentials"}`, header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_request"},
		{"bad form", tokenRequest{body: "grant_type=%zz", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_request"},
		{"huge body", tokenRequest{body: good + "&x=" + strings.Repeat("a", 70<<10), header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_request"},
		{"no grant_type", tokenRequest{body: "resource=https://api.example", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_request"},
		{"empty grant_type", tokenRequest{body: "grant_type=&resource=https://api.example", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_request"},
		{"repeated grant_type", tokenRequest{body: good + "&grant_type=client_credentials", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_request"},
		{"repeated scope", tokenRequest{body: good + "&scope=read&scope=write", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_request"},
		{"two auth methods", tokenRequest{body: good + "&client_secret=s3cret", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_request"},
		{"client_id differs from basic", tokenRequest{body: good + "&client_id=none", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_request"},
		{"no client authentication", tokenRequest{body: good}, http.StatusUnauthorized, "invalid_client"},
		{"client_id without secret", tokenRequest{body: good + "&client_id=svc"}, http.StatusUnauthorized, "invalid_client"},
		{"wrong secret (basic)", tokenRequest{body: good, header: basicAuth("svc", "wrong")}, http.StatusUnauthorized, "invalid_client"},
		{"wrong secret (post)", tokenRequest{body: good + "&client_id=svc&client_secret=wrong"}, http.StatusUnauthorized, "invalid_client"},
		{"unknown client", tokenRequest{body: good, header: basicAuth("who", "s3cret")}, http.StatusUnauthorized, "invalid_client"},
		{"bearer authorization", tokenRequest{body: good, header: http.Header{"Authorization": {"Bearer abc"}}}, http.StatusUnauthorized, "invalid_client"},
		{"basic not urlencoded", tokenRequest{body: good, header: http.Header{"Authorization": {"Basic c3ZjOnMzY3JldCU="}}}, http.StatusUnauthorized, "invalid_client"},
		{"authorization_code grant", tokenRequest{body: "grant_type=authorization_code&code=x", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "unsupported_grant_type"},
		{"password grant", tokenRequest{body: "grant_type=password&username=a&password=b", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "unsupported_grant_type"},
		{"scope not allowed", tokenRequest{body: good + "&scope=read+admin", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_scope"},
		{"scope for a scopeless client", tokenRequest{body: good + "&scope=read", header: basicAuth("none", "x")}, http.StatusBadRequest, "invalid_scope"},
		{"malformed scope", tokenRequest{body: good + "&scope=" + url.QueryEscape(`read "write"`), header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_scope"},
		{"double space in scope", tokenRequest{body: good + "&scope=read++write", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_scope"},
		{"relative resource", tokenRequest{body: "grant_type=client_credentials&resource=/mcp", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_target"},
		{"resource with fragment", tokenRequest{body: "grant_type=client_credentials&resource=" + url.QueryEscape("https://api.example/#x"), header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_target"},
		{"resource with space", tokenRequest{body: "grant_type=client_credentials&resource=" + url.QueryEscape("https://api.example/a b"), header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_target"},
		{"one bad resource of two", tokenRequest{body: good + "&resource=mcp", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_target"},
		{"no resource, no default audience", tokenRequest{body: "grant_type=client_credentials", header: basicAuth("svc", "s3cret")}, http.StatusBadRequest, "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, resp := doToken(t, is, tt.req)
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantError, resp["error"])
			assert.NotEmpty(t, resp["error_description"])
			assert.NotContains(t, resp, "access_token")
			assert.Equal(t, "no-store", h.Get("Cache-Control"))
			assert.Equal(t, "application/json", h.Get("Content-Type"))
			switch status {
			case http.StatusUnauthorized:
				assert.Equal(t, `Basic realm="validatetest"`, h.Get("WWW-Authenticate"))
			case http.StatusMethodNotAllowed:
				assert.Equal(t, "POST", h.Get("Allow"))
			default:
				assert.Empty(t, h.Get("WWW-Authenticate"))
			}
		})
	}
}

// FuzzTokenEndpoint feeds arbitrary form bodies and Authorization headers to
// the token endpoint: it must always answer JSON with no-store, a token only
// with 200, and an RFC 6749 §5.2 error code otherwise.
func FuzzTokenEndpoint(f *testing.F) {
	is := endpointIssuer(f, Options{})
	f.Add("grant_type=client_credentials&resource=https://api.example", "Basic c3ZjOnMzY3JldA==")
	f.Add("grant_type=client_credentials&client_id=svc&client_secret=s3cret&scope=read&resource=urn:a", "")
	f.Add("grant_type=client_credentials&scope=read+%22x&resource=a#b", "Basic c3ZjOnMzY3JldA==")
	f.Add("grant_type=password&grant_type=x&%zz", "Bearer x")
	codes := map[string]bool{"invalid_request": true, "invalid_client": true, "unsupported_grant_type": true, "invalid_scope": true, "invalid_target": true}
	f.Fuzz(func(t *testing.T, body, authz string) {
		r := httptest.NewRequest(http.MethodPost, is.TokenURL, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		w := httptest.NewRecorder()
		is.serveHTTP(w, r)
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		var m map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m))
		if w.Code == http.StatusOK {
			assert.NotEmpty(t, m["access_token"])
			return
		}
		assert.True(t, codes[m["error"].(string)], "code %v", m["error"])
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized}, w.Code)
		desc, _ := m["error_description"].(string)
		for i := 0; i < len(desc); i++ {
			c := desc[i]
			assert.True(t, c >= 0x20 && c <= 0x7e && c != '"' && c != '\\', "error_description %q", desc)
		}
	})
}
