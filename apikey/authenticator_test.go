package apikey

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

const (
	resource         = "https://api.example.com/mcp"
	resourceMetadata = "https://api.example.com/.well-known/oauth-protected-resource/mcp"
	migrationDocs    = "https://docs.example.com/oauth-migration"
)

var (
	fixedNow   = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	deprecated = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cutoff     = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
)

// fixture is a server mid-migration: a test issuer and validator for JWTs,
// a memory store with one key per state, and the policy that goes with it.
type fixture struct {
	is    *validatetest.Issuer
	v     *validate.Validator
	store *MemoryStore
	keys  map[string]string // name -> plaintext key
	recs  map[string]Record // name -> record
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	is := validatetest.NewIssuer(t, &validatetest.Options{
		Now:      func() time.Time { return fixedNow },
		Audience: []string{resource},
	})
	f := &fixture{is: is, v: newValidator(t, is, nil), store: new(MemoryStore), keys: map[string]string{}, recs: map[string]Record{}}
	for name, rec := range map[string]Record{
		"valid":      {Owner: "alice", ClientID: "reporting", Tenant: "acme", Scopes: []string{"tools:read"}},
		"writer":     {Owner: "bob", ClientID: "sync-job", Scopes: []string{"tools:read", "tools:write", "tools:read"}},
		"expired":    {Owner: "carol", ClientID: "reporting", Expires: fixedNow.Add(-time.Minute)},
		"revoked":    {Owner: "dave", ClientID: "reporting", Revoked: true},
		"deprecated": {Owner: "erin", ClientID: "legacy-cli", Scopes: []string{"tools:read"}},
		"blocked":    {Owner: "frank", ClientID: "moved-app"},
		"cutoff":     {Owner: "grace", ClientID: "early-client"},
	} {
		key, rec := mustKey(t, testPrefix, rec)
		if err := f.store.Put(rec); err != nil {
			t.Fatal(err)
		}
		f.keys[name], f.recs[name] = key, rec
	}
	// A well-formed key with a valid checksum that the store does not know.
	f.keys["unknown"], _ = mustKey(t, testPrefix, Record{Owner: "nobody"})
	return f
}

func newValidator(t testing.TB, is *validatetest.Issuer, logger *slog.Logger) *validate.Validator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := validate.New(ctx, validate.Config{
		Issuer:     is.URL(),
		Resource:   resource,
		HTTPClient: is.Client(),
		Now:        func() time.Time { return fixedNow },
		Logger:     logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
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
		Store:     f.store,
		Prefix:    testPrefix,
		Validator: f.v,
		Policy:    f.policy(),
		Now:       func() time.Time { return fixedNow },
	}
}

func (f *fixture) jwt(scope string) string {
	return f.is.Token(map[string]any{"scope": scope})
}

