package apikey

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
)

const (
	resourceMetadata = "https://api.example.com/.well-known/oauth-protected-resource/mcp"
	migrationDocs    = "https://docs.example.com/oauth-migration"
)

var (
	fixedNow   = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	deprecated = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cutoff     = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
)

// fixture is a server mid-migration: a fake bearer authenticator for
// tokens, a memory store with one key per state, and the policy that goes
// with it.
type fixture struct {
	bearer *fakeBearer
	store  *MemoryStore
	keys   map[string]string // name -> plaintext key
	recs   map[string]Record // name -> record
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{bearer: newFakeBearer(), store: new(MemoryStore), keys: map[string]string{}, recs: map[string]Record{}}
	for name, rec := range map[string]Record{
		"valid":      {Owner: "alice", ClientID: "reporting", Tenant: "acme", Scopes: []string{"tools:read"}},
		"writer":     {Owner: "bob", ClientID: "sync-job", Scopes: []string{"tools:read", "tools:write", "tools:read"}},
		"expired":    {Owner: "carol", ClientID: "reporting", Expires: fixedNow.Add(-time.Minute)},
		"revoked":    {Owner: "dave", ClientID: "reporting", Revoked: true},
		"deprecated": {Owner: "erin", ClientID: "legacy-cli", Scopes: []string{"tools:read"}, Expires: fixedNow.Add(24 * time.Hour)},
		"blocked":    {Owner: "frank", ClientID: "moved-app"},
		"cutoff":     {Owner: "grace", ClientID: "early-client"},
	} {
		key, rec := mustKey(t, testPrefix, rec)
		require.NoError(t, f.store.Put(rec))
		f.keys[name], f.recs[name] = key, rec
	}
	// A well-formed key with a valid checksum that the store does not know.
	f.keys["unknown"], _ = mustKey(t, testPrefix, Record{Owner: "nobody"})
	return f
}

func (f *fixture) policy() Policy {
	return Policy{
		Deprecated: deprecated,
		Cutoff:     cutoff,
		Link:       migrationDocs,
		Clients: map[string]ClientPolicy{
			"legacy-cli":   {State: StateDeprecated},
			"moved-app":    {State: StateBlocked},
			"early-client": {Cutoff: fixedNow.Add(-24 * time.Hour)},
		},
	}
}

func (f *fixture) config() Config {
	return Config{
		Store:  f.store,
		Prefix: testPrefix,
		Bearer: f.bearer,
		Policy: f.policy(),
		Now:    func() time.Time { return fixedNow },
	}
}

// jwt returns a bearer token the fake accepts, for alice with scope.
func (f *fixture) jwt(scope string) string {
	return f.bearer.issue(userPrincipal("alice", "", scope))
}

func mustNew(t testing.TB, cfg Config) *Authenticator {
	t.Helper()
	a, err := New(cfg)
	require.NoError(t, err)
	return a
}

// newGuard returns the Guard of cfg, whose ResourceMetadata defaults to
// resourceMetadata.
func newGuard(t testing.TB, cfg rsguard.Config) *rsguard.Guard {
	t.Helper()
	if cfg.ResourceMetadata == "" {
		cfg.ResourceMetadata = resourceMetadata
	}
	g, err := rsguard.New(cfg)
	require.NoError(t, err)
	return g
}

// serve is next behind a Guard running a.
func serve(t testing.TB, a rsguard.Authenticator, next http.Handler) http.Handler {
	t.Helper()
	return newGuard(t, rsguard.Config{Authenticator: a}).Middleware(next)
}

// seen is what the protected handler observed.
type seen struct {
	p            *rsguard.Principal
	use          Use
	hasUse       bool
	bearerClaims bool // the fake's Details
	header       http.Header
}

// echo records what reaches the handler.
func echo(out *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out.p, _ = rsguard.FromContext(r.Context())
		out.use, out.hasUse = FromContext(r.Context())
		if out.p != nil {
			_, out.bearerClaims = out.p.Details.(*fakeClaims)
		}
		out.header = r.Header.Clone()
		_, _ = io.WriteString(w, "ok")
	})
}

