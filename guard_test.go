package rsguard_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/rsguard/rsguard/scopes"
)

const testMetadata = "https://rs.example/.well-known/oauth-protected-resource/mcp"

// authFunc is a credential kind written in a test: an rsguard.Authenticator
// made of a function.
type authFunc func(*http.Request) (*rsguard.Principal, error)

func (f authFunc) Authenticate(r *http.Request) (*rsguard.Principal, error) { return f(r) }

// staticAuth returns p for the bearer token "good", ReasonNoCredential without a
// token, and refuses any other token as invalid.
func staticAuth(p rsguard.Principal) authFunc {
	return func(r *http.Request) (*rsguard.Principal, error) {
		tok, err := rsguard.BearerToken(r)
		if err != nil {
			return nil, err
		}
		if tok != "good" {
			return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken,
				Description: "the token is not good", Reason: audit.ReasonBadSignature, Credential: "static"}
		}
		q := p
		q.Scopes = append([]string(nil), p.Scopes...)
		return &q, nil
	}
}

func newGuard(t *testing.T, cfg rsguard.Config) *rsguard.Guard {
	t.Helper()
	if cfg.ResourceMetadata == "" {
		cfg.ResourceMetadata = testMetadata
	}
	g, err := rsguard.New(cfg)
	require.NoError(t, err)
	return g
}