func mustNew(t testing.TB, cfg Config) *Authenticator {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// seen is what the protected handler observed.
type seen struct {
	grant  *scopes.Grant
	use    Use
	hasUse bool
	claims bool
	header http.Header
}

// echo records what reaches the handler.
func echo(out *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out.grant, _ = scopes.FromContext(r.Context())
		out.use, out.hasUse = FromContext(r.Context())
		_, out.claims = validate.ClaimsFromContext(r.Context())
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
	srv := httptest.NewServer(a.Middleware(echo(&got)))
	defer srv.Close()

	jwt := f.jwt("tools:read tools:write")
	tests := []struct {
		name      string
		header    http.Header
		query     string
		status    int
		challenge string
		sentinel  error
		check     func(t *testing.T, resp *http.Response)
	}{
		{
			name: "valid key", header: http.Header{"X-Api-Key": {f.keys["valid"]}}, status: 200,
			check: func(t *testing.T, resp *http.Response) {
				g := got.grant
				if g == nil || g.Credential != scopes.CredentialAPIKey || g.Subject != "apikey:owner:alice" || g.ClientID != "reporting" ||
					g.Tenant != "acme" || len(g.Scopes) != 1 || g.Scopes[0] != "tools:read" || g.ResourceMetadata != resourceMetadata {
					t.Errorf("grant = %+v", g)
				}
				if !got.hasUse || got.use.ID != f.recs["valid"].ID || got.use.Status.State != StateAllowed || got.use.Header != "X-API-Key" {
					t.Errorf("use = %+v", got.use)
				}
				if got.claims {
					t.Error("claims in context for a key")
				}
				if got.header.Get("X-Api-Key") != "" {
					t.Error("key header forwarded to the handler")
				}
				for _, h := range []string{"Deprecation", "Sunset", "Link"} {
					if resp.Header.Get(h) != "" {
						t.Errorf("allowed key got %s header", h)
					}
				}
			},
		},
		{
			name: "custom-case header name", header: http.Header{"x-api-key": {f.keys["valid"]}}, status: 200,
		},
		{
			name: "duplicate scopes collapse", header: http.Header{"X-Api-Key": {f.keys["writer"]}}, status: 200,
			check: func(t *testing.T, _ *http.Response) {
				if s := got.grant.Scopes; len(s) != 2 || s[0] != "tools:read" || s[1] != "tools:write" {
					t.Errorf("scopes = %q", s)
				}
			},
		},
		{
			name: "unknown key", header: http.Header{"X-Api-Key": {f.keys["unknown"]}}, status: 401,
			challenge: challenge("invalid_token", "the API key is not recognised"), sentinel: ErrUnknown,
		},
		{
			name: "bad checksum", header: http.Header{"X-Api-Key": {f.keys["valid"][:len(f.keys["valid"])-1] + flipChar(f.keys["valid"][len(f.keys["valid"])-1])}}, status: 401,
			challenge: challenge("invalid_token", "the API key is malformed (checksum mismatch)"), sentinel: ErrChecksum,
		},
		{
			name: "malformed key", header: http.Header{"X-Api-Key": {testPrefix + "hunter2"}}, status: 401,
			challenge: challenge("invalid_token", "the API key is malformed"), sentinel: ErrMalformed,
		},
		{
			name: "key without the prefix", header: http.Header{"X-Api-Key": {"hunter2"}}, status: 401,
			challenge: challenge("invalid_token", "the API key must start with "+testPrefix), sentinel: ErrMalformed,
		},
		{
			name: "empty key header", header: http.Header{"X-Api-Key": {""}}, status: 401,
			challenge: challenge("invalid_token", "the API key must start with "+testPrefix), sentinel: ErrMalformed,
		},
		{
			name: "expired key", header: http.Header{"X-Api-Key": {f.keys["expired"]}}, status: 401,
			challenge: challenge("invalid_token", "the API key has expired"), sentinel: ErrExpired,
		},
		{
			name: "revoked key", header: http.Header{"X-Api-Key": {f.keys["revoked"]}}, status: 401,
			challenge: challenge("invalid_token", "the API key has been revoked"), sentinel: ErrRevoked,
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
					if g := resp.Header.Values(k); strings.Join(g, "|") != strings.Join(v, "|") {
						t.Errorf("%s = %q, want %q", k, g, v)
					}
				}
				if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Deprecation") {
					t.Error("Deprecation not exposed to browsers")
				}
				if got.use.Status.State != StateDeprecated || !got.use.Status.Sunset.Equal(cutoff) {
					t.Errorf("use.Status = %+v", got.use.Status)
				}
			},
		},
		{
			name: "blocked client", header: http.Header{"X-Api-Key": {f.keys["blocked"]}}, status: 401,
			challenge: challenge("invalid_token", "API keys are no longer accepted for this client: get an OAuth access token (see resource_metadata)"),
			sentinel:  ErrBlocked,
		},
		{
			name: "past client cutoff", header: http.Header{"X-Api-Key": {f.keys["cutoff"]}}, status: 401,
			challenge: challenge("invalid_token", "API keys were retired for this client on 2026-05-31: get an OAuth access token (see resource_metadata)"),
			sentinel:  ErrRetired,
		},
		{
			name: "key and bearer token", header: http.Header{"X-Api-Key": {f.keys["valid"]}, "Authorization": {"Bearer " + jwt}}, status: 400,
			challenge: challenge("invalid_request", "send either an API key or a bearer token, not both"), sentinel: ErrMultipleCredentials,
		},
		{
			name: "key header twice", header: http.Header{"X-Api-Key": {f.keys["valid"], f.keys["writer"]}}, status: 400,
			challenge: challenge("invalid_request", "the X-API-Key header must appear once"), sentinel: ErrMultipleCredentials,
		},
		{
			name: "key as bearer, not accepted", header: http.Header{"Authorization": {"Bearer " + f.keys["valid"]}}, status: 401,
			challenge: challenge("invalid_token", "send API keys in the X-API-Key header, not as a bearer token"), sentinel: ErrBearerKey,
		},
		{
			name: "key with access_token query", header: http.Header{"X-Api-Key": {f.keys["valid"]}}, query: "?access_token=x", status: 400,
			sentinel: validate.ErrInvalidRequest,
		},
		{
			name: "no credential", status: 401, challenge: challenge("", ""), sentinel: validate.ErrNoToken,
		},
		{
			name: "basic auth only", header: http.Header{"Authorization": {"Basic YTpi"}}, status: 401, challenge: challenge("", ""), sentinel: validate.ErrNoToken,
		},
		{
			name: "valid JWT", header: http.Header{"Authorization": {"Bearer " + jwt}}, status: 200,
			check: func(t *testing.T, _ *http.Response) {
				g := got.grant
				if g == nil || g.Credential != scopes.CredentialJWT || len(g.Scopes) != 2 || g.ResourceMetadata != resourceMetadata {
					t.Errorf("grant = %+v", g)
				}
				if got.hasUse || !got.claims {
					t.Errorf("hasUse=%v claims=%v", got.hasUse, got.claims)
				}
				if got.header.Get("Authorization") == "" {
					t.Error("JWT path changed the request headers")
				}
			},
		},
		{
			name: "expired JWT", header: http.Header{"Authorization": {"Bearer " + f.is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()})}}, status: 401,
			challenge: challenge("invalid_token", "the access token expired"), sentinel: validate.ErrExpired,
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
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; WWW-Authenticate: %s; body %s", resp.StatusCode, tt.status, resp.Header.Get("WWW-Authenticate"), body)
			}
			if tt.challenge != "" {
				if g := resp.Header.Values("WWW-Authenticate"); len(g) != 1 || g[0] != tt.challenge {
					t.Errorf("WWW-Authenticate =\n%q\nwant\n%q", g, tt.challenge)
				}
			}
			if tt.status != 200 && got.grant != nil {
				t.Error("handler ran on a refused request")
			}
			for _, k := range f.keys {
				if bytes.Contains(body, []byte(k[len(testPrefix):])) || strings.Contains(fmt.Sprint(resp.Header), k[len(testPrefix):]) {
					t.Error("response echoes a key")
				}
			}
			if tt.sentinel != nil {
				// The decision method agrees with the middleware.
				r := httptest.NewRequest(http.MethodGet, "/mcp"+tt.query, nil)
				r.Header = tt.header.Clone()
				if r.Header == nil {
					r.Header = http.Header{}
				}
				for k, vs := range tt.header { // canonicalise like the wire would
					r.Header.Del(k)
					for _, v := range vs {
						r.Header.Add(k, v)
					}
				}
				_, err := a.Authenticate(r)
				var ve *validate.Error
				if !errors.Is(err, tt.sentinel) || !errors.As(err, &ve) || ve.Status != tt.status {
					t.Errorf("Authenticate err = %v (%+v), want %v with status %d", err, ve, tt.sentinel, tt.status)
				}
			}
			if tt.check != nil {
				tt.check(t, resp)
			}
		})
	}
}