func challenge(errCode, desc string) string {
	s := `Bearer resource_metadata="` + resourceMetadata + `"`
	if errCode != "" {
		s += `, error="` + errCode + `", error_description="` + desc + `"`
	}
	return s
}

func TestMiddleware(t *testing.T) {
	f := newFixture(t)
	var got seen
	a := mustNew(t, f.config())
	srv := httptest.NewServer(serve(t, a, echo(&got)))
	defer srv.Close()

	jwt := f.jwt("tools:read tools:write")
	tests := []struct {
		name      string
		header    http.Header
		query     string
		status    int
		challenge string
		reason    audit.Reason     // the refusal's class, if refused
		err       error            // a further error in the refusal's chain, if any
		cred      audit.Credential // the refusal's Credential
		check     func(t *testing.T, resp *http.Response)
	}{
		{
			name: "valid key", header: http.Header{"X-Api-Key": {f.keys["valid"]}}, status: 200,
			check: func(t *testing.T, resp *http.Response) {
				p := got.p
				if assert.NotNil(t, p, "principal") {
					assert.Equal(t, audit.CredentialAPIKey, p.Credential, "principal = %+v", p)
					assert.Equal(t, "apikey:owner:alice", p.Subject, "principal = %+v", p)
					assert.Equal(t, "reporting", p.ClientID, "principal = %+v", p)
					assert.Equal(t, "acme", p.Tenant, "principal = %+v", p)
					assert.Equal(t, []string{"tools:read"}, p.Scopes, "principal = %+v", p)
					assert.Equal(t, f.recs["valid"].ID, p.TokenID, "principal = %+v", p)
					assert.Empty(t, p.Issuer, "principal = %+v", p)
					assert.True(t, p.Expiry.IsZero(), "principal = %+v", p)
					assert.Nil(t, p.Header, "principal = %+v", p)
				}
				assert.True(t, got.hasUse, "use = %+v", got.use)
				assert.Equal(t, f.recs["valid"].ID, got.use.ID, "use = %+v", got.use)
				assert.Equal(t, StateAllowed, got.use.Status.State, "use = %+v", got.use)
				assert.Equal(t, "X-API-Key", got.use.Header, "use = %+v", got.use)
				assert.NoError(t, got.use.Err, "use = %+v", got.use)
				assert.False(t, got.bearerClaims, "bearer details in context for a key")
				assert.Empty(t, got.header.Get("X-Api-Key"), "key header forwarded to the handler")
				for _, h := range []string{"Deprecation", "Sunset", "Link"} {
					assert.Empty(t, resp.Header.Get(h), "allowed key got %s header", h)
				}
			},
		},
		{
			name: "custom-case header name", header: http.Header{"x-api-key": {f.keys["valid"]}}, status: 200,
		},
		{
			name: "duplicate scopes collapse", header: http.Header{"X-Api-Key": {f.keys["writer"]}}, status: 200,
			check: func(t *testing.T, _ *http.Response) {
				assert.Equal(t, []string{"tools:read", "tools:write"}, got.p.Scopes, "scopes")
			},
		},
		{
			name: "unknown key", header: http.Header{"X-Api-Key": {f.keys["unknown"]}}, status: 401,
			challenge: challenge("invalid_token", "the API key is not recognised"), reason: audit.ReasonUnknownAPIKey, cred: audit.CredentialAPIKey,
		},
		{
			name: "bad checksum", header: http.Header{"X-Api-Key": {f.keys["valid"][:len(f.keys["valid"])-1] + flipChar(f.keys["valid"][len(f.keys["valid"])-1])}}, status: 401,
			challenge: challenge("invalid_token", "the API key is malformed (checksum mismatch)"), reason: audit.ReasonMalformed, err: errChecksum, cred: audit.CredentialAPIKey,
		},
		{
			name: "malformed key", header: http.Header{"X-Api-Key": {testPrefix + "hunter2"}}, status: 401,
			challenge: challenge("invalid_token", "the API key is malformed"), reason: audit.ReasonMalformed, err: errShape, cred: audit.CredentialAPIKey,
		},
		{
			name: "key without the prefix", header: http.Header{"X-Api-Key": {"hunter2"}}, status: 401,
			challenge: challenge("invalid_token", "the API key must start with "+testPrefix), reason: audit.ReasonMalformed, err: a.refusals.prefix.Err, cred: audit.CredentialAPIKey,
		},
		{
			name: "empty key header", header: http.Header{"X-Api-Key": {""}}, status: 401,
			challenge: challenge("invalid_token", "the API key must start with "+testPrefix), reason: audit.ReasonMalformed, err: a.refusals.prefix.Err, cred: audit.CredentialAPIKey,
		},
		{
			name: "expired key", header: http.Header{"X-Api-Key": {f.keys["expired"]}}, status: 401,
			challenge: challenge("invalid_token", "the API key has expired"), reason: audit.ReasonExpired, cred: audit.CredentialAPIKey,
		},
		{
			name: "revoked key", header: http.Header{"X-Api-Key": {f.keys["revoked"]}}, status: 401,
			challenge: challenge("invalid_token", "the API key has been revoked"), reason: audit.ReasonRevoked, cred: audit.CredentialAPIKey,
		},
		{
			name: "deprecated key", header: http.Header{"X-Api-Key": {f.keys["deprecated"]}}, status: 200,
			check: func(t *testing.T, resp *http.Response) {
				want := map[string][]string{
					"Deprecation": {"@1772323200"},
					"Sunset":      {"Tue, 01 Sep 2026 00:00:00 GMT"},
					"Link":        {`<` + migrationDocs + `>; rel="deprecation"`, `<` + migrationDocs + `>; rel="sunset"`},
				}
				for k, v := range want {
					assert.Equal(t, strings.Join(v, "|"), strings.Join(resp.Header.Values(k), "|"), k)
				}
				assert.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "Deprecation", "Deprecation not exposed to browsers")
				assert.Equal(t, StateDeprecated, got.use.Status.State, "use.Status = %+v", got.use.Status)
				assert.True(t, got.use.Status.Cutoff.Equal(cutoff), "use.Status = %+v", got.use.Status)
				p := got.p
				assert.True(t, p.Expiry.Equal(f.recs["deprecated"].Expires), "principal = %+v", p)
				assert.Equal(t, "@1772323200", p.Header.Get("Deprecation"), "principal = %+v", p)
			},
		},
		{
			name: "blocked client", header: http.Header{"X-Api-Key": {f.keys["blocked"]}}, status: 401,
			challenge: challenge("invalid_token", "API keys are no longer accepted for this client: get an OAuth access token (see resource_metadata)"),
			reason:    audit.ReasonAPIKeyBlocked, cred: audit.CredentialAPIKey,
		},
		{
			name: "past client cutoff", header: http.Header{"X-Api-Key": {f.keys["cutoff"]}}, status: 401,
			challenge: challenge("invalid_token", "API keys were retired for this client on 2026-05-31: get an OAuth access token (see resource_metadata)"),
			reason:    audit.ReasonAPIKeyRetired, cred: audit.CredentialAPIKey,
		},
		{
			name: "key and bearer token", header: http.Header{"X-Api-Key": {f.keys["valid"]}, "Authorization": {"Bearer " + jwt}}, status: 400,
			challenge: challenge("invalid_request", "send either an API key or a bearer token, not both"), reason: audit.ReasonInvalidRequest, err: refusedBoth.Err, cred: audit.CredentialAPIKey,
		},
		{
			name: "key header twice", header: http.Header{"X-Api-Key": {f.keys["valid"], f.keys["writer"]}}, status: 400,
			challenge: challenge("invalid_request", "the X-API-Key header must appear once"), reason: audit.ReasonInvalidRequest, err: a.refusals.twice.Err, cred: audit.CredentialAPIKey,
		},
		{
			name: "key as bearer, not accepted", header: http.Header{"Authorization": {"Bearer " + f.keys["valid"]}}, status: 401,
			challenge: challenge("invalid_token", "send API keys in the X-API-Key header, not as a bearer token"), reason: audit.ReasonAPIKeyAsBearer, cred: audit.CredentialAPIKey,
		},
		{
			name: "key with access_token query", header: http.Header{"X-Api-Key": {f.keys["valid"]}}, query: "?access_token=x", status: 400,
			challenge: challenge("invalid_request", "access tokens are accepted only in the Authorization header"), reason: audit.ReasonInvalidRequest, cred: audit.CredentialAPIKey,
		},
		{
			name: "no credential", status: 401, challenge: challenge("", ""), reason: audit.ReasonNoCredential,
		},
		{
			name: "basic auth only", header: http.Header{"Authorization": {"Basic YTpi"}}, status: 401, challenge: challenge("", ""), reason: audit.ReasonNoCredential,
		},
		{
			name: "valid bearer token", header: http.Header{"Authorization": {"Bearer " + jwt}}, status: 200,
			check: func(t *testing.T, _ *http.Response) {
				p := got.p
				if assert.NotNil(t, p, "principal") {
					assert.Equal(t, audit.CredentialJWT, p.Credential, "principal = %+v", p)
					assert.Len(t, p.Scopes, 2, "principal = %+v", p)
					assert.Equal(t, "user:"+issuer+"#alice", p.Subject, "principal = %+v", p)
				}
				assert.False(t, got.hasUse, "hasUse")
				assert.True(t, got.bearerClaims, "bearerClaims")
				assert.NotEmpty(t, got.header.Get("Authorization"), "bearer path changed the request headers")
			},
		},
		{
			name: "expired bearer token", header: http.Header{"Authorization": {"Bearer " + f.bearer.refused(expiredToken)}}, status: 401,
			challenge: challenge("invalid_token", "the access token expired"), reason: audit.ReasonExpired, err: errFakeExpired, cred: audit.CredentialJWT,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = seen{}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mcp"+tt.query, nil)
			for k, vs := range tt.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tt.status, resp.StatusCode, "status; WWW-Authenticate: %s; body %s", resp.Header.Get("WWW-Authenticate"), body)
			if tt.challenge != "" {
				assert.Equal(t, []string{tt.challenge}, resp.Header.Values("WWW-Authenticate"), "WWW-Authenticate")
			}
			if tt.status != 200 {
				assert.Nil(t, got.p, "handler ran on a refused request")
				assertErrorBody(t, resp.Header, body, tt.status)
			}
			for _, k := range f.keys {
				assert.NotContains(t, string(body), k[len(testPrefix):], "response echoes a key")
				assert.NotContains(t, fmt.Sprint(resp.Header), k[len(testPrefix):], "response echoes a key")
			}
			if tt.reason != "" {
				// The decision method agrees with the middleware.
				r := httptest.NewRequest(http.MethodGet, "/mcp"+tt.query, nil)
				for k, vs := range tt.header { // canonicalise like the wire would
					for _, v := range vs {
						r.Header.Add(k, v)
					}
				}
				_, err := a.Authenticate(r)
				var e *rsguard.Error
				require.ErrorIs(t, err, tt.reason, "Authenticate err")
				if tt.err != nil {
					require.ErrorIs(t, err, tt.err, "Authenticate err")
				}
				require.ErrorAs(t, err, &e, "Authenticate err")
				require.Equal(t, tt.status, e.Status, "Authenticate err = %v (%+v): status", err, e)
				require.Equal(t, tt.reason, e.Reason, "Authenticate err = %v (%+v): reason", err, e)
				assert.Equal(t, tt.cred, e.Credential, "Credential")
			}
			if tt.check != nil {
				tt.check(t, resp)
			}
		})
	}
}