// serve sends a request with the Authorization header auth (none if empty)
// through g to a handler that records the principal it saw.
func serve(g *rsguard.Guard, auth string) (*httptest.ResponseRecorder, *rsguard.Principal) {
	var seen *rsguard.Principal
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = rsguard.FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	r := httptest.NewRequest(http.MethodPost, "https://rs.example/mcp", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, seen
}

func TestGuardAnswers(t *testing.T) {
	alice := rsguard.Principal{Subject: "user:https://as.example#alice", Credential: "static", Scopes: []string{"a"}}
	g := newGuard(t, rsguard.Config{Authenticator: staticAuth(alice), Scopes: []string{"a", "offline_access", "b", "a"}})

	t.Run("no credential", func(t *testing.T) {
		w, seen := serve(g, "")
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Equal(t, []string{`Bearer resource_metadata="` + testMetadata + `", scope="a b"`}, w.Header().Values("WWW-Authenticate"))
		assert.Nil(t, seen)
	})
	t.Run("refused", func(t *testing.T) {
		w, seen := serve(g, "Bearer bad")
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Equal(t, `Bearer resource_metadata="`+testMetadata+`", scope="a b", error="invalid_token", error_description="the token is not good"`, w.Header().Get("WWW-Authenticate"))
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		assert.Nil(t, seen)
	})
	t.Run("malformed request", func(t *testing.T) {
		w, _ := serve(g, "Bearer a b")
		assert.Equal(t, http.StatusBadRequest, w.Code)
		assert.Contains(t, w.Header().Get("WWW-Authenticate"), `error="invalid_request"`)
	})
	t.Run("allowed", func(t *testing.T) {
		w, seen := serve(g, "Bearer good")
		assert.Equal(t, http.StatusNoContent, w.Code)
		require.NotNil(t, seen)
		assert.Equal(t, alice.Subject, seen.Subject)
		assert.Empty(t, w.Header().Values("WWW-Authenticate"))
	})
}

func TestGuardErrorsItDoesNotKnow(t *testing.T) {
	secret := "postgres://admin:hunter2@db"
	cases := map[string]struct {
		err    error
		status int
		want   string // in WWW-Authenticate
	}{
		"plain error":         {errors.New("lookup failed: " + secret), http.StatusUnauthorized, `error="invalid_token", error_description="the credential was rejected"`},
		"wrapped *Error":      {fmt.Errorf("wrapped: %w", &rsguard.Error{Status: http.StatusForbidden, Code: "insufficient_scope", Description: "more"}), http.StatusForbidden, `error="insufficient_scope"`},
		"nil principal, nil":  {nil, http.StatusInternalServerError, ""},
		"503 without a code":  {&rsguard.Error{Status: http.StatusServiceUnavailable, Description: "later"}, http.StatusServiceUnavailable, `resource_metadata=`},
		"no code on 401 only": {&rsguard.Error{Status: http.StatusUnauthorized, Description: "ignored without a code", Err: audit.ReasonNoCredential}, http.StatusUnauthorized, `Bearer resource_metadata="` + testMetadata + `"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := newGuard(t, rsguard.Config{Authenticator: authFunc(func(*http.Request) (*rsguard.Principal, error) { return nil, tc.err })})
			w, seen := serve(g, "Bearer x")
			assert.Nil(t, seen, "a refused request never reaches the handler")
			assert.Equal(t, tc.status, w.Code)
			if tc.want == "" {
				assert.Empty(t, w.Header().Values("WWW-Authenticate"), "no challenge on a server error")
			} else {
				assert.Contains(t, w.Header().Get("WWW-Authenticate"), tc.want)
			}
			assert.NotContains(t, w.Header().Get("WWW-Authenticate")+w.Body.String(), "hunter2")
			if tc.status == http.StatusUnauthorized && strings.Contains(name, "no code") {
				assert.NotContains(t, w.Header().Get("WWW-Authenticate"), "error_description", "no error information without a credential, RFC 6750 §3.1")
			}
		})
	}
}

// TestGuardBodies: every refusal the Guard writes has a short JSON body
// that says what happened, {"error":…,"error_description":…}, with
// Content-Type application/json, never the credential nor a cause's text; a
// request without a credential and a 503 too, whose challenges carry no
// error code. A replayed (pre-recorded) answer has the same body.
func TestGuardBodies(t *testing.T) {
	const token = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXRva2Vu.c2ln"
	secret := errors.New("dial tcp db:5432: password hunter2 refused")
	cases := []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"no credential", &rsguard.Error{Status: 401, Reason: audit.ReasonNoCredential}, 401,
			`{"error":"unauthorized","error_description":"authentication required"}`},
		{"no credential, bare reason", audit.ReasonNoCredential, 401,
			`{"error":"unauthorized","error_description":"authentication required"}`},
		{"invalid token", &rsguard.Error{Status: 401, Code: "invalid_token", Description: "the access token expired", Err: secret}, 401,
			`{"error":"invalid_token","error_description":"the access token expired"}`},
		{"invalid request", &rsguard.Error{Status: 400, Code: "invalid_request", Description: "send one token"}, 400,
			`{"error":"invalid_request","error_description":"send one token"}`},
		{"insufficient scope", &rsguard.Error{Status: 403, Code: "insufficient_scope", Description: "needs admin"}, 403,
			`{"error":"insufficient_scope","error_description":"needs admin"}`},
		{"403 without a code", &rsguard.Error{Status: 403, Description: "not for you"}, 403,
			`{"error":"access_denied","error_description":"not for you"}`},
		{"503", &rsguard.Error{Status: 503, Description: "the token cannot be verified right now", Err: secret}, 503,
			`{"error":"temporarily_unavailable","error_description":"the token cannot be verified right now"}`},
		{"503, bare reason", fmt.Errorf("keys: %w: %w", audit.ReasonKeysUnavailable, secret), 503,
			`{"error":"temporarily_unavailable","error_description":"the credential cannot be checked right now"}`},
		{"unknown error", secret, 401,
			`{"error":"invalid_token","error_description":"the credential was rejected"}`},
		{"500", &rsguard.Error{Status: 500, Err: secret}, 500, `{"error":"server_error"}`},
		{"with a header of its own", &rsguard.Error{Status: 401, Reason: audit.ReasonNoCredential,
			Header: http.Header{"Www-Authenticate": {`APIKey header="X-API-Key"`}}}, 401,
			`{"error":"unauthorized","error_description":"authentication required"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard(t, rsguard.Config{Authenticator: authFunc(func(*http.Request) (*rsguard.Principal, error) { return nil, tc.err })})
			for i := range 2 { // recorded, then replayed
				w, _ := serve(g, "Bearer "+token)
				assert.Equal(t, tc.status, w.Code)
				assert.Equal(t, "application/json", w.Header().Get("Content-Type"), "request %d", i)
				assert.Equal(t, "no-store", w.Header().Get("Cache-Control"), "request %d", i)
				assert.Equal(t, tc.body, w.Body.String(), "request %d", i)
				assert.Equal(t, fmt.Sprint(len(tc.body)), w.Header().Get("Content-Length"), "request %d", i)
				all := fmt.Sprint(w.Header()) + w.Body.String()
				assert.NotContains(t, all, "hunter2", "request %d", i)
				assert.NotContains(t, all, "c2VjcmV0", "request %d: the token", i)
			}
		})
	}
}

func TestGuardRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{{0, "1"}, {300 * time.Millisecond, "1"}, {time.Second, "1"}, {2500 * time.Millisecond, "3"}, {-time.Hour, "1"}} {
		e := &rsguard.Error{Status: http.StatusServiceUnavailable, Description: "the token cannot be verified right now", RetryAfter: tc.after}
		g := newGuard(t, rsguard.Config{Authenticator: authFunc(func(*http.Request) (*rsguard.Principal, error) { return nil, e })})
		w, _ := serve(g, "Bearer x")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, tc.want, w.Header().Get("Retry-After"), "RetryAfter %v", tc.after)
	}
	// Not on other statuses.
	g := newGuard(t, rsguard.Config{Authenticator: staticAuth(rsguard.Principal{Subject: "s"})})
	w, _ := serve(g, "Bearer bad")
	assert.Empty(t, w.Header().Get("Retry-After"))
}