func flipChar(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

// TestJWTPathUnchanged: for requests without an API key, the dual-mode
// middleware answers exactly as validate's bearer middleware does.
func TestJWTPathUnchanged(t *testing.T) {
	f := newFixture(t)
	a := mustNew(t, f.config())
	var viaKeys, viaBearer seen
	dual := a.Middleware(echo(&viaKeys))
	plain := f.v.Middleware(echo(&viaBearer))
	cases := map[string]http.Header{
		"valid":       {"Authorization": {"Bearer " + f.jwt("tools:read")}},
		"none":        {},
		"garbage":     {"Authorization": {"Bearer not.a.jwt"}},
		"bad syntax":  {"Authorization": {"Bearer a b"}},
		"two headers": {"Authorization": {"Bearer x", "Bearer y"}},
		"wrong aud":   {"Authorization": {"Bearer " + f.is.Token(map[string]any{"aud": "https://other.example/mcp"})}},
		"basic":       {"Authorization": {"Basic YTpi"}},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			viaKeys, viaBearer = seen{}, seen{}
			r1 := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r1.Header = h.Clone()
			r2 := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r2.Header = h.Clone()
			w1, w2 := httptest.NewRecorder(), httptest.NewRecorder()
			dual.ServeHTTP(w1, r1)
			plain.ServeHTTP(w2, r2)
			if w1.Code != w2.Code || w1.Body.String() != w2.Body.String() || fmt.Sprint(w1.Header()) != fmt.Sprint(w2.Header()) {
				t.Errorf("dual: %d %v %s\nplain: %d %v %s", w1.Code, w1.Header(), w1.Body, w2.Code, w2.Header(), w2.Body)
			}
			if fmt.Sprint(viaKeys.grant) != fmt.Sprint(viaBearer.grant) || viaKeys.claims != viaBearer.claims {
				t.Errorf("context differs: %+v vs %+v", viaKeys.grant, viaBearer.grant)
			}
		})
	}
}