// assertErrorBody checks the body of a refusal: JSON with Content-Type
// application/json, an "error" member (the challenge's error code when it
// has one, else "unauthorized" on a 401, "temporarily_unavailable" on a
// 503), and the challenge's error_description when it has one.
func assertErrorBody(t *testing.T, h http.Header, body []byte, status int) {
	t.Helper()
	assert.Equal(t, "application/json", h.Get("Content-Type"), "Content-Type; body %s", body)
	var got struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	require.NoError(t, json.Unmarshal(body, &got), "body %s", body)
	cs, err := rsmeta.ParseChallenges(h.Get("WWW-Authenticate"))
	require.NoError(t, err)
	want := map[int]string{401: "unauthorized", 400: "invalid_request", 403: "access_denied", 503: "temporarily_unavailable"}[status]
	if len(cs) > 0 && cs[0].Error != "" {
		want = cs[0].Error
		assert.Equal(t, cs[0].ErrorDescription, got.Description, "body %s", body)
	}
	assert.Equal(t, want, got.Error, "body %s", body)
}

func flipChar(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

// TestKeyHeaderRemoved: once a key is accepted, Authenticate removes its
// header from the request, so neither the next handler nor an upstream the
// request is proxied to sees the key; a refused key, and a bearer token,
// leave the request as it was.
func TestKeyHeaderRemoved(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.AcceptBearerKeys = true
	a := mustNew(t, cfg)
	jwt := f.jwt("tools:read")
	for _, tc := range []struct {
		name, header, value string
		accepted, removed   bool
	}{
		{"key", "X-Api-Key", f.keys["valid"], true, true},
		{"bearer key", "Authorization", "Bearer " + f.keys["valid"], true, true},
		{"refused key", "X-Api-Key", f.keys["revoked"], false, false},
		{"unknown bearer key", "Authorization", "Bearer " + f.keys["unknown"], false, false},
		{"bearer token", "Authorization", "Bearer " + jwt, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
			r.Header.Set(tc.header, tc.value)
			r.Header.Set("X-Other", "kept")
			p, err := a.Authenticate(r)
			require.Equal(t, tc.accepted, err == nil, "Authenticate = %+v, %v", p, err)
			require.Equal(t, tc.accepted, p != nil, "Authenticate = %+v, %v", p, err)
			_, present := r.Header[tc.header]
			assert.Equal(t, !tc.removed, present, "%s present after Authenticate", tc.header)
			assert.Equal(t, "kept", r.Header.Get("X-Other"), "another header was removed")
		})
	}

	// Through a reverse proxy: the upstream never gets the key.
	var upstreamSaw atomic.Pointer[http.Header]
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		upstreamSaw.Store(&h)
		_, _ = io.WriteString(w, "upstream")
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	proxy := httptest.NewServer(serve(t, a, httputil.NewSingleHostReverseProxy(u)))
	defer proxy.Close()
	for _, hdr := range []http.Header{
		{"X-Api-Key": {f.keys["deprecated"]}},
		{"Authorization": {"Bearer " + f.keys["valid"]}},
	} {
		upstreamSaw.Store(nil)
		req, _ := http.NewRequest(http.MethodGet, proxy.URL+"/mcp", nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := proxy.Client().Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		saw := upstreamSaw.Load()
		require.Equal(t, 200, resp.StatusCode, "status, body %q", body)
		require.Equal(t, "upstream", string(body), "body")
		require.NotNil(t, saw, "the upstream saw no request")
		assert.Empty(t, saw.Get("X-Api-Key"), "upstream got the key: %v", *saw)
		assert.Empty(t, saw.Get("Authorization"), "upstream got the key: %v", *saw)
		if hdr.Get("X-Api-Key") != "" {
			assert.NotEmpty(t, resp.Header.Get("Deprecation"), "deprecated key's headers lost through the proxy")
		}
	}
}

// failingStore fails every lookup with an error that quotes the hash, as a
// careless database driver might.
type failingStore struct{}

var errStoreDown = errors.New("db: connection refused")

func (failingStore) Lookup(_ context.Context, h Hash) (*Record, error) {
	return nil, fmt.Errorf("%w", errStoreDown)
}

// lyingStore returns a record whatever the hash, as a store with a broken
// index might: the constant-time compare must catch it.
type lyingStore struct{ rec Record }

func (s lyingStore) Lookup(context.Context, Hash) (*Record, error) { return &s.rec, nil }

func TestStoreFailures(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.Store = failingStore{}
	a := mustNew(t, cfg)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Api-Key", f.keys["valid"])
	w := httptest.NewRecorder()
	serve(t, a, echo(new(seen))).ServeHTTP(w, r)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "store down: status")
	assert.Equal(t, "5", w.Header().Get("Retry-After"), "store down: a fixed 5 s hint, as before the Guard")
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"), "store down: Content-Type")
	assert.JSONEq(t, `{"error":"temporarily_unavailable","error_description":"the API key cannot be checked right now"}`, w.Body.String(), "store down: body")
	_, err := a.Authenticate(r)
	assert.ErrorIs(t, err, audit.ReasonStoreUnavailable, "store down")
	assert.ErrorIs(t, err, errStoreDown, "store down: the cause is wrapped too")

	cfg.Store = lyingStore{rec: f.recs["writer"]}
	a = mustNew(t, cfg)
	_, err = a.Authenticate(r)
	assert.ErrorIs(t, err, audit.ReasonUnknownAPIKey, "store returning the wrong record")
	// Same hash, wrong id: refused too.
	rec := f.recs["valid"]
	rec.ID = "ZZZZZZZZZZZZ"
	cfg.Store = lyingStore{rec: rec}
	a = mustNew(t, cfg)
	_, err = a.Authenticate(r)
	assert.ErrorIs(t, err, audit.ReasonUnknownAPIKey, "store returning a record with another id")
}

func TestNewErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want error
	}{
		{"no store", func(c *Config) { c.Store = nil }, rsguard.ErrInvalidConfig},
		{"no prefix", func(c *Config) { c.Prefix = "" }, rsguard.ErrInvalidConfig},
		{"bad prefix", func(c *Config) { c.Prefix = "sk-" }, rsguard.ErrInvalidConfig},
		{"JWT-like prefix", func(c *Config) { c.Prefix = "eyJ_" }, rsguard.ErrInvalidConfig},
		{"authorization header", func(c *Config) { c.Header = "authorization" }, rsguard.ErrInvalidConfig},
		{"bad header", func(c *Config) { c.Header = "X Key" }, rsguard.ErrInvalidConfig},
		{"bad policy", func(c *Config) { c.Policy.Default = "maybe" }, rsguard.ErrInvalidConfig},
		{"bad link", func(c *Config) { c.Policy.Link = "docs" }, rsguard.ErrInvalidConfig},
		{"typed nil bearer", func(c *Config) { var b *fakeBearer; c.Bearer = b }, rsguard.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			tc.mod(&cfg)
			a, err := New(cfg)
			assert.ErrorIs(t, err, tc.want, "New")
			assert.Nil(t, a, "New")
		})
	}
	// Control: the fixture's configuration, and keys only, are accepted.
	cfg := f.config()
	mustNew(t, cfg)
	cfg.Bearer = nil
	mustNew(t, cfg)
}