func TestGuardHeaders(t *testing.T) {
	t.Run("a further challenge follows the Bearer one", func(t *testing.T) {
		h := http.Header{"Www-Authenticate": {`APIKey header="X-API-Key"`}}
		e := &rsguard.Error{Status: http.StatusUnauthorized, Err: audit.ReasonNoCredential, Header: h}
		g := newGuard(t, rsguard.Config{Authenticator: authFunc(func(*http.Request) (*rsguard.Principal, error) { return nil, e })})
		for range 2 { // the second answer must not be a replay without the header
			w, _ := serve(g, "")
			assert.Equal(t, []string{`Bearer resource_metadata="` + testMetadata + `"`, `APIKey header="X-API-Key"`}, w.Header().Values("WWW-Authenticate"))
		}
		assert.Equal(t, []string{`APIKey header="X-API-Key"`}, h["Www-Authenticate"], "the error's header is not modified")
	})
	t.Run("a principal's response headers", func(t *testing.T) {
		p := rsguard.Principal{Subject: "apikey:client:c", Header: http.Header{"Deprecation": {"@1767225600"}}}
		g := newGuard(t, rsguard.Config{Authenticator: staticAuth(p)})
		w, seen := serve(g, "Bearer good")
		assert.Equal(t, http.StatusNoContent, w.Code)
		assert.Equal(t, "@1767225600", w.Header().Get("Deprecation"))
		require.NotNil(t, seen)
	})
}

// TestGuardReplayedAnswers checks that a recorded answer is the answer
// written afresh, and that editing one response's headers cannot reach the
// next response.
func TestGuardReplayedAnswers(t *testing.T) {
	g := newGuard(t, rsguard.Config{Authenticator: staticAuth(rsguard.Principal{Subject: "s"}), Realm: "mcp"})
	first, _ := serve(g, "Bearer bad")
	first.Header()["Www-Authenticate"][0] = "tampered"
	first.Header().Set("Cache-Control", "public")
	second, _ := serve(g, "Bearer bad")
	fresh := httptest.NewRecorder()
	rsmeta.WriteChallenge(fresh, http.StatusUnauthorized, rsmeta.Challenge{Realm: "mcp", ResourceMetadata: testMetadata, Error: "invalid_token", ErrorDescription: "the token is not good"})
	assert.Equal(t, fresh.Code, second.Code)
	assert.Equal(t, fresh.Header(), second.Header())
	assert.Equal(t, fresh.Body.String(), second.Body.String())

	// A response that already exposes headers gets them merged, not replaced.
	h := g.Middleware(http.NotFoundHandler())
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer bad")
	w := httptest.NewRecorder()
	w.Header().Set("Access-Control-Expose-Headers", "Mcp-Session-Id")
	h.ServeHTTP(w, r)
	assert.Equal(t, []string{"Mcp-Session-Id", "WWW-Authenticate"}, w.Header().Values("Access-Control-Expose-Headers"))
}

