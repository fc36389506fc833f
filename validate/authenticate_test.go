package validate_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
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
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// whoami answers with the principal, scopes, credential kind and tenant the
// Guard stored, after checking that the claims are the principal's details.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := validate.ClaimsFromContext(r.Context())
	p, pok := rsguard.FromContext(r.Context())
	if !ok || !pok || p.Details != c {
		http.Error(w, "no claims", 500)
		return
	}
	io.WriteString(w, p.Subject+" "+strings.Join(p.Scopes, ",")+" "+string(p.Credential)+" "+p.Tenant)
})

// TestAuthenticate checks the Principal of a verified token, field by field,
// and that it and its claims belong to the request.
func TestAuthenticate(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, func(c *validate.Config) { c.TenantClaim = "org_id" })
	authTime := fixedNow.Add(-time.Minute)
	tok := is.Token(map[string]any{"sub": "alice", "jti": "j-1", "acr": "mfa", "auth_time": authTime.Unix(),
		"scope": "tools:read tools:write", "org_id": "acme", "exp": fixedNow.Add(time.Hour).Unix()})
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	p, err := v.Authenticate(req)
	require.NoError(t, err)
	c, ok := p.Details.(*validate.Claims)
	require.True(t, ok, "Details holds the claims")
	assert.True(t, p.Expiry.Equal(fixedNow.Add(time.Hour)), "Expiry is exp: %v", p.Expiry)
	assert.True(t, p.AuthTime.Equal(authTime), "AuthTime is auth_time: %v", p.AuthTime)
	assert.Equal(t, rsguard.Principal{
		Subject: "user:" + is.URL + "#alice", Credential: audit.CredentialJWT, Issuer: is.URL,
		ClientID: "test-client", Tenant: "acme", Scopes: []string{"tools:read", "tools:write"},
		Expiry: p.Expiry, TokenID: "j-1", ACR: "mfa", AuthTime: p.AuthTime, Details: c,
	}, *p)
	assert.Equal(t, c.Principal(), p.Subject)

	// Each request gets its own, also when the token comes from the cache.
	again, err := v.Authenticate(req)
	require.NoError(t, err)
	assert.NotSame(t, p, again)
	assert.NotSame(t, c, again.Details)
	p.Scopes[0] = "admin"
	assert.Equal(t, []string{"tools:read", "tools:write"}, again.Scopes)

	// The claims reach the handler through the Guard, and only through it.
	_, ok = validate.ClaimsFromContext(context.Background())
	assert.False(t, ok)
	_, ok = validate.ClaimsFromContext(rsguard.NewContext(context.Background(), &rsguard.Principal{Subject: "apikey:owner:x"}))
	assert.False(t, ok, "another credential kind has no claims")
	ctx := rsguard.NewContext(context.Background(), again)
	got, ok := validate.ClaimsFromContext(ctx)
	require.True(t, ok)
	assert.Same(t, again.Details, got)
}

func TestGuard(t *testing.T) {
	is := newIssuer(t, nil)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v := newValidator(t, is, func(c *validate.Config) {
		c.TenantClaim = "org_id"
		c.Logger = logger
	})
	srv := httptest.NewServer(guarded(t, v, whoami, func(c *rsguard.Config) {
		c.Scopes = []string{"mcp:tools"}
		c.Logger = logger
	}))
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
			wantBody:   "user:" + is.URL + "#alice tools:read,tools:write jwt acme",
		},
		{
			name:       "no token",
			wantStatus: 401,
			wantAuth:   `Bearer resource_metadata="` + metadataURL + `", scope="mcp:tools"`,
			wantBody:   `{"error":"unauthorized","error_description":"authentication required"}`,
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
	assert.Contains(t, logs.String(), "reason=expired")
}

func TestGuardLazyUnavailable(t *testing.T) {
	is := newIssuer(t, nil)
	is.SetDown(true)
	v := newValidator(t, is, func(c *validate.Config) { c.Fetch.Lazy = true })
	h := guarded(t, v, whoami, nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+is.Token(nil))
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "6", rec.Header().Get("Retry-After"), "the longest a key fetch takes (Fetch.Timeout), plus one second")
	assert.Equal(t, `Bearer resource_metadata="`+metadataURL+`"`, rec.Header().Get("WWW-Authenticate"))

	// A request without a token still learns where to authenticate.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/mcp", nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}

// TestGuardCheckForeignError: an error of Config.Check that is not an
// *rsguard.Error is answered with a generic description, never its text.
func TestGuardCheckForeignError(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, func(c *validate.Config) {
		c.Check = func(context.Context, *validate.Claims) error { return io.ErrUnexpectedEOF }
	})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+is.Token(nil))
	guarded(t, v, whoami, func(c *rsguard.Config) { c.Realm = "mcp" }).ServeHTTP(rec, req)
	assert.Equal(t, 401, rec.Code)
	assert.Equal(t, `Bearer realm="mcp", resource_metadata="`+metadataURL+`", error="invalid_token", error_description="the access token was rejected"`, rec.Header().Get("WWW-Authenticate"))
	assert.NotContains(t, rec.Body.String(), "EOF")
}