func TestSetPolicyAndUsage(t *testing.T) {
	f := newFixture(t)
	var uses []Use
	var mu sync.Mutex
	cfg := f.config()
	cfg.OnUse = func(_ *http.Request, u Use) {
		mu.Lock()
		uses = append(uses, u)
		mu.Unlock()
	}
	a := mustNew(t, cfg)
	h := serve(t, a, echo(new(seen)))
	do := func(header http.Header) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header = header
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	key := func() http.Header { return http.Header{"X-Api-Key": {f.keys["valid"]}} }
	require.Equal(t, 200, do(key()), "valid key refused")
	// Move the "reporting" client to blocked, live.
	p := a.Policy()
	p.Clients["reporting"] = ClientPolicy{State: StateBlocked}
	require.NoError(t, a.SetPolicy(p))
	require.Equal(t, 401, do(key()), "blocked client's key accepted")
	require.Error(t, a.SetPolicy(Policy{Default: "nope"}), "invalid policy applied")
	require.Equal(t, StateBlocked, a.Policy().Clients["reporting"].State, "invalid policy applied")
	do(http.Header{"X-Api-Key": {f.keys["unknown"]}})
	do(http.Header{"X-Api-Key": {"garbage"}})
	do(http.Header{"Authorization": {"Bearer " + f.jwt("x")}})
	do(http.Header{"Authorization": {"Bearer bad"}})
	do(http.Header{})
	do(http.Header{"X-Api-Key": {f.keys["valid"]}, "Authorization": {"Bearer " + f.jwt("x")}})

	s := a.Usage()
	assert.Equal(t, Counts{Accepted: 1, Rejected: 4}, s.APIKey, "totals: key")
	assert.Equal(t, Counts{Accepted: 1, Rejected: 1}, s.Bearer, "totals: bearer")
	assert.Equal(t, uint64(1), s.Anonymous, "totals: anon")
	if assert.Len(t, s.Keys, 1, "keys: %+v", s.Keys) {
		assert.Equal(t, f.recs["valid"].ID, s.Keys[0].ID, "keys: %+v", s.Keys)
		assert.Equal(t, Counts{1, 1}, s.Keys[0].Counts, "keys: %+v", s.Keys)
		assert.True(t, s.Keys[0].LastSeen.Equal(fixedNow), "keys: %+v", s.Keys)
		assert.Equal(t, StateBlocked, s.Keys[0].State, "keys: %+v", s.Keys)
	}
	if assert.Len(t, s.Clients, 1, "clients: %+v", s.Clients) {
		assert.Equal(t, "reporting", s.Clients[0].Client, "clients: %+v", s.Clients)
		assert.Equal(t, 1, s.Clients[0].Keys, "clients: %+v", s.Clients)
	}
	assert.Equal(t, int64(3), f.bearer.calls.Load(), "requests the bearer authenticator saw, want 3 (none with a key)")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, uses, 5, "OnUse calls")
	assert.ErrorIs(t, uses[4].Err, audit.ReasonInvalidRequest, "use[4] = %+v", uses[4])
	assert.ErrorContains(t, uses[4].Err, "send either an API key or a bearer token, not both", "use[4] = %+v", uses[4])
	assert.Empty(t, uses[4].ID, "use[4] = %+v", uses[4])
	assert.Equal(t, "X-API-Key", uses[4].Header, "use[4] = %+v", uses[4])
	assert.NoError(t, uses[0].Err, "use[0] = %+v", uses[0])
	assert.Equal(t, f.recs["valid"].ID, uses[0].ID, "use[0] = %+v", uses[0])
	assert.Equal(t, "reporting", uses[0].ClientID, "use[0] = %+v", uses[0])
	assert.True(t, uses[0].Time.Equal(fixedNow), "use[0] = %+v", uses[0])
	assert.ErrorIs(t, uses[1].Err, audit.ReasonAPIKeyBlocked, "uses = %+v", uses[1:])
	assert.ErrorIs(t, uses[2].Err, audit.ReasonUnknownAPIKey, "uses = %+v", uses[1:])
	assert.Empty(t, uses[2].ClientID, "uses = %+v", uses[1:])
	assert.ErrorIs(t, uses[3].Err, audit.ReasonMalformed, "uses = %+v", uses[1:])
	assert.Empty(t, uses[3].ID, "uses = %+v", uses[1:])
}