// TestGuardManyDescriptions: an application's own refusals may have any
// number of descriptions; each is answered with its own text beyond the
// recorded ones.
func TestGuardManyDescriptions(t *testing.T) {
	n := 0
	g := newGuard(t, rsguard.Config{Authenticator: authFunc(func(*http.Request) (*rsguard.Principal, error) {
		n++
		return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: fmt.Sprintf("refusal %d", n%300)}
	})})
	for i := 1; i <= 600; i++ {
		w, _ := serve(g, "Bearer x")
		require.Contains(t, w.Header().Get("WWW-Authenticate"), fmt.Sprintf(`error_description="refusal %d"`, i%300))
	}
}

func TestGuardDecisions(t *testing.T) {
	var got []audit.Decision
	record := func(_ context.Context, d audit.Decision) { got = append(got, d) }
	alice := rsguard.Principal{Subject: "user:https://as.example#alice", Credential: "static", Issuer: "https://as.example",
		ClientID: "app", Tenant: "t1", TokenID: "j1", Scopes: []string{"a", "b"}}
	revoked := &rsguard.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "revoked",
		Reason: audit.ReasonRevoked, Credential: "static", Principal: &alice}
	auth := authFunc(func(r *http.Request) (*rsguard.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer revoked":
			return nil, revoked
		case "Bearer broken":
			return nil, errors.New("boom")
		}
		return staticAuth(alice)(r)
	})
	g := newGuard(t, rsguard.Config{Authenticator: auth, OnDecision: record})
	for _, a := range []string{"Bearer good", "", "Bearer bad", "Bearer revoked", "Bearer broken"} {
		serve(g, a)
	}
	require.Len(t, got, 5)
	for _, d := range got {
		assert.Equal(t, audit.StageAuthenticate, d.Stage)
		assert.Equal(t, http.MethodPost, d.Method)
		assert.Equal(t, "/mcp", d.Path)
		assert.False(t, d.Time.IsZero())
	}
	assert.True(t, got[0].Allowed)
	assert.Equal(t, audit.ReasonOK, got[0].Reason)
	assert.Equal(t, alice.Subject, got[0].Subject)
	assert.Equal(t, []string{"a", "b"}, got[0].Granted)
	assert.Equal(t, "t1", got[0].Tenant)

	assert.Equal(t, audit.ReasonNoCredential, got[1].Reason)
	assert.Equal(t, http.StatusUnauthorized, got[1].Status)
	assert.Empty(t, got[1].Credential)

	assert.Equal(t, audit.ReasonBadSignature, got[2].Reason)
	assert.Equal(t, audit.Credential("static"), got[2].Credential)
	assert.Empty(t, got[2].Subject, "nothing about the caller from a credential refused before verification")

	assert.Equal(t, audit.ReasonRevoked, got[3].Reason)
	assert.Equal(t, alice.Subject, got[3].Subject, "a credential refused after verification names its caller")
	assert.Equal(t, "j1", got[3].TokenID)

	assert.Equal(t, audit.ReasonRejected, got[4].Reason)
	assert.False(t, got[4].Allowed)
}