// TestGuardChallengeIsACopy: the challenge scopes are copied when the Guard
// is built, and checked then.
func TestGuardChallengeIsACopy(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	cfg := rsguard.Config{Authenticator: v, ResourceMetadata: metadataURL, Scopes: []string{"a"}}
	g, err := rsguard.New(cfg)
	require.NoError(t, err)
	cfg.Scopes[0] = "mutated"
	rec := httptest.NewRecorder()
	g.Middleware(whoami).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, `Bearer resource_metadata="`+metadataURL+`", scope="a"`, rec.Header().Get("WWW-Authenticate"))

	cfg.Scopes = []string{`a"b`}
	_, err = rsguard.New(cfg)
	assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "a challenge scope that cannot be sent")
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
	v, err := validate.New(ctx, validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()}})
	require.NoError(t, err)
	srv := httptest.NewServer(guarded(t, v, whoami, nil))
	defer srv.Close()

	tok := clientCredentials(t, is, "svc", "s3cret", resource, "tools:read")
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "tools:read jwt")

	// A token for another resource is refused: no token passthrough.
	other := clientCredentials(t, is, "svc", "s3cret", "https://other.example/api", "tools:read")
	req.Header.Set("Authorization", "Bearer "+other)
	resp, err = srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
}

// TestGuardAnswersEqualWriteChallenge checks that the Guard's answers to the
// Validator's refusals, written the first time and replayed after, equal
// what rsmeta.WriteChallenge writes, that a handler which set
// Access-Control-Expose-Headers first still gets them merged, and that
// changing one response's headers cannot leak into the next.
func TestGuardAnswersEqualWriteChallenge(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	h := guarded(t, v, whoami, func(c *rsguard.Config) { c.Scopes = []string{"s"} })
	for _, reason := range []audit.Reason{audit.ReasonNoCredential, audit.ReasonExpired, audit.ReasonInvalidRequest} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		switch reason {
		case audit.ReasonExpired:
			req.Header.Set("Authorization", "Bearer "+is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}))
		case audit.ReasonInvalidRequest:
			req.Header.Add("Authorization", "Bearer a")
			req.Header.Add("Authorization", "Bearer b")
		}
		_, aerr := v.Authenticate(req)
		require.ErrorIs(t, aerr, reason)
		var e *rsguard.Error
		require.ErrorAs(t, aerr, &e)

		// The generic path, for comparison.
		c := rsmeta.Challenge{ResourceMetadata: metadataURL, Scope: []string{"s"}}
		if e.Code != "" {
			c.Error, c.ErrorDescription = e.Code, e.Description
		}
		want := httptest.NewRecorder()
		rsmeta.WriteChallenge(want, e.Status, c)

		for i := range 3 { // written, then replayed
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, want.Code, rec.Code, "%v #%d", reason, i)
			assert.Equal(t, want.Header(), rec.Header(), "%v #%d", reason, i)
			assert.Equal(t, want.Body.String(), rec.Body.String(), "%v #%d", reason, i)
			// Mutating a response's headers does not touch the next one.
			rec.Header().Add("Www-Authenticate", "Other x=1")
			rec.Header()["Cache-Control"][0] = "public"
		}
	}
	// A previous handler's expose list is merged, not replaced.
	rec := httptest.NewRecorder()
	rec.Header().Set("Access-Control-Expose-Headers", "Mcp-Session-Id")
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, []string{"Mcp-Session-Id", "WWW-Authenticate"}, rec.Header().Values("Access-Control-Expose-Headers"))
}

// TestAuthenticateErrors: the refusals of Authenticate are *rsguard.Error
// values carrying the audit reason and, once a token was read, the
// credential kind.
func TestAuthenticateErrors(t *testing.T) {
	is := newIssuer(t, nil)
	v := newValidator(t, is, nil)
	for _, tc := range []struct {
		name, authorization string
		reason              audit.Reason
		credential          audit.Credential
	}{
		{"no token", "", audit.ReasonNoCredential, ""},
		{"malformed header", "Bearer a b", audit.ReasonInvalidRequest, ""},
		{"malformed token", "Bearer abc", audit.ReasonMalformed, audit.CredentialJWT},
		{"expired", "Bearer " + is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}), audit.ReasonExpired, audit.CredentialJWT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			p, err := v.Authenticate(req)
			assert.Nil(t, p)
			require.ErrorIs(t, err, tc.reason)
			var e *rsguard.Error
			require.True(t, errors.As(err, &e))
			assert.Equal(t, tc.reason, e.Reason)
			assert.Equal(t, tc.credential, e.Credential)
			assert.Nil(t, e.Principal, "refused before verification: no identity")
		})
	}
}