// TestConcurrent drives the middleware from many goroutines while the
// store and the policy change under it; run with -race.
func TestConcurrent(t *testing.T) {
	f := newFixture(t)
	var hookCalls, served, unauthenticated atomic.Int64
	cfg := f.config()
	cfg.OnUse = func(*http.Request, Use) { hookCalls.Add(1) }
	a := mustNew(t, cfg)
	h := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if _, ok := rsguard.FromContext(r.Context()); !ok {
			unauthenticated.Add(1)
		}
		if r.Header.Get("X-Api-Key") != "" {
			unauthenticated.Add(1)
		}
	}))
	names := []string{"valid", "writer", "deprecated", "unknown", "revoked", "blocked"}
	const goroutines, perG = 24, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("X-Api-Key", f.keys[names[(g+i)%len(names)]])
				h.ServeHTTP(httptest.NewRecorder(), r)
				switch {
				case g == 0 && i%20 == 0:
					p := a.Policy()
					p.Default = StateDeprecated
					_ = a.SetPolicy(p)
				case g == 1 && i%20 == 0:
					rec := f.recs["writer"]
					rec.State = StateDeprecated
					_ = f.store.Put(rec)
				case g == 2 && i%50 == 0:
					_ = a.Usage()
				}
			}
		}()
	}
	wg.Wait()
	s := a.Usage()
	assert.Equal(t, uint64(goroutines*perG), s.APIKey.Accepted+s.APIKey.Rejected, "counted")
	assert.Equal(t, int64(goroutines*perG), hookCalls.Load(), "hook calls")
	// valid, writer and deprecated are accepted whatever the policy changes
	// do (Default and the writer's record only ever become deprecated).
	want := int64(goroutines * perG / 2)
	assert.Equal(t, want, served.Load(), "served")
	assert.Equal(t, uint64(want), s.APIKey.Accepted, "accepted")
	assert.Zero(t, unauthenticated.Load(), "requests without a principal or with the key")
	var perKey uint64
	for _, k := range s.Keys {
		perKey += k.Accepted + k.Rejected
	}
	// Unknown keys are not tracked per key: 1/6 of the requests.
	assert.Equal(t, uint64(goroutines*perG*5/6), perKey, "per-key total")
}