// TestScopesThroughKey: scopes.Require works unchanged for keys.
func TestScopesThroughKey(t *testing.T) {
	f := newFixture(t)
	a := mustNew(t, f.config())
	h := a.Middleware(scopes.Middleware("tools:write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := scopes.Require(r.Context(), "tools:read", "tools:write"); err != nil {
			t.Errorf("Require in handler: %v", err)
		}
		_, _ = io.WriteString(w, "written")
	})))
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"key with tools:write", http.Header{"X-Api-Key": {f.keys["writer"]}}, 200},
		{"key without tools:write", http.Header{"X-Api-Key": {f.keys["valid"]}}, 403},
		{"jwt with tools:write", http.Header{"Authorization": {"Bearer " + f.jwt("tools:read tools:write")}}, 200},
		{"jwt without tools:write", http.Header{"Authorization": {"Bearer " + f.jwt("tools:read")}}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Header = tc.header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tc.status, w.Header().Get("WWW-Authenticate"))
			}
			if tc.status == 403 {
				want := `Bearer resource_metadata="` + resourceMetadata + `", scope="tools:write", error="insufficient_scope"`
				if g := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(g, want) {
					t.Errorf("403 challenge = %q, want prefix %q", g, want)
				}
			}
		})
	}
}

func TestBearerKeysOptIn(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.AcceptBearerKeys = true
	a := mustNew(t, cfg)
	var got seen
	h := a.Middleware(echo(&got))
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
		sent   error
	}{
		{"key as bearer", http.Header{"Authorization": {"Bearer " + f.keys["valid"]}}, 200, nil},
		{"scheme case-insensitive", http.Header{"Authorization": {"bearer " + f.keys["valid"]}}, 200, nil},
		{"unknown key as bearer", http.Header{"Authorization": {"Bearer " + f.keys["unknown"]}}, 401, ErrUnknown},
		{"jwt still works", http.Header{"Authorization": {"Bearer " + f.jwt("a")}}, 200, nil},
		{"bearer key and header key", http.Header{"Authorization": {"Bearer " + f.keys["valid"]}, "X-Api-Key": {f.keys["valid"]}}, 400, ErrMultipleCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = seen{}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tc.status, w.Header().Get("WWW-Authenticate"))
			}
			if tc.status == 200 && strings.HasPrefix(tc.header.Get("Authorization"), "Bearer "+testPrefix) {
				if got.header.Get("Authorization") != "" || got.use.Header != "Authorization" || got.grant.Credential != scopes.CredentialAPIKey {
					t.Errorf("bearer key: header forwarded or wrong use: %+v", got.use)
				}
			}
			if tc.sent != nil {
				if _, err := a.Authenticate(r); !errors.Is(err, tc.sent) {
					t.Errorf("Authenticate = %v, want %v", err, tc.sent)
				}
			}
		})
	}
}