func TestNewChecksConfig(t *testing.T) {
	var nilAuth authFunc
	type ptrAuth struct{ authFunc }
	var nilPtr *ptrAuth
	ok := staticAuth(rsguard.Principal{Subject: "s"})
	for name, cfg := range map[string]rsguard.Config{
		"no authenticator":        {ResourceMetadata: testMetadata},
		"nil func authenticator":  {Authenticator: nilAuth, ResourceMetadata: testMetadata},
		"nil pointer":             {Authenticator: nilPtr, ResourceMetadata: testMetadata},
		"no resource metadata":    {Authenticator: ok},
		"relative metadata":       {Authenticator: ok, ResourceMetadata: "/.well-known/oauth-protected-resource"},
		"http, not loopback":      {Authenticator: ok, ResourceMetadata: "http://127.attacker.example/.well-known/oauth-protected-resource"},
		"quote in metadata":       {Authenticator: ok, ResourceMetadata: `https://rs.example/"x`},
		"bad challenge scope":     {Authenticator: ok, ResourceMetadata: testMetadata, Scopes: []string{"a b"}},
		"logger without handler":  {Authenticator: ok, ResourceMetadata: testMetadata, Logger: new(slog.Logger)},
		"realm with a control":    {Authenticator: ok, ResourceMetadata: testMetadata, Realm: "a\x00"},
		"metadata with a control": {Authenticator: ok, ResourceMetadata: "https://rs.example/\x01"},
	} {
		_, err := rsguard.New(cfg)
		assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, name)
	}
	for _, rm := range []string{testMetadata, "http://127.0.0.1:8080/.well-known/oauth-protected-resource", "http://localhost/.well-known/oauth-protected-resource"} {
		_, err := rsguard.New(rsguard.Config{Authenticator: ok, ResourceMetadata: rm})
		assert.NoError(t, err, rm)
	}
}

func TestContext(t *testing.T) {
	_, ok := rsguard.FromContext(context.Background())
	assert.False(t, ok)
	_, ok = rsguard.FromContext(rsguard.NewContext(context.Background(), nil))
	assert.False(t, ok, "a nil principal is no principal")
	p := &rsguard.Principal{Subject: "client:https://as.example#c"}
	got, ok := rsguard.FromContext(rsguard.NewContext(context.Background(), p))
	assert.True(t, ok)
	assert.Same(t, p, got)
}

// TestGuardPrincipalPerRequest: what one handler does to its principal is not
// seen by the next request, as long as the authenticator returns a new one.
func TestGuardPrincipalPerRequest(t *testing.T) {
	g := newGuard(t, rsguard.Config{Authenticator: staticAuth(rsguard.Principal{Subject: "s", Scopes: []string{"read"}})})
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rsguard.FromContext(r.Context())
		fmt.Fprint(w, strings.Join(p.Scopes, " "))
		p.Scopes[0] = "admin"
		p.Scopes = append(p.Scopes, "write")
	}))
	for range 2 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer good")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, "read", w.Body.String())
	}
}

func TestNewContextKeepsTheGuardsChallenge(t *testing.T) {
	g := newGuard(t, rsguard.Config{Authenticator: staticAuth(rsguard.Principal{Subject: "s"})})
	var replaced *rsguard.Principal
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := rsguard.NewContext(r.Context(), &rsguard.Principal{Subject: "t", Scopes: []string{"x"}})
		replaced, _ = rsguard.FromContext(ctx)
		scopes.WriteError(w, r.WithContext(ctx), scopes.Require(ctx, "admin"))
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer good")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.NotNil(t, replaced)
	assert.Equal(t, "t", replaced.Subject)
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Header().Get("WWW-Authenticate"), `resource_metadata="`+testMetadata+`"`)
}

// TestGuardStatusAndPrincipalChecks: an authenticator's mistakes never let a
// request through, never panic, and never put a challenge on a server
// error.
func TestGuardStatusAndPrincipalChecks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		p         *rsguard.Principal
		err       error
		status    int
		challenge bool
	}{
		{"status 200", nil, &rsguard.Error{Status: http.StatusOK, Code: "invalid_token"}, http.StatusInternalServerError, false},
		{"status 1000", nil, &rsguard.Error{Status: 1000}, http.StatusInternalServerError, false},
		{"status 302", nil, &rsguard.Error{Status: http.StatusFound}, http.StatusInternalServerError, false},
		{"status 0", nil, &rsguard.Error{Code: "invalid_token", Description: "bad"}, http.StatusUnauthorized, true},
		{"status 500", nil, &rsguard.Error{Status: http.StatusInternalServerError}, http.StatusInternalServerError, false},
		{"status 502", nil, &rsguard.Error{Status: http.StatusBadGateway}, http.StatusBadGateway, false},
		{"principal without a subject", &rsguard.Principal{Scopes: []string{"admin"}}, nil, http.StatusInternalServerError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var decisions []audit.Decision
			g := newGuard(t, rsguard.Config{
				Authenticator: authFunc(func(*http.Request) (*rsguard.Principal, error) { return tc.p, tc.err }),
				OnDecision:    func(_ context.Context, d audit.Decision) { decisions = append(decisions, d) },
			})
			w, seen := serve(g, "Bearer x")
			assert.Nil(t, seen, "the handler never runs")
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.challenge, w.Header().Get("WWW-Authenticate") != "")
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			if assert.Len(t, decisions, 1) {
				assert.False(t, decisions[0].Allowed)
				assert.Equal(t, tc.status, decisions[0].Status)
			}
		})
	}
}