// TestNoKeyInLogs captures every log line (at debug level) for every kind of
// request and checks that no key, secret, or hash, in hex or base64, appears.
func TestNoKeyInLogs(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var hooked []string
	cfg := f.config()
	cfg.Logger = logger
	cfg.OnUse = func(_ *http.Request, u Use) {
		// What a team's audit hook would log.
		logger.Info("audit", "use", u, "err", fmt.Sprint(u.Err))
		hooked = append(hooked, fmt.Sprintf("%+v", u))
	}
	guarded := func(a *Authenticator) http.Handler {
		return newGuard(t, rsguard.Config{Authenticator: a, Logger: logger, OnDecision: audit.Slog(logger)}).Middleware(echo(new(seen)))
	}
	var errs []string
	for _, bearerKeys := range []bool{false, true} {
		cfg.AcceptBearerKeys = bearerKeys
		a := mustNew(t, cfg)
		h := guarded(a)
		for _, k := range f.keys {
			typo := k[:len(k)-1] + flipChar(k[len(k)-1])
			for _, hdr := range []http.Header{
				{"X-Api-Key": {k}},
				{"X-Api-Key": {typo}},
				{"X-Api-Key": {k}, "Authorization": {"Bearer " + k}},
				{"X-Api-Key": {k, typo}},
				{"Authorization": {"Bearer " + k}},
				{"Authorization": {"Bearer " + typo}},
			} {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header = hdr.Clone()
				h.ServeHTTP(httptest.NewRecorder(), r)
				r.Header = hdr.Clone()
				if _, err := a.Authenticate(r); err != nil {
					errs = append(errs, err.Error())
				}
			}
		}
	}
	cfg.Store = failingStore{}
	a2 := mustNew(t, cfg)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Api-Key", f.keys["valid"])
	guarded(a2).ServeHTTP(httptest.NewRecorder(), r)
	// Records and hashes handed to a logger directly are redacted too.
	for _, rec := range f.recs {
		logger.Info("record", "rec", rec, "hash", rec.Hash)
	}

	logs := buf.String()
	for _, line := range []string{"rsguard: request refused", "rsguard decision", "apikey: key refused", "apikey: key accepted", "key store lookup failed"} {
		require.Contains(t, logs, line, "expected log line missing")
	}
	texts := map[string]string{"logs": logs, "errors": strings.Join(errs, "\n"), "hook": strings.Join(hooked, "\n")}
	for name, k := range f.keys {
		h := HashKey(k)
		secret := k[len(testPrefix)+idLen+1:]
		forbidden := []string{k, secret[:16], secret[16:], h.String(), h.String()[:16], base64.StdEncoding.EncodeToString(h[:]), base64.RawURLEncoding.EncodeToString(h[:])}
		for where, text := range texts {
			for _, s := range forbidden {
				assert.NotContains(t, text, s, "%s: key %q material %q found", where, name, s)
			}
		}
	}
}
