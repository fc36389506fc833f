package mcpguard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/validate/validatetest"
)

const app = "https://app.example.com"

// sendOrigin sends a request to path with the Origin headers origins (none
// if nil) and the further headers hdr.
func (s *served) sendOrigin(method, path, token string, origins []string, hdr map[string]string, body string) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	require.NoError(s.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, o := range origins {
		req.Header.Add("Origin", o)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := s.srv.Client().Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// serveCounted is serve with AllowedOrigins, counting the authenticate-stage
// decisions (one per request that reached the Guard).
func serveCounted(t *testing.T) (*served, *atomic.Int64) {
	is := validatetest.NewIssuer(t, nil)
	var guarded atomic.Int64
	s := serve(t, is, mcpguard.Config{Tools: epTools, AllowedOrigins: []string{"HTTPS://App.Example.com:443", "http://localhost:3000"},
		OnDecision: func(_ context.Context, d audit.Decision) {
			if d.Stage == audit.StageAuthenticate {
				guarded.Add(1)
			}
		}})
	return s, &guarded
}

// TestEndpointOrigin: the Origin check of the MCP transport, and the CORS
// answers to allowed origins.
func TestEndpointOrigin(t *testing.T) {
	s, guarded := serveCounted(t)
	own := s.srv.URL // http://127.0.0.1:port, the resource's origin
	tok := s.token("alice", "items:read")
	init := rpc("initialize", "")

	served := func(t *testing.T, origins []string, cors string) {
		t.Helper()
		n, g := s.mcp.count(), guarded.Load()
		a := s.sendOrigin(http.MethodPost, "/mcp", tok, origins, nil, init)
		require.Equal(t, http.StatusOK, a.status, a.body)
		assert.Equal(t, n+1, s.mcp.count())
		assert.Equal(t, g+1, guarded.Load())
		assert.Equal(t, cors, a.header.Get("Access-Control-Allow-Origin"))
		assert.Empty(t, a.header.Values("Access-Control-Allow-Credentials"))
		if cors != "" {
			assert.Equal(t, []string{"Origin"}, a.header.Values("Vary"))
			assert.Equal(t, "Mcp-Session-Id, WWW-Authenticate, DPoP-Nonce", a.header.Get("Access-Control-Expose-Headers"))
			assert.NotEmpty(t, a.header.Get("Mcp-Session-Id"))
		}
	}
	t.Run("no Origin", func(t *testing.T) { served(t, nil, "") })
	t.Run("own origin", func(t *testing.T) { served(t, []string{own}, own) })
	t.Run("listed origin", func(t *testing.T) { served(t, []string{app}, app) })
	t.Run("listed origin, other case and default port", func(t *testing.T) {
		served(t, []string{"https://APP.example.com:443"}, "https://APP.example.com:443")
	})
	t.Run("listed http origin", func(t *testing.T) { served(t, []string{"http://localhost:3000"}, "http://localhost:3000") })

	t.Run("listed origin, refused by the Guard: the challenge is readable", func(t *testing.T) {
		a := s.sendOrigin(http.MethodPost, "/mcp", "", []string{app}, nil, init)
		require.Equal(t, http.StatusUnauthorized, a.status)
		assert.NotEmpty(t, a.header.Get("WWW-Authenticate"))
		assert.Equal(t, app, a.header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, []string{"Origin"}, a.header.Values("Vary"))
		assert.Equal(t, "Mcp-Session-Id, WWW-Authenticate, DPoP-Nonce", a.header.Get("Access-Control-Expose-Headers"))
	})

	for _, tc := range []struct {
		name    string
		method  string
		origins []string
		hdr     map[string]string
	}{
		{"unlisted", http.MethodPost, []string{"https://evil.example.com"}, nil},
		{"listed host, other scheme", http.MethodPost, []string{"http://app.example.com"}, nil},
		{"listed host, other port", http.MethodPost, []string{"https://app.example.com:8443"}, nil},
		{"own host, other port", http.MethodPost, []string{"http://127.0.0.1:1"}, nil},
		{"localhost for 127.0.0.1", http.MethodPost, []string{strings.Replace(own, "127.0.0.1", "localhost", 1)}, nil},
		{"null", http.MethodPost, []string{"null"}, nil},
		{"malformed: path", http.MethodPost, []string{app + "/"}, nil},
		{"malformed: list", http.MethodPost, []string{app + ", " + app}, nil},
		{"malformed: no scheme", http.MethodPost, []string{"app.example.com"}, nil},
		{"malformed: userinfo", http.MethodPost, []string{"https://a@app.example.com"}, nil},
		{"malformed: empty", http.MethodPost, []string{""}, nil},
		{"two Origin headers", http.MethodPost, []string{app, app}, nil},
		{"GET from unlisted", http.MethodGet, []string{"https://evil.example.com"}, nil},
		{"DELETE from unlisted", http.MethodDelete, []string{"https://evil.example.com"}, nil},
		{"preflight from unlisted", http.MethodOptions, []string{"https://evil.example.com"}, map[string]string{"Access-Control-Request-Method": "POST"}},
	} {
		t.Run("403 "+tc.name, func(t *testing.T) {
			n, g := s.mcp.count(), guarded.Load()
			body := ""
			if tc.method == http.MethodPost {
				body = init
			}
			a := s.sendOrigin(tc.method, "/mcp", tok, tc.origins, tc.hdr, body)
			require.Equal(t, http.StatusForbidden, a.status)
			assert.Equal(t, "application/json", a.header.Get("Content-Type"))
			assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
			assert.Empty(t, a.header.Values("Access-Control-Allow-Origin"))
			assert.Empty(t, a.header.Values("WWW-Authenticate"))
			var got any
			require.NoError(t, json.Unmarshal([]byte(a.body), &got))
			var want any
			require.NoError(t, json.Unmarshal([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"origin not allowed"}}`), &want))
			assert.Equal(t, want, got)
			assert.Equal(t, n, s.mcp.count(), "h not reached")
			assert.Equal(t, g, guarded.Load(), "Guard not reached")
		})
	}

	for _, o := range []string{app, own} {
		t.Run("preflight from "+o, func(t *testing.T) {
			n, g := s.mcp.count(), guarded.Load()
			a := s.sendOrigin(http.MethodOptions, "/mcp", "", []string{o}, map[string]string{
				"Access-Control-Request-Method":  "POST",
				"Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version",
			}, "")
			require.Equal(t, http.StatusNoContent, a.status)
			assert.Equal(t, o, a.header.Get("Access-Control-Allow-Origin"))
			assert.Equal(t, []string{"Origin"}, a.header.Values("Vary"))
			assert.Equal(t, "GET, POST, DELETE", a.header.Get("Access-Control-Allow-Methods"))
			assert.Equal(t, "Authorization, DPoP, Content-Type, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Accept", a.header.Get("Access-Control-Allow-Headers"))
			assert.Equal(t, "600", a.header.Get("Access-Control-Max-Age"))
			assert.Equal(t, "Mcp-Session-Id, WWW-Authenticate, DPoP-Nonce", a.header.Get("Access-Control-Expose-Headers"))
			assert.Empty(t, a.header.Values("Access-Control-Allow-Credentials"))
			assert.Empty(t, a.body)
			assert.Equal(t, n, s.mcp.count(), "h not reached")
			assert.Equal(t, g, guarded.Load(), "Guard not reached")
		})
	}

	t.Run("OPTIONS without Access-Control-Request-Method goes to the Guard", func(t *testing.T) {
		g := guarded.Load()
		a := s.sendOrigin(http.MethodOptions, "/mcp", "", []string{app}, nil, "")
		assert.Equal(t, http.StatusUnauthorized, a.status)
		assert.Equal(t, app, a.header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, g+1, guarded.Load())
	})

	t.Run("document paths are not Origin-checked", func(t *testing.T) {
		for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
			for _, origins := range [][]string{nil, {"https://evil.example.com"}, {"null"}, {app, app}} {
				a := s.sendOrigin(http.MethodGet, p, "", origins, nil, "")
				require.Equal(t, http.StatusOK, a.status, p)
				assert.Equal(t, "*", a.header.Get("Access-Control-Allow-Origin"), p)
				assert.Contains(t, a.body, `"resource"`)
			}
		}
	})

	t.Run("other paths: 404 as before", func(t *testing.T) {
		a := s.sendOrigin(http.MethodPost, "/other", tok, []string{"https://evil.example.com"}, nil, init)
		assert.Equal(t, http.StatusNotFound, a.status)
	})
}

// TestNewRefusesOrigins: AllowedOrigins entries that are not origins.
func TestNewRefusesOrigins(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	for _, tc := range []struct {
		origin  string
		wantErr string
	}{
		{"*", `"*" is not an origin`},
		{"null", `"null"`},
		{"", "not an origin"},
		{"app.example.com", "not an origin"},
		{"https://app.example.com/", "no path"},
		{"https://app.example.com/app", "no path"},
		{"https://app.example.com?a=b", "no query"},
		{"https://app.example.com?", "no query"},
		{"https://app.example.com#x", "no fragment"},
		{"https://user@app.example.com", "no userinfo"},
		{"https://user:pw@app.example.com", "no userinfo"},
		{"ftp://app.example.com", "http or https"},
		{"chrome-extension://abcdef", "http or https"},
		{"file://", "not an origin"},
		{"https://", "not an origin"},
		{"https://app.example.com:", "not an origin"},
		{"https://:443", "not an origin"},
		{"https://app.example.com:port", "not an origin"},
		{"https://*.example.com", "ASCII name"},
		{"https://app%2eexample.com", "not an origin"},
		{"https://app_x.example.com", "ASCII name"},
		{"https://app.example.com, https://b.example.com", "not an origin"},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			cfg := baseConfig(is, "https://mcp.example.com/mcp")
			cfg.AllowedOrigins = []string{app, tc.origin}
			e, err := mcpguard.New(context.Background(), cfg)
			require.Error(t, err)
			assert.Nil(t, e)
			assert.ErrorIs(t, err, rsguard.ErrInvalidConfig)
			assert.Contains(t, err.Error(), "AllowedOrigins[1]")
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
	assert.Zero(t, is.Requests(is.MetadataURL)+is.Requests(is.JWKSURL), "refused before the issuer was contacted")
}
