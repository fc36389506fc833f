package mcpguard_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// TestEndpoint: over real HTTP, the 401 challenge names the document, which
// is served there with exactly the derived members; a valid token reaches
// the server with its principal; a tool call lacking a scope gets 403
// insufficient_scope; sessions are bound to their owners.
func TestEndpoint(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	s := serve(t, is, mcpguard.Config{Tools: epTools, ChallengeScopes: []string{"items:read"}})

	// No token: 401, and the challenge names where the document is.
	a := s.send(http.MethodPost, "/mcp", "", "", rpc("initialize", ""))
	require.Equal(t, http.StatusUnauthorized, a.status)
	ch := a.challenge(t)
	wantURL := strings.Replace(s.resource, "/mcp", "/.well-known/oauth-protected-resource/mcp", 1)
	assert.Equal(t, wantURL, ch.ResourceMetadata)
	assert.Equal(t, []string{"items:read"}, ch.Scope)
	assert.Empty(t, ch.Error)
	assert.Zero(t, s.mcp.count())

	// The document, at that very URL: exactly the derived members.
	for _, url := range []string{ch.ResourceMetadata, s.srv.URL + "/.well-known/oauth-protected-resource"} {
		a = s.send(http.MethodGet, url, "", "", "")
		require.Equal(t, http.StatusOK, a.status, url)
		assert.Equal(t, "application/json", a.header.Get("Content-Type"))
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(a.body), &doc))
		assert.Equal(t, map[string]any{
			"resource":                 s.resource,
			"authorization_servers":    []any{is.URL},
			"scopes_supported":         []any{"items:read", "items:write"},
			"bearer_methods_supported": []any{"header"},
		}, doc, url)
	}

	// A valid token reaches the server, with its principal.
	alice := s.token("alice", "items:read")
	a = s.send(http.MethodPost, "/mcp", alice, "", rpc("initialize", ""))
	require.Equal(t, http.StatusOK, a.status, a.body)
	assert.Equal(t, "user:"+is.URL+"#alice", s.mcp.lastCaller())
	session := a.header.Get("Mcp-Session-Id")
	require.NotEmpty(t, session)

	// Per-tool scopes.
	a = s.send(http.MethodPost, "/mcp", alice, session, rpc("tools/call", "read_items"))
	assert.Equal(t, http.StatusOK, a.status, a.body)
	served := s.mcp.count()
	a = s.send(http.MethodPost, "/mcp", alice, session, rpc("tools/call", "write_items"))
	require.Equal(t, http.StatusForbidden, a.status, a.body)
	ch = a.challenge(t)
	assert.Equal(t, rsmeta.ErrorInsufficientScope, ch.Error)
	assert.Equal(t, []string{"items:read", "items:write"}, ch.Scope)
	assert.Equal(t, wantURL, ch.ResourceMetadata)
	a = s.send(http.MethodPost, "/mcp", alice, session, rpc("tools/call", "delete_items"))
	assert.Equal(t, http.StatusForbidden, a.status, "a tool not in Tools: %s", a.body)
	assert.Equal(t, served, s.mcp.count(), "refused calls never reach the server")

	// Sessions belong to their owner: an intruder gets what an unknown
	// session gets, before the server sees it.
	bob := s.token("bob", "items:read", "items:write")
	intruder := s.send(http.MethodPost, "/mcp", bob, session, rpc("tools/call", "read_items"))
	unknown := s.send(http.MethodPost, "/mcp", bob, newSessionID(), rpc("tools/call", "read_items"))
	assert.Equal(t, http.StatusNotFound, intruder.status)
	assert.Equal(t, unknown.status, intruder.status)
	assert.Equal(t, unknown.body, intruder.body)
	assert.Equal(t, served, s.mcp.count())
	a = s.send(http.MethodPost, "/mcp", alice, session, rpc("tools/list", ""))
	assert.Equal(t, http.StatusOK, a.status, "the owner is still served")

	// Only the MCP methods: the scope check answers the others.
	a = s.send(http.MethodPut, "/mcp", alice, session, rpc("tools/call", "write_items"))
	assert.Equal(t, http.StatusMethodNotAllowed, a.status)
}