// TestGuardBareReasons: an authenticator that returns a reason, or an error
// wrapping one, instead of an *Error is answered as that class, and audited
// with it.
func TestGuardBareReasons(t *testing.T) {
	secret := "hunter2"
	cases := []struct {
		err        error
		status     int
		challenge  string // in WWW-Authenticate; "" = none
		retryAfter string
		reason     audit.Reason
	}{
		{audit.ReasonNoCredential, http.StatusUnauthorized, `Bearer resource_metadata="` + testMetadata + `"`, "", audit.ReasonNoCredential},
		{fmt.Errorf("%w: cookie %s", audit.ReasonNoCredential, secret), http.StatusUnauthorized, `Bearer resource_metadata="` + testMetadata + `"`, "", audit.ReasonNoCredential},
		{audit.ReasonInvalidRequest, http.StatusBadRequest, `error="invalid_request"`, "", audit.ReasonInvalidRequest},
		{fmt.Errorf("%w: %s", audit.ReasonStoreUnavailable, secret), http.StatusServiceUnavailable, `resource_metadata=`, "5", audit.ReasonStoreUnavailable},
		{audit.ReasonKeysUnavailable, http.StatusServiceUnavailable, `resource_metadata=`, "5", audit.ReasonKeysUnavailable},
		{audit.ReasonRevocationUnavailable, http.StatusServiceUnavailable, `resource_metadata=`, "5", audit.ReasonRevocationUnavailable},
		{audit.ReasonTooManySessions, http.StatusServiceUnavailable, `resource_metadata=`, "5", audit.ReasonTooManySessions},
		{audit.ReasonInternalError, http.StatusInternalServerError, "", "", audit.ReasonInternalError},
		{audit.ReasonExpired, http.StatusUnauthorized, `error="invalid_token", error_description="the credential was rejected"`, "", audit.ReasonExpired},
		{audit.ReasonOK, http.StatusUnauthorized, `error="invalid_token"`, "", audit.ReasonRejected},
	}
	for _, tc := range cases {
		t.Run(tc.err.Error(), func(t *testing.T) {
			var got []audit.Decision
			g := newGuard(t, rsguard.Config{
				Authenticator: authFunc(func(*http.Request) (*rsguard.Principal, error) { return nil, tc.err }),
				OnDecision:    func(_ context.Context, d audit.Decision) { got = append(got, d) },
			})
			w, seen := serve(g, "Bearer x")
			assert.Nil(t, seen)
			assert.Equal(t, tc.status, w.Code)
			if tc.challenge == "" {
				assert.Empty(t, w.Header().Values("WWW-Authenticate"))
			} else {
				assert.Contains(t, w.Header().Get("WWW-Authenticate"), tc.challenge)
			}
			if tc.status == http.StatusUnauthorized && tc.reason == audit.ReasonNoCredential {
				assert.Equal(t, `Bearer resource_metadata="`+testMetadata+`"`, w.Header().Get("WWW-Authenticate"), "no error code without a credential")
			}
			assert.Equal(t, tc.retryAfter, w.Header().Get("Retry-After"))
			assert.NotContains(t, fmt.Sprint(w.Header())+w.Body.String(), secret)
			require.Len(t, got, 1)
			assert.Equal(t, tc.reason, got[0].Reason)
			assert.Equal(t, tc.status, got[0].Status)
		})
	}
}