func TestKeysOnly(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.Validator = nil
	if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New without Validator and ResourceMetadata: %v", err)
	}
	cfg.ResourceMetadata = resourceMetadata
	cfg.Header = "X-Legacy-Token"
	a := mustNew(t, cfg)
	var got seen
	h := a.Middleware(echo(&got))
	for _, tc := range []struct {
		name      string
		header    http.Header
		status    int
		challenge string
	}{
		{"key", http.Header{"X-Legacy-Token": {f.keys["valid"]}}, 200, ""},
		{"key in default header is not read", http.Header{"X-Api-Key": {f.keys["valid"]}}, 401, challenge("", "")},
		{"none", http.Header{}, 401, challenge("", "")},
		{"jwt", http.Header{"Authorization": {"Bearer " + f.jwt("a")}}, 401, challenge("invalid_token", "this resource does not accept bearer tokens")},
		{"revoked", http.Header{"X-Legacy-Token": {f.keys["revoked"]}}, 401, challenge("invalid_token", "the API key has been revoked")},
		{"two", http.Header{"X-Legacy-Token": {f.keys["valid"]}, "Authorization": {"Bearer x"}}, 400, challenge("invalid_request", "send either an API key or a bearer token, not both")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d", w.Code, tc.status)
			}
			if g := w.Header().Get("WWW-Authenticate"); g != tc.challenge {
				t.Errorf("challenge = %q, want %q", g, tc.challenge)
			}
			if tc.status == 200 && got.header.Get("X-Legacy-Token") != "" {
				t.Error("key header forwarded")
			}
		})
	}
}

