package validate_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

const metadataURL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

// whoami answers with the principal and scopes the middleware stored.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := validate.ClaimsFromContext(r.Context())
	g, gok := scopes.FromContext(r.Context())
	if !ok || !gok {
		http.Error(w, "no claims", 500)
		return
	}
	io.WriteString(w, c.Principal()+" "+strings.Join(g.Scopes, ",")+" "+string(g.Credential)+" "+g.ResourceMetadata+" "+g.Tenant)
})

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		query   string
		want    string
		wantErr error
	}{
		{name: "bearer", headers: []string{"Bearer abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "scheme case-insensitive", headers: []string{"bEaReR abc"}, want: "abc"},
		{name: "several spaces", headers: []string{"Bearer    abc"}, want: "abc"},
		{name: "b64token padding", headers: []string{"Bearer ab+/c~d=="}, want: "ab+/c~d=="},
		{name: "no header", wantErr: validate.ErrNoToken},
		{name: "basic scheme", headers: []string{"Basic dXNlcjpwYXNz"}, wantErr: validate.ErrNoToken},
		{name: "DPoP scheme", headers: []string{"DPoP abc"}, wantErr: validate.ErrNoToken},
		{name: "empty bearer", headers: []string{"Bearer"}, wantErr: validate.ErrInvalidRequest},
		{name: "bearer and spaces", headers: []string{"Bearer   "}, wantErr: validate.ErrInvalidRequest},
		{name: "token with a space", headers: []string{"Bearer abc def"}, wantErr: validate.ErrInvalidRequest},
		{name: "token with a comma", headers: []string{"Bearer abc,def"}, wantErr: validate.ErrInvalidRequest},
		{name: "padding in the middle", headers: []string{"Bearer ab=c"}, wantErr: validate.ErrInvalidRequest},
		{name: "quoted token", headers: []string{`Bearer "abc"`}, wantErr: validate.ErrInvalidRequest},
		{name: "control character", headers: []string{"Bearer abc\x01"}, wantErr: validate.ErrInvalidRequest},
		{name: "two headers", headers: []string{"Bearer a", "Bearer b"}, wantErr: validate.ErrInvalidRequest},
		{name: "empty header", headers: []string{""}, wantErr: validate.ErrInvalidRequest},
		{name: "oversized", headers: []string{"Bearer " + strings.Repeat("a", validate.MaxAuthorizationBytes)}, wantErr: validate.ErrInvalidRequest},
		{name: "token in the query", query: "access_token=abc", wantErr: validate.ErrInvalidRequest},
		{name: "token in the query and header", headers: []string{"Bearer abc"}, query: "x=1&access_token=abc", wantErr: validate.ErrInvalidRequest},
		{name: "unrelated query", headers: []string{"Bearer abc"}, query: "not_access_token_really=1", want: "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/mcp?"+tc.query, nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := validate.BearerToken(r)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMiddleware(t *testing.T) {
	is := newIssuer(t, nil)
	var logs bytes.Buffer
	v := newValidator(t, is, func(c *validate.Config) {
		c.ChallengeScopes = []string{"mcp:tools", "offline_access"}
		c.TenantClaim = "org_id"
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	srv := httptest.NewServer(v.Middleware(whoami))
	t.Cleanup(srv.Close)

	good := is.Token(map[string]any{"sub": "alice", "scope": "tools:read tools:write", "org_id": "acme"})
	expired := is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()})
	otherAud := is.Token(map[string]any{"aud": "https://other.example/mcp"})
	for _, tc := range []struct {
		name       string
		headers    []string
		query      string
		wantStatus int
		wantAuth   string // WWW-Authenticate, byte for byte
		wantBody   string
	}{
		{
			name:       "valid",
			headers:    []string{"Bearer " + good},
			wantStatus: 200,
			wantBody:   "user:" + is.URL() + "#alice tools:read,tools:write jwt " + metadataURL + " acme",
		},
		{
			name:       "no token",
			wantStatus: 401,
			wantAuth:   `Bearer resource_metadata="` + metadataURL + `", scope="mcp:tools"`,
			wantBody:   `{}`,
		},
		{
			name:       "other scheme",
			headers:    []string{"Basic dXNlcjpwYXNz"},
			wantStatus: 401,
			wantAuth:   `Bearer resource_metadata="` + metadataURL + `", scope="mcp:tools"`,
		},
		{
			name:       "expired",
			headers:    []string{"Bearer " + expired},
			wantStatus: 401,
			wantAuth:   `Bearer resource_metadata="` + metadataURL + `", scope="mcp:tools", error="invalid_token", error_description="the access token expired"`,
			wantBody:   `{"error":"invalid_token","error_description":"the access token expired"}`,
		},
		{
			name:       "token for another resource",
			headers:    []string{"Bearer " + otherAud},
			wantStatus: 401,
			wantAuth:   `Bearer resource_metadata="` + metadataURL + `", scope="mcp:tools", error="invalid_token", error_description="the token was not issued for this resource"`,
		},
		{
			name:       "garbage",
			headers:    []string{"Bearer not-a-jwt"},
			wantStatus: 401,
			wantAuth:   `Bearer resource_metadata="` + metadataURL + `", scope="mcp:tools", error="invalid_token", error_description="the access token is malformed"`,
		},
		{
			name:       "two Authorization headers",
			headers:    []string{"Bearer " + good, "Bearer " + good},
			wantStatus: 400,
			wantAuth:   `Bearer resource_metadata="` + metadataURL + `", scope="mcp:tools", error="invalid_request", error_description="multiple Authorization headers"`,
		},
		{
			name:       "token in the query string",
			query:      "access_token=" + good,
			wantStatus: 400,
			wantAuth:   `Bearer resource_metadata="` + metadataURL + `", scope="mcp:tools", error="invalid_request", error_description="access tokens are accepted only in the Authorization header"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/mcp?"+tc.query, strings.NewReader(`{}`))
			require.NoError(t, err)
			for _, h := range tc.headers {
				req.Header.Add("Authorization", h)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			assert.Equal(t, tc.wantStatus, resp.StatusCode)
			if tc.wantAuth != "" {
				assert.Equal(t, []string{tc.wantAuth}, resp.Header.Values("WWW-Authenticate"))
				assert.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate")
				assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
				cs, err := rsmeta.ParseChallenges(tc.wantAuth)
				require.NoError(t, err)
				assert.Equal(t, metadataURL, cs[0].ResourceMetadata)
			} else {
				assert.Empty(t, resp.Header.Values("WWW-Authenticate"))
			}
			if tc.wantBody != "" {
				assert.Equal(t, tc.wantBody, string(body))
			}
		})
	}
	assert.NotContains(t, logs.String(), strings.Split(good, ".")[1], "no token in logs")
	assert.NotContains(t, logs.String(), strings.Split(expired, ".")[2], "no token in logs")
	assert.Contains(t, logs.String(), "token expired")
}

func TestMiddlewareLazyUnavailable(t *testing.T) {
	is := newIssuer(t, nil)
	is.SetDown(true)
	v := newValidator(t, is, func(c *validate.Config) { c.Lazy = true })
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+is.Token(nil))
	v.Middleware(whoami).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	assert.Equal(t, `Bearer resource_metadata="`+metadataURL+`"`, rec.Header().Get("WWW-Authenticate"))

	// A request without a token still learns where to authenticate.
	rec = httptest.NewRecorder()
	v.Middleware(whoami).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/mcp", nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}

func TestWriteErrorForeignError(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, func(c *validate.Config) { c.Realm = "mcp" })
	rec := httptest.NewRecorder()
	v.WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), io.ErrUnexpectedEOF)
	assert.Equal(t, 401, rec.Code)
	assert.Equal(t, `Bearer realm="mcp", resource_metadata="`+metadataURL+`", error="invalid_token", error_description="the access token was rejected"`, rec.Header().Get("WWW-Authenticate"))
	assert.NotContains(t, rec.Body.String(), "EOF")
}

func TestChallengeIsACopy(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, func(c *validate.Config) { c.ChallengeScopes = []string{"a"} })
	c := v.Challenge()
	c.Scope[0] = "mutated"
	assert.Equal(t, []string{"a"}, v.Challenge().Scope)
}

// TestEndToEndTokenEndpoint gets a token from the test issuer's
// client_credentials endpoint with the RFC 8707 resource parameter, as a real
// client would, and calls the protected handler with it.
func TestEndToEndTokenEndpoint(t *testing.T) {
	is := validatetest.NewIssuer(t, &validatetest.Options{
		Clients: []validatetest.Client{{ID: "svc", Secret: "s3cret", Scopes: []string{"tools:read"}}},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := validate.New(ctx, validate.Config{Issuer: is.URL(), Resource: resource, HTTPClient: is.Client()})
	require.NoError(t, err)
	srv := httptest.NewServer(v.Middleware(whoami))
	defer srv.Close()

	tok := clientCredentials(t, is, "svc", "s3cret", resource, "tools:read")
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "tools:read jwt")

	// A token for another resource is refused: no token passthrough.
	other := clientCredentials(t, is, "svc", "s3cret", "https://other.example/api", "tools:read")
	req.Header.Set("Authorization", "Bearer "+other)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
}

// TestPrebuiltAnswers checks that refusals replayed from the pre-built
// answers equal what rsmeta.WriteChallenge writes, that a handler which set
// Access-Control-Expose-Headers first still gets them merged, and that
// changing one response's headers cannot leak into the next.
func TestPrebuiltAnswers(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, func(c *validate.Config) { c.ChallengeScopes = []string{"s"} })
	for _, err := range []error{validate.ErrNoToken, validate.ErrExpired, validate.ErrInvalidRequest} {
		// The generic path, for comparison.
		var e *validate.Error
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		switch err {
		case validate.ErrNoToken:
		case validate.ErrExpired:
			req.Header.Set("Authorization", "Bearer "+is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}))
		case validate.ErrInvalidRequest:
			req.Header.Add("Authorization", "Bearer a")
			req.Header.Add("Authorization", "Bearer b")
		}
		_, aerr := v.Authenticate(req)
		require.ErrorAs(t, aerr, &e)
		v.WriteError(rec, req, aerr)

		c := v.Challenge()
		if e.Code != "" {
			c.Error, c.ErrorDescription = e.Code, e.Description
		}
		want := httptest.NewRecorder()
		rsmeta.WriteChallenge(want, e.Status, c)
		assert.Equal(t, want.Code, rec.Code)
		assert.Equal(t, want.Header(), rec.Header())
		assert.Equal(t, want.Body.String(), rec.Body.String())

		// Mutating a replayed response's headers does not touch the next one.
		rec.Header().Add("Www-Authenticate", "Other x=1")
		rec.Header()["Cache-Control"][0] = "public"
		again := httptest.NewRecorder()
		v.WriteError(again, req, aerr)
		assert.Equal(t, want.Header(), again.Header())
	}
	// A previous handler's expose list is merged, not replaced.
	rec := httptest.NewRecorder()
	rec.Header().Set("Access-Control-Expose-Headers", "Mcp-Session-Id")
	v.WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), validate.ErrNoToken)
	assert.Equal(t, []string{"Mcp-Session-Id", "WWW-Authenticate"}, rec.Header().Values("Access-Control-Expose-Headers"))
}