// TestEndpointMetadataExtra: further members of Config.Metadata are
// published beside the derived ones; further trusted issuers are
// authorization servers too; stating the derived members again, equal,
// is accepted.
func TestEndpointMetadataExtra(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	other := validatetest.NewIssuer(t, &validatetest.Options{PlainHTTP: true})
	s := serve(t, is, mcpguard.Config{
		Tools:           map[string][]string{"read_items": {"items:read"}, "ping": nil},
		ChallengeScopes: []string{"profile", "items:read"},
		Metadata: rsmeta.Metadata{
			ResourceName:         "Items",
			ScopesSupported:      []string{"profile", "items:read", "profile"},
			AuthorizationServers: []string{other.URL, is.URL},
		},
		Validate: validate.Config{Issuers: []validate.IssuerConfig{{Issuer: other.URL}}},
	})
	a := s.send(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", "", "", "")
	require.Equal(t, http.StatusOK, a.status)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(a.body), &doc))
	assert.Equal(t, map[string]any{
		"resource":                 s.resource,
		"authorization_servers":    []any{is.URL, other.URL},
		"scopes_supported":         []any{"items:read", "profile"},
		"bearer_methods_supported": []any{"header"},
		"resource_name":            "Items",
	}, doc)
	tok := other.Token(map[string]any{"aud": s.resource, "sub": "carol"})
	a = s.send(http.MethodPost, "/mcp", tok, "", rpc("tools/call", "ping"))
	assert.Equal(t, http.StatusOK, a.status, "a token of the further issuer: %s", a.body)
}