func TestAdvertiseKeyChallenge(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.AdvertiseKeyChallenge = true
	h := mustNew(t, cfg).Middleware(echo(new(seen)))
	for _, tc := range []struct {
		name   string
		header http.Header
		want   []string
	}{
		{"none", http.Header{}, []string{challenge("", ""), `APIKey header="X-API-Key"`}},
		{"unknown", http.Header{"X-Api-Key": {f.keys["unknown"]}}, []string{challenge("invalid_token", "the API key is not recognised"), `APIKey header="X-API-Key"`}},
		{"blocked: keys not advertised", http.Header{"X-Api-Key": {f.keys["blocked"]}}, []string{challenge("invalid_token", descBlocked)}},
		{"400: no key challenge", http.Header{"X-Api-Key": {"a", "b"}}, []string{challenge("invalid_request", "the X-API-Key header must appear once")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if g := w.Header().Values("WWW-Authenticate"); strings.Join(g, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("WWW-Authenticate =\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// failingStore fails every lookup with an error that quotes the hash, as a
// careless database driver might.
type failingStore struct{}

func (failingStore) Lookup(_ context.Context, h Hash) (*Record, error) {
	return nil, fmt.Errorf("db: connection refused")
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
	a.Middleware(echo(new(seen))).ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("store down: status %d", w.Code)
	}
	if _, err := a.Authenticate(r); !errors.Is(err, ErrStore) {
		t.Errorf("store down: %v", err)
	}

	cfg.Store = lyingStore{rec: f.recs["writer"]}
	a = mustNew(t, cfg)
	if _, err := a.Authenticate(r); !errors.Is(err, ErrUnknown) {
		t.Errorf("store returning the wrong record: %v", err)
	}
	// Same hash, wrong id: refused too.
	rec := f.recs["valid"]
	rec.ID = "ZZZZZZZZZZZZ"
	cfg.Store = lyingStore{rec: rec}
	a = mustNew(t, cfg)
	if _, err := a.Authenticate(r); !errors.Is(err, ErrUnknown) {
		t.Errorf("store returning a record with another id: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want error
	}{
		{"no store", func(c *Config) { c.Store = nil }, ErrInvalidConfig},
		{"no prefix", func(c *Config) { c.Prefix = "" }, ErrInvalidPrefix},
		{"bad prefix", func(c *Config) { c.Prefix = "sk-" }, ErrInvalidPrefix},
		{"authorization header", func(c *Config) { c.Header = "authorization" }, ErrInvalidConfig},
		{"bad header", func(c *Config) { c.Header = "X Key" }, ErrInvalidConfig},
		{"bad policy", func(c *Config) { c.Policy.Default = "maybe" }, ErrInvalidConfig},
		{"bad link", func(c *Config) { c.Policy.Link = "docs" }, ErrInvalidConfig},
		{"bad metadata URL", func(c *Config) { c.Validator, c.ResourceMetadata = nil, "https://x/\"" }, ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			tc.mod(&cfg)
			if _, err := New(cfg); !errors.Is(err, tc.want) {
				t.Errorf("New = %v, want %v", err, tc.want)
			}
		})
	}
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
	h := a.Middleware(echo(new(seen)))
	do := func(header http.Header) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header = header
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	key := http.Header{"X-Api-Key": {f.keys["valid"]}}
	if do(key) != 200 {
		t.Fatal("valid key refused")
	}
	// Move the "reporting" client to blocked, live.
	p := a.Policy()
	p.Clients["reporting"] = ClientPolicy{State: StateBlocked}
	if err := a.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	if do(key) != 401 {
		t.Fatal("blocked client's key accepted")
	}
	if err := a.SetPolicy(Policy{Default: "nope"}); err == nil || a.Policy().Clients["reporting"].State != StateBlocked {
		t.Fatal("invalid policy applied")
	}
	do(http.Header{"X-Api-Key": {f.keys["unknown"]}})
	do(http.Header{"X-Api-Key": {"garbage"}})
	do(http.Header{"Authorization": {"Bearer " + f.jwt("x")}})
	do(http.Header{"Authorization": {"Bearer bad"}})
	do(http.Header{})
	do(http.Header{"X-Api-Key": {f.keys["valid"]}, "Authorization": {"Bearer " + f.jwt("x")}})

	s := a.Usage()
	if s.APIKey != (Counts{Accepted: 1, Rejected: 4}) || s.JWT != (Counts{Accepted: 1, Rejected: 1}) || s.Anonymous != 1 {
		t.Errorf("totals: key %+v jwt %+v anon %d", s.APIKey, s.JWT, s.Anonymous)
	}
	if len(s.Keys) != 1 || s.Keys[0].ID != f.recs["valid"].ID || s.Keys[0].Counts != (Counts{1, 1}) ||
		!s.Keys[0].LastSeen.Equal(fixedNow) || s.Keys[0].State != StateBlocked {
		t.Errorf("keys: %+v", s.Keys)
	}
	if len(s.Clients) != 1 || s.Clients[0].Client != "reporting" || s.Clients[0].Keys != 1 {
		t.Errorf("clients: %+v", s.Clients)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(uses) != 5 {
		t.Fatalf("OnUse called %d times, want 5", len(uses))
	}
	if !errors.Is(uses[4].Err, ErrMultipleCredentials) || uses[4].ID != "" || uses[4].Header != "X-API-Key" {
		t.Errorf("use[4] = %+v", uses[4])
	}
	if uses[0].Err != nil || uses[0].ID != f.recs["valid"].ID || uses[0].ClientID != "reporting" || !uses[0].Time.Equal(fixedNow) {
		t.Errorf("use[0] = %+v", uses[0])
	}
	if !errors.Is(uses[1].Err, ErrBlocked) || !errors.Is(uses[2].Err, ErrUnknown) || uses[2].ClientID != "" || !errors.Is(uses[3].Err, ErrMalformed) || uses[3].ID != "" {
		t.Errorf("uses = %+v", uses[1:])
	}
}

// TestConcurrent drives the middleware from many goroutines while the
// store and the policy change under it; run with -race.
func TestConcurrent(t *testing.T) {
	f := newFixture(t)
	var hookCalls atomic.Int64
	cfg := f.config()
	cfg.OnUse = func(*http.Request, Use) { hookCalls.Add(1) }
	a := mustNew(t, cfg)
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := scopes.FromContext(r.Context()); !ok {
			t.Error("no grant")
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
	if total := s.APIKey.Accepted + s.APIKey.Rejected; total != goroutines*perG || hookCalls.Load() != goroutines*perG {
		t.Errorf("counted %d, hook %d, want %d", total, hookCalls.Load(), goroutines*perG)
	}
	var perKey uint64
	for _, k := range s.Keys {
		perKey += k.Accepted + k.Rejected
	}
	// Unknown keys are not tracked per key: 1/6 of the requests.
	if want := uint64(goroutines * perG * 5 / 6); perKey != want {
		t.Errorf("per-key total %d, want %d", perKey, want)
	}
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
	cfg.Validator = newValidator(t, f.is, logger) // its refusal lines too
	cfg.OnUse = func(_ *http.Request, u Use) {
		// What a team's audit hook would log.
		logger.Info("audit", "use", u, "err", fmt.Sprint(u.Err))
		hooked = append(hooked, fmt.Sprintf("%+v", u))
	}
	var errs []string
	for _, bearerKeys := range []bool{false, true} {
		cfg.AcceptBearerKeys = bearerKeys
		a := mustNew(t, cfg)
		h := a.Middleware(echo(new(seen)))
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
				r.Header = hdr
				h.ServeHTTP(httptest.NewRecorder(), r)
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
	a2.Middleware(echo(new(seen))).ServeHTTP(httptest.NewRecorder(), r)
	// Records and hashes handed to a logger directly are redacted too.
	for _, rec := range f.recs {
		logger.Info("record", "rec", rec, "hash", rec.Hash)
	}

	logs := buf.String()
	if !strings.Contains(logs, "rsguard: request refused") || !strings.Contains(logs, "apikey: key refused") || !strings.Contains(logs, "apikey: key accepted") || !strings.Contains(logs, "key store lookup failed") {
		t.Fatalf("expected log lines missing:\n%s", logs)
	}
	texts := map[string]string{"logs": logs, "errors": strings.Join(errs, "\n"), "hook": strings.Join(hooked, "\n")}
	for name, k := range f.keys {
		h := HashKey(k)
		secret := k[len(testPrefix)+IDLen+1:]
		forbidden := []string{k, secret[:16], secret[16:], h.String(), h.String()[:16], base64.StdEncoding.EncodeToString(h[:]), base64.RawURLEncoding.EncodeToString(h[:])}
		for where, text := range texts {
			for _, s := range forbidden {
				if strings.Contains(text, s) {
					t.Errorf("%s: key %q material %q found", where, name, s)
				}
			}
		}
	}
}