// TestNewRefuses: every configuration stating something twice, differently,
// or stating something wrong, is refused by New, naming the field, before
// the issuer is contacted.
func TestNewRefuses(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	const res = "https://mcp.example.com/mcp"
	loop := "http://127.0.0.1:8080/mcp"
	for _, tc := range []struct {
		name    string
		config  func(*mcpguard.Config)
		wantErr string
	}{
		{"no issuer", func(c *mcpguard.Config) { c.Issuer = "" }, "Issuer is required"},
		{"no resource", func(c *mcpguard.Config) { c.Resource = "" }, "Resource is required"},
		{"Validate.Resource differs", func(c *mcpguard.Config) { c.Validate.Resource = "https://mcp.example.com/other" }, "Validate.Resource"},
		{"Validate.Resource localhost for 127.0.0.1", func(c *mcpguard.Config) {
			c.Resource, c.Validate.Resource = loop, "http://localhost:8080/mcp"
		}, "Validate.Resource"},
		{"Validate.Resource trailing slash", func(c *mcpguard.Config) { c.Validate.Resource = res + "/" }, "Validate.Resource"},
		{"Validate.Issuer differs", func(c *mcpguard.Config) { c.Validate.Issuer = is.URL + "/" }, "Validate.Issuer"},
		{"Metadata.Resource differs", func(c *mcpguard.Config) { c.Metadata.Resource = "https://mcp.example.com/other" }, "Metadata.Resource"},
		{"Metadata.Resource localhost for 127.0.0.1", func(c *mcpguard.Config) {
			c.Resource, c.Metadata.Resource = loop, "http://localhost:8080/mcp"
		}, "Metadata.Resource"},
		{"Metadata.AuthorizationServers differs", func(c *mcpguard.Config) {
			c.Metadata.AuthorizationServers = []string{"https://auth.example.com"}
		}, "Metadata.AuthorizationServers"},
		{"Metadata.AuthorizationServers localhost", func(c *mcpguard.Config) {
			c.Metadata.AuthorizationServers = []string{strings.Replace(is.URL, "127.0.0.1", "localhost", 1)}
		}, "Metadata.AuthorizationServers"},
		{"Metadata.AuthorizationServers one more", func(c *mcpguard.Config) {
			c.Metadata.AuthorizationServers = []string{is.URL, "https://auth.example.com"}
		}, "Metadata.AuthorizationServers"},
		{"Metadata.ScopesSupported differs", func(c *mcpguard.Config) { c.Metadata.ScopesSupported = []string{"items:read"} }, "Metadata.ScopesSupported"},
		{"Metadata.BearerMethodsSupported query", func(c *mcpguard.Config) { c.Metadata.BearerMethodsSupported = []string{"header", "query"} }, "Metadata.BearerMethodsSupported"},
		{"Metadata invalid", func(c *mcpguard.Config) { c.Metadata.ResourceDocumentation = "docs" }, "Metadata"},
		{"no tools", func(c *mcpguard.Config) { c.Tools = nil }, "Tools is required"},
		{"empty tools", func(c *mcpguard.Config) { c.Tools = map[string][]string{} }, "Tools is required"},
		{"bad scope", func(c *mcpguard.Config) { c.Tools = map[string][]string{"read": {"items read"}} }, `Tools["read"]`},
		{"quote in scope", func(c *mcpguard.Config) { c.Tools = map[string][]string{"read": {`items"`}} }, `Tools["read"]`},
		{"empty scope", func(c *mcpguard.Config) { c.Tools = map[string][]string{"read": {""}} }, `Tools["read"]`},
		{"offline_access tool scope", func(c *mcpguard.Config) { c.Tools = map[string][]string{"read": {"offline_access"}} }, "offline_access"},
		{"empty tool name", func(c *mcpguard.Config) { c.Tools = map[string][]string{"": {"a"}} }, "tool name"},
		{"bad challenge scope", func(c *mcpguard.Config) { c.ChallengeScopes = []string{"a\\b"} }, "ChallengeScopes"},
		{"offline_access challenge scope", func(c *mcpguard.Config) { c.ChallengeScopes = []string{"offline_access"} }, "offline_access"},
		{"resource with query", func(c *mcpguard.Config) { c.Resource = res + "?tenant=a" }, "query"},
		{"resource with empty query", func(c *mcpguard.Config) { c.Resource = res + "?" }, "query"},
		{"resource with fragment", func(c *mcpguard.Config) { c.Resource = res + "#x" }, "fragment"},
		{"resource not canonical: host case", func(c *mcpguard.Config) { c.Resource = "https://MCP.example.com/mcp" }, "canonical"},
		{"resource not canonical: default port", func(c *mcpguard.Config) { c.Resource = "https://mcp.example.com:443/mcp" }, "canonical"},
		{"resource http", func(c *mcpguard.Config) { c.Resource = "http://mcp.example.com/mcp" }, "https"},
		{"resource relative", func(c *mcpguard.Config) { c.Resource = "/mcp" }, "Resource"},
		{"resource path with *", func(c *mcpguard.Config) { c.Resource = "https://mcp.example.com/mc*p" }, "'*'"},
		{"resource path with empty segment", func(c *mcpguard.Config) { c.Resource = "https://mcp.example.com/a//mcp" }, "empty segment"},
		{"resource path is the document's", func(c *mcpguard.Config) {
			c.Resource = "https://mcp.example.com/.well-known/oauth-protected-resource"
		}, "metadata document"},
		{"issuer http", func(c *mcpguard.Config) { c.Issuer = "http://auth.example.com" }, "https"},
		{"issuer with query", func(c *mcpguard.Config) { c.Issuer = "https://auth.example.com?a=b" }, "query"},
		{"issuer with fragment", func(c *mcpguard.Config) { c.Issuer = "https://auth.example.com#a" }, "fragment"},
		{"issuer relative", func(c *mcpguard.Config) { c.Issuer = "auth.example.com" }, "absolute"},
		{"issuer is the resource", func(c *mcpguard.Config) { c.Issuer = res }, "Issuer is the Resource"},
		{"issuer is the resource, other case", func(c *mcpguard.Config) { c.Issuer = "https://MCP.example.com:443/mcp" }, "Issuer is the Resource"},
		{"OnDecision twice", func(c *mcpguard.Config) {
			c.OnDecision = func(context.Context, audit.Decision) {}
			c.Sessions.OnDecision = func(context.Context, audit.Decision) {}
		}, "Sessions.OnDecision"},
		{"Sessions.OnDecision alone", func(c *mcpguard.Config) {
			c.Sessions.OnDecision = func(context.Context, audit.Decision) {}
		}, "Sessions.OnDecision is set"},
		{"Logger twice", func(c *mcpguard.Config) {
			c.Logger, c.Validate.Logger = discardLogger(), discardLogger()
		}, "Validate.Logger"},
		{"Sessions.Logger alone", func(c *mcpguard.Config) { c.Sessions.Logger = discardLogger() }, "Sessions.Logger is set"},
		{"Validate.Logger alone", func(c *mcpguard.Config) { c.Validate.Logger = discardLogger() }, "Validate.Logger is set"},
		{"Validate.Issuers audience of another server", func(c *mcpguard.Config) {
			c.Validate.Issuers = []validate.IssuerConfig{{Issuer: "https://other.example.com", Audiences: []string{res, "https://api.example.com"}}}
		}, "Validate.Issuers[0].Audiences: \"https://api.example.com\" is not Resource \"" + res + "\": MCP forbids token passthrough"},
		{"Validate.Issuers audience of another path", func(c *mcpguard.Config) {
			c.Validate.Issuers = []validate.IssuerConfig{{Issuer: "https://other.example.com", Audiences: []string{"https://mcp.example.com/other"}}}
		}, "token passthrough"},
		{"Validate.Issuers audience an application id", func(c *mcpguard.Config) {
			c.Validate.Issuers = []validate.IssuerConfig{
				{Issuer: "https://a.example.com"},
				{Issuer: "https://b.example.com", Audiences: []string{"api://mcp"}},
			}
		}, "Validate.Issuers[1].Audiences"},
		{"Logger without handler", func(c *mcpguard.Config) { c.Logger = &slog.Logger{} }, "Logger"},
		{"negative MaxBodyBytes", func(c *mcpguard.Config) { c.MaxBodyBytes = -1 }, "MaxBodyBytes"},
		{"negative IdleTimeout", func(c *mcpguard.Config) { c.Sessions.IdleTimeout = -1 }, "IdleTimeout"},
		{"Validate invalid", func(c *mcpguard.Config) { c.Validate.Algorithms = []string{"HS256"} }, "HS256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(is, res)
			tc.config(&cfg)
			e, err := mcpguard.New(context.Background(), cfg)
			require.Error(t, err)
			assert.Nil(t, e)
			assert.ErrorIs(t, err, rsguard.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
	assert.Zero(t, is.Requests(is.MetadataURL)+is.Requests(is.JWKSURL), "refused before the issuer was contacted")
}

// TestNewAccepts: the relaxations and restatements New accepts.
func TestNewAccepts(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	const res = "https://mcp.example.com/mcp"
	for _, tc := range []struct {
		name   string
		config func(*mcpguard.Config)
	}{
		{"no tools, unknown tools allowed", func(c *mcpguard.Config) { c.Tools, c.AllowUnknownTools = nil, true }},
		{"restated, equal", func(c *mcpguard.Config) {
			c.Validate.Issuer, c.Validate.Resource = is.URL, res
			c.Metadata = rsmeta.Metadata{Resource: res, AuthorizationServers: []string{is.URL},
				ScopesSupported: []string{"items:write", "items:read"}, BearerMethodsSupported: []string{"header"}}
		}},
		{"one logger for every layer", func(c *mcpguard.Config) { c.Logger = discardLogger() }},
		{"Validate.Issuers audiences naming Resource", func(c *mcpguard.Config) {
			keys, err := validate.NewStaticKeySet([]byte(`{"keys":[` + string(is.PublicJWK(is.Kid("RS256"))) + `]}`))
			require.NoError(t, err)
			c.Validate.Issuers = []validate.IssuerConfig{{Issuer: "https://other.example.com", Keys: keys,
				Audiences: []string{res, res + "/", "HTTPS://MCP.example.com:443/mcp"}}}
		}},
		{"loopback http resource and issuer", func(c *mcpguard.Config) {
			c.Resource, c.Issuer = "http://localhost:8080/mcp", "http://127.0.0.1:9/"
			keys, err := validate.NewStaticKeySet([]byte(`{"keys":[` + string(is.PublicJWK(is.Kid("RS256"))) + `]}`))
			require.NoError(t, err)
			c.Validate.Keys = keys
		}},
		{"no path", func(c *mcpguard.Config) { c.Resource = "https://mcp.example.com" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(is, res)
			tc.config(&cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e, err := mcpguard.New(ctx, cfg)
			require.NoError(t, err)
			assert.NotNil(t, e)
		})
	}
}

// TestNewFetch: New loads the issuer's keys before returning, and fails if
// it cannot; with Validate.Fetch.Lazy it returns at once, and requests with
// a token get 503 until the keys load.
func TestNewFetch(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	is.SetDown(true)
	cfg := baseConfig(is, "https://mcp.example.com/mcp")
	_, err := mcpguard.New(context.Background(), cfg)
	require.Error(t, err)
	assert.NotErrorIs(t, err, rsguard.ErrInvalidConfig)

	s := serve(t, is, mcpguard.Config{Tools: epTools, Validate: validate.Config{Fetch: validate.FetchOptions{Lazy: true}}})
	a := s.send(http.MethodPost, "/mcp", s.token("alice"), "", rpc("initialize", ""))
	assert.Equal(t, http.StatusServiceUnavailable, a.status)
	assert.NotEmpty(t, a.header.Get("Retry-After"))
	a = s.send(http.MethodPost, "/mcp", "", "", rpc("initialize", ""))
	assert.Equal(t, http.StatusUnauthorized, a.status, "without a token: the challenge")
}

// apiKeys is a fake credential kind composed over the bearer validator, as
// package apikey composes: "Bearer key.NAME" is an API key of NAME with
// scope items:read; every other request goes to the bearer authenticator.
type apiKeys struct{ bearer rsguard.Authenticator }

func (k *apiKeys) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	if tok, err := rsguard.BearerToken(r); err == nil {
		if name, ok := strings.CutPrefix(tok, "key."); ok {
			return &rsguard.Principal{Subject: "apikey:owner:" + name, Credential: audit.CredentialAPIKey, Scopes: []string{"items:read"}}, nil
		}
	}
	return k.bearer.Authenticate(r)
}

// TestEndpointAuthenticator: the Authenticator hook gets the validator and
// its result authenticates every request; its failures fail New.
func TestEndpointAuthenticator(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	var got *validate.Validator
	s := serve(t, is, mcpguard.Config{Tools: epTools, Authenticator: func(bearer *validate.Validator) (rsguard.Authenticator, error) {
		got = bearer
		return &apiKeys{bearer: bearer}, nil
	}})
	require.NotNil(t, got)
	assert.Equal(t, []string{is.URL}, got.Issuers())

	a := s.send(http.MethodPost, "/mcp", "key.ops", "", rpc("tools/call", "read_items"))
	assert.Equal(t, http.StatusOK, a.status, a.body)
	assert.Equal(t, "apikey:owner:ops", s.mcp.lastCaller())
	a = s.send(http.MethodPost, "/mcp", "key.ops", "", rpc("tools/call", "write_items"))
	assert.Equal(t, http.StatusForbidden, a.status)
	a = s.send(http.MethodPost, "/mcp", s.token("alice", "items:read", "items:write"), "", rpc("tools/call", "write_items"))
	assert.Equal(t, http.StatusOK, a.status, "bearer tokens still go to the validator: %s", a.body)
	assert.Equal(t, "user:"+is.URL+"#alice", s.mcp.lastCaller())
	a = s.send(http.MethodPost, "/mcp", "not-a-jwt", "", rpc("tools/call", "read_items"))
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Equal(t, rsmeta.ErrorInvalidToken, a.challenge(t).Error)

	errHook := errors.New("no key store")
	for name, hook := range map[string]func(*validate.Validator) (rsguard.Authenticator, error){
		"error":     func(*validate.Validator) (rsguard.Authenticator, error) { return nil, errHook },
		"nil":       func(*validate.Validator) (rsguard.Authenticator, error) { return nil, nil },
		"typed nil": func(*validate.Validator) (rsguard.Authenticator, error) { return (*apiKeys)(nil), nil },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig(is, "https://mcp.example.com/mcp")
			cfg.Authenticator = hook
			_, err := mcpguard.New(context.Background(), cfg)
			require.Error(t, err)
			if name == "error" {
				assert.ErrorIs(t, err, errHook)
			} else {
				assert.ErrorIs(t, err, rsguard.ErrInvalidConfig)
			}
		})
	}
}

// TestEndpointDecisions: OnDecision and Logger are shared by every layer.
func TestEndpointDecisions(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	var mu sync.Mutex
	var got []string
	logs := &lockedBuffer{}
	s := serve(t, is, mcpguard.Config{
		Tools: epTools,
		OnDecision: func(_ context.Context, d audit.Decision) {
			mu.Lock()
			got = append(got, string(d.Stage)+" "+string(d.Reason))
			mu.Unlock()
		},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	alice := s.token("alice", "items:read")
	session := s.send(http.MethodPost, "/mcp", alice, "", rpc("initialize", "")).header.Get("Mcp-Session-Id")
	mu.Lock()
	got = nil
	mu.Unlock()
	s.send(http.MethodPost, "/mcp", "", "", rpc("tools/list", ""))
	s.send(http.MethodPost, "/mcp", alice, session, rpc("tools/call", "write_items"))
	s.send(http.MethodPost, "/mcp", s.token("bob"), session, rpc("tools/list", ""))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{
		"authenticate no_credential",
		"authenticate ok", "authorize insufficient_scope",
		"authenticate ok", "authorize session_not_owned",
	}, got)
	assert.Contains(t, logs.String(), "rsguard: request refused", "the Guard logs to Logger")
}

// TestEndpointPaths: the endpoint is served at the resource's path only,
// the document at its well-known paths only, and every other path is 404
// that the MCP server never sees, served directly or as a mux's catch-all.
func TestEndpointPaths(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	for _, tc := range []struct {
		name      string
		path      string // of the resource
		served    string
		notServed []string
		metadata  []string // where the document is served; the first is the challenge's
	}{
		{"path", "/mcp", "/mcp", []string{"/", "/mcp/", "/mcp/x", "/other", "//mcp", "/x/../mcp", "/MCP", "/%6Dcp",
			"/.well-known/oauth-protected-resource/mcp/", "/.well-known/oauth-protected-resource/", "/.well-known/"},
			[]string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}},
		{"trailing slash", "/mcp/", "/mcp/", []string{"/mcp", "/mcp/x", "/", "/.well-known/oauth-protected-resource/mcp"},
			[]string{"/.well-known/oauth-protected-resource/mcp/", "/.well-known/oauth-protected-resource"}},
		{"no path", "", "/", []string{"/mcp", "/.well-known/oauth-protected-resource/", "/favicon.ico"},
			[]string{"/.well-known/oauth-protected-resource"}},
		{"root path", "/", "/", []string{"/mcp", "/.well-known/oauth-protected-resource/"},
			[]string{"/.well-known/oauth-protected-resource"}},
		{"nested", "/a/mcp", "/a/mcp", []string{"/a", "/mcp", "/a/mcp/", "/.well-known/oauth-protected-resource/mcp"},
			[]string{"/.well-known/oauth-protected-resource/a/mcp", "/.well-known/oauth-protected-resource"}},
		{"escaped", "/a%20b", "/a%20b", []string{"/a", "/a%2520b"},
			[]string{"/.well-known/oauth-protected-resource/a%20b", "/.well-known/oauth-protected-resource"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(nil)
			defer srv.Close()
			origin := "http://" + srv.Listener.Addr().String()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e, err := mcpguard.New(ctx, baseConfig(is, origin+tc.path))
			require.NoError(t, err)
			mcp := &stubMCP{}
			srv.Config.Handler = e.Handler(mcp)
			srv.Start()
			s := &served{t: t, is: is, srv: srv}

			a := s.send(http.MethodPost, tc.served, "", "", rpc("initialize", ""))
			require.Equal(t, http.StatusUnauthorized, a.status, tc.served)
			assert.Equal(t, origin+tc.metadata[0], a.challenge(t).ResourceMetadata)
			tok := is.Token(map[string]any{"aud": origin + tc.path})
			a = s.send(http.MethodPost, tc.served, tok, "", rpc("tools/call", "ping"))
			assert.Equal(t, http.StatusOK, a.status, a.body)
			for _, p := range tc.metadata {
				a := s.send(http.MethodGet, p, "", "", "")
				assert.Equal(t, http.StatusOK, a.status, p)
				assert.Contains(t, a.body, `"resource":"`+origin+tc.path+`"`, p)
			}
			served := mcp.count()
			for _, p := range tc.notServed {
				for _, token := range []string{"", tok} {
					a := s.send(http.MethodPost, p, token, "", rpc("initialize", ""))
					assert.Equal(t, http.StatusNotFound, a.status, "%s: %s", p, a.body)
					assert.Empty(t, a.header.Get("WWW-Authenticate"), p)
				}
			}
			assert.Equal(t, served, mcp.count(), "the MCP server never sees another path")
		})
	}
}

// TestEndpointCatchAll: as the catch-all of an http.ServeMux, the endpoint
// keeps the mux's more specific routes beside it, a route of the mux for the
// root well-known path takes it, and everything else still gets 404.
func TestEndpointCatchAll(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	defer srv.Close()
	origin := "http://" + srv.Listener.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := baseConfig(is, origin+"/mcp")
	cfg.ChallengeScopes = []string{"items:read"}
	cfg.AllowedOrigins = []string{kitOrigin}
	e, err := mcpguard.New(ctx, cfg)
	require.NoError(t, err)
	mcp := &stubMCP{}
	mux.Handle("/", e.Handler(mcp))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /.well-known/oauth-protected-resource", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"resource":"`+origin+`"}`) // the origin's own document
	})
	srv.Start()
	s := &served{t: t, is: is, srv: srv, resource: origin + "/mcp"}

	a := s.send(http.MethodGet, "/healthz", "", "", "")
	assert.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "ok", a.body, "the mux's own route, without a token")
	a = s.send(http.MethodGet, "/.well-known/oauth-protected-resource", "", "", "")
	assert.Equal(t, `{"resource":"`+origin+`"}`, a.body, "the mux's route for the root takes it")
	a = s.send(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", "", "", "")
	assert.Equal(t, http.StatusOK, a.status)
	assert.Contains(t, a.body, `"resource":"`+origin+`/mcp"`)
	a = s.send(http.MethodPost, "/mcp", "", "", rpc("initialize", ""))
	assert.Equal(t, http.StatusUnauthorized, a.status)
	a = s.send(http.MethodPost, "/mcp", s.token("alice", "items:read"), "", rpc("tools/call", "read_items"))
	assert.Equal(t, http.StatusOK, a.status, a.body)
	a = s.send(http.MethodPost, "/other", "", "", rpc("initialize", ""))
	assert.Equal(t, http.StatusNotFound, a.status)
	assert.Equal(t, 1, mcp.count())

	validatetest.Conformance(t, validatetest.ConformanceConfig{
		Issuer: is, Handler: mux, Resource: origin + "/mcp", MCP: true, Tools: epTools, Scopes: []string{"items:read"},
	})
}

// TestEndpointHandlers: two handlers of one Endpoint share its sessions: a
// session opened through one is its owner's through the other too.
func TestEndpointHandlers(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const res = "https://mcp.example.com/mcp"
	e, err := mcpguard.New(ctx, baseConfig(is, res))
	require.NoError(t, err)
	mcp := &stubMCP{}
	first, second := e.Handler(mcp), e.Handler(mcp)
	do := func(h http.Handler, sub, session, body string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, res, strings.NewReader(body))
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+is.Token(map[string]any{"aud": res, "sub": sub, "scope": "items:read"}))
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	res1 := do(first, "alice", "", rpc("initialize", ""))
	require.Equal(t, http.StatusOK, res1.StatusCode)
	session := res1.Header.Get("Mcp-Session-Id")
	require.NotEmpty(t, session)
	assert.Equal(t, http.StatusOK, do(second, "alice", session, rpc("tools/call", "read_items")).StatusCode, "the owner, through the other handler")
	assert.Equal(t, http.StatusNotFound, do(second, "bob", session, rpc("tools/call", "read_items")).StatusCode, "an intruder, through the other handler")
	assert.Equal(t, http.StatusNotFound, do(first, "bob", session, rpc("tools/call", "read_items")).StatusCode)

	assert.PanicsWithValue(t, "mcpguard: Handler: nil handler", func() { e.Handler(nil) })
	assert.Panics(t, func() { e.Handler(http.HandlerFunc(nil)) })
	assert.Panics(t, func() { e.Handler((*stubMCP)(nil)) })
}

// TestEndpointDocument: the document is served exactly as rsmeta serves it
// (status, CORS and caching headers, ETag, body) for every method, at each
// of its paths.
func TestEndpointDocument(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const res = "https://mcp.example.com/mcp"
	cfg := baseConfig(is, res)
	cfg.Metadata.ResourceName = "Items"
	e, err := mcpguard.New(ctx, cfg)
	require.NoError(t, err)
	endpoint := e.Handler(&stubMCP{})
	want, err := rsmeta.NewHandler(rsmeta.Metadata{
		Resource:             res,
		AuthorizationServers: []string{is.URL},
		ScopesSupported:      []string{"items:read", "items:write"},
		ResourceName:         "Items",
	})
	require.NoError(t, err)
	require.Equal(t, []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}, want.Paths())

	for _, path := range want.Paths() {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPost, http.MethodDelete} {
			t.Run(method+" "+path, func(t *testing.T) {
				serve := func(h http.Handler) *httptest.ResponseRecorder {
					req := httptest.NewRequest(method, "https://mcp.example.com"+path, nil)
					req.Header.Set("Origin", "https://app.example.com")
					if method == http.MethodOptions {
						req.Header.Set("Access-Control-Request-Method", http.MethodGet)
						req.Header.Set("Access-Control-Request-Headers", "mcp-protocol-version")
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					return rec
				}
				got, exp := serve(endpoint), serve(want)
				assert.Equal(t, exp.Code, got.Code)
				assert.Equal(t, exp.Header(), got.Header())
				assert.Equal(t, exp.Body.String(), got.Body.String())
				assert.Equal(t, "*", got.Header().Get("Access-Control-Allow-Origin"))
			})
		}
	}
	// Revalidation, as rsmeta answers it.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", nil)
	endpoint.ServeHTTP(rec, req)
	etag := rec.Header().Get("ETag")
	require.NotEmpty(t, etag)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	endpoint.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusNotModified, rec.Code)
}

// kitOrigin is the origin of the browser client the conformance kit's cors
// check plays: an Endpoint refuses (403) any origin it does not allow.
const kitOrigin = "https://client.example"

// TestEndpointConformance: the conformance kit passes an Endpoint's handler
// over a small MCP server that issues session ids, as a Handler and behind
// a running server's URL.
func TestEndpointConformance(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Run("Handler", func(t *testing.T) {
		const res = "https://mcp.example.com/mcp"
		cfg := baseConfig(is, res)
		cfg.ChallengeScopes = []string{"items:read"}
		cfg.AllowedOrigins = []string{kitOrigin}
		e, err := mcpguard.New(ctx, cfg)
		require.NoError(t, err)
		validatetest.Conformance(t, validatetest.ConformanceConfig{
			Issuer: is, Handler: e.Handler(&stubMCP{}), Resource: res, MCP: true, Tools: epTools, Scopes: []string{"items:read"},
		})
	})
	t.Run("URL", func(t *testing.T) {
		s := serve(t, is, mcpguard.Config{Tools: epTools, AllowedOrigins: []string{kitOrigin}})
		validatetest.Conformance(t, validatetest.ConformanceConfig{Issuer: is, URL: s.resource, MCP: true, Tools: epTools})
	})
}
