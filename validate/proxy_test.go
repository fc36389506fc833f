package validate_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// The deployment: an MCP server serves /mcp on a loopback address; a
// TLS-terminating reverse proxy publishes it as
// https://api.example.com/tools/mcp, removing "/tools". Tokens, metadata and
// challenges name the public URLs only.
const (
	proxiedResource    = "https://api.example.com/tools/mcp"
	proxiedMetadataURL = "https://api.example.com/.well-known/oauth-protected-resource/tools/mcp"
	// internalResource is where the server listens, as in the package
	// documentation; never an audience it accepts.
	internalResource = "http://127.0.0.1:8080/mcp"
	// wellKnown is the RFC 9728 §3.1 well-known path prefix.
	wellKnown = "/.well-known/oauth-protected-resource"
)

// proxyRoute maps a public path to the server's path; false: no route.
type proxyRoute func(public string) (string, bool)

func stripToolsPrefix(p string) (string, bool) {
	if rest, ok := strings.CutPrefix(p, "/tools/"); ok {
		return "/" + rest, true
	}
	return "", false
}

// TestBehindReverseProxy runs the whole resource server — metadata, a Guard
// over the Validator, per-tool scopes — behind a real httputil.ReverseProxy, and
// talks to it the way an MCP client does, at the public URLs only.
func TestBehindReverseProxy(t *testing.T) {
	is := validatetest.NewIssuer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := validate.New(ctx, validate.Config{
		Issuer:   is.URL,
		Resource: proxiedResource, // the public URL, from configuration
		Fetch:    validate.FetchOptions{HTTPClient: is.Client()},
	})
	require.NoError(t, err)
	perTool, err := scopes.NewMCP(scopes.MCPConfig{Tools: map[string][]string{
		"echo":   {"tools:read"},
		"delete": {"tools:read", "tools:write"},
	}})
	require.NoError(t, err)
	meta := rsmeta.Metadata{
		Resource:             proxiedResource,
		AuthorizationServers: v.Issuers(),
		ScopesSupported:      []string{"tools:read", "tools:write"},
	}

	setups := []struct {
		name     string
		route    proxyRoute
		register func(*http.ServeMux) (*rsmeta.Handler, error)
	}{{
		name: "well-known forwarded unchanged, Register",
		route: func(p string) (string, bool) {
			if strings.HasPrefix(p, "/.well-known/") {
				return p, true
			}
			return stripToolsPrefix(p)
		},
		register: func(mux *http.ServeMux) (*rsmeta.Handler, error) { return rsmeta.Register(mux, meta) },
	}, {
		name: "prefix stripped inside the well-known path, Register at a path",
		route: func(p string) (string, bool) {
			if rest, ok := strings.CutPrefix(p, wellKnown+"/tools/"); ok {
				return wellKnown + "/" + rest, true
			}
			return stripToolsPrefix(p)
		},
		register: func(mux *http.ServeMux) (*rsmeta.Handler, error) {
			return rsmeta.Register(mux, meta, wellKnown+"/mcp")
		},
	}, {
		name: "metadata mapped to an internal path, Register at a path",
		route: func(p string) (string, bool) {
			if p == wellKnown+"/tools/mcp" {
				return "/internal/resource-metadata", true
			}
			return stripToolsPrefix(p)
		},
		register: func(mux *http.ServeMux) (*rsmeta.Handler, error) {
			return rsmeta.Register(mux, meta, "/internal/resource-metadata")
		},
	}}
	for _, setup := range setups {
		t.Run(setup.name, func(t *testing.T) {
			mux := http.NewServeMux()
			h, err := setup.register(mux)
			require.NoError(t, err)
			require.Equal(t, proxiedMetadataURL, h.URL())
			mux.Handle("/mcp", guarded(t, v, perTool.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
			})), func(c *rsguard.Config) {
				c.ResourceMetadata = h.URL() // the public URL, from configuration
				c.Scopes = []string{"tools:read"}
			}))
			var seen receivedHeaders
			app := httptest.NewServer(seen.wrap(mux))
			t.Cleanup(app.Close)

			for _, sloppy := range []bool{false, true} {
				name := "trusting proxy"
				if sloppy {
					name = "sloppy proxy"
				}
				t.Run(name, func(t *testing.T) {
					client := clientVia(startReverseProxy(t, app, setup.route, sloppy))
					checkResourceServerThroughProxy(t, client, is, app, &seen, sloppy)
				})
			}
		})
	}
}

func checkResourceServerThroughProxy(t *testing.T, client *http.Client, is *validatetest.Issuer, app *httptest.Server, seen *receivedHeaders, sloppy bool) {
	const echo = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}`
	const del = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete","arguments":{}}}`
	token := func(aud, scope string) string {
		return is.Token(map[string]any{"aud": aud, "scope": scope})
	}
	wantNoToken := `Bearer resource_metadata="` + proxiedMetadataURL + `", scope="tools:read"`

	// The discovery an MCP client makes: POST without a token, follow
	// resource_metadata, check "resource" against the URL it called
	// (RFC 9728 §3.3, §5.1).
	t.Run("discovery", func(t *testing.T) {
		resp := send(t, client, http.MethodPost, proxiedResource, echo, "", nil, "")
		require.Equal(t, http.StatusUnauthorized, resp.status)
		require.Equal(t, wantNoToken, resp.header.Get("WWW-Authenticate"))
		require.Contains(t, resp.header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate")
		cs, err := rsmeta.ParseChallenges(resp.header.Get("WWW-Authenticate"))
		require.NoError(t, err)
		require.Len(t, cs, 1)

		doc := send(t, client, http.MethodGet, cs[0].ResourceMetadata, "", "", nil, "")
		require.Equal(t, http.StatusOK, doc.status)
		var m rsmeta.Metadata
		require.NoError(t, json.Unmarshal([]byte(doc.body), &m))
		require.Equal(t, proxiedResource, m.Resource)
		require.Equal(t, []string{is.URL}, m.AuthorizationServers)
	})

	tests := []struct {
		name       string
		aud        string
		scope      string
		body       string
		wantStatus int
		wantError  string   // the challenge's error
		wantScope  []string // the challenge's scope
	}{
		{"public audience", proxiedResource, "tools:read", echo, http.StatusOK, "", nil},
		{"internal audience", internalResource, "tools:read", echo, http.StatusUnauthorized, rsmeta.ErrorInvalidToken, []string{"tools:read"}},
		{"the server's own URL as audience", app.URL + "/mcp", "tools:read", echo, http.StatusUnauthorized, rsmeta.ErrorInvalidToken, []string{"tools:read"}},
		{"unprefixed public URL as audience", "https://api.example.com/mcp", "tools:read", echo, http.StatusUnauthorized, rsmeta.ErrorInvalidToken, []string{"tools:read"}},
		{"insufficient scope", proxiedResource, "tools:read", del, http.StatusForbidden, rsmeta.ErrorInsufficientScope, []string{"tools:read", "tools:write"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := send(t, client, http.MethodPost, proxiedResource, tt.body, token(tt.aud, tt.scope), nil, "")
			require.Equal(t, tt.wantStatus, resp.status, resp.body)
			www := resp.header.Get("WWW-Authenticate")
			if tt.wantStatus == http.StatusOK {
				require.Empty(t, www)
				return
			}
			cs, err := rsmeta.ParseChallenges(www)
			require.NoError(t, err)
			require.Len(t, cs, 1, www)
			require.Equal(t, proxiedMetadataURL, cs[0].ResourceMetadata, www)
			require.Equal(t, tt.wantError, cs[0].Error, www)
			require.Equal(t, tt.wantScope, cs[0].Scope, www)
		})
	}

	// A client that claims another host, scheme or prefix changes nothing:
	// not the challenge, not the audience the server accepts.
	t.Run("spoofed Host and X-Forwarded-*", func(t *testing.T) {
		spoof := map[string]string{
			"X-Forwarded-Host":   "evil.example",
			"X-Forwarded-Proto":  "http",
			"X-Forwarded-Prefix": "/evil",
			"X-Forwarded-Port":   "8443",
			"Forwarded":          "host=evil.example;proto=http",
		}
		resp := send(t, client, http.MethodPost, proxiedResource, echo, "", spoof, "evil.example")
		require.Equal(t, http.StatusUnauthorized, resp.status)
		require.Equal(t, wantNoToken, resp.header.Get("WWW-Authenticate"))

		host, hdr := seen.get()
		require.Equal(t, "evil.example", hdr.Get("X-Forwarded-Host"), "the spoofed host reached the server")
		require.Equal(t, "/evil", hdr.Get("X-Forwarded-Prefix"), "the spoofed prefix reached the server")
		if sloppy {
			require.Equal(t, "evil.example", host)
			require.Equal(t, "http", hdr.Get("X-Forwarded-Proto"))
		}

		for _, aud := range []string{"https://evil.example/evil/mcp", "http://evil.example/evil/mcp", "https://evil.example/tools/mcp"} {
			resp = send(t, client, http.MethodPost, proxiedResource, echo, token(aud, "tools:read"), spoof, "evil.example")
			require.Equal(t, http.StatusUnauthorized, resp.status, "aud %s", aud)
			require.Contains(t, resp.header.Get("WWW-Authenticate"), `resource_metadata="`+proxiedMetadataURL+`"`)
		}
		resp = send(t, client, http.MethodPost, proxiedResource, echo, token(proxiedResource, "tools:read"), spoof, "evil.example")
		require.Equal(t, http.StatusOK, resp.status)
	})

	t.Run("CORS", func(t *testing.T) {
		pre := send(t, client, http.MethodOptions, proxiedMetadataURL, "", "", map[string]string{
			"Origin":                         "https://inspector.example.org",
			"Access-Control-Request-Method":  "GET",
			"Access-Control-Request-Headers": "mcp-protocol-version",
		}, "")
		require.Equal(t, http.StatusNoContent, pre.status)
		require.Equal(t, "*", pre.header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "mcp-protocol-version", pre.header.Get("Access-Control-Allow-Headers"))

		// A browser client reads the challenge of the protected endpoint.
		resp := send(t, client, http.MethodPost, proxiedResource, echo, "", map[string]string{"Origin": "https://inspector.example.org"}, "")
		require.Equal(t, http.StatusUnauthorized, resp.status)
		require.Contains(t, resp.header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate")
	})
}

// startReverseProxy starts a TLS reverse proxy on 127.0.0.1 in front of app.
// The trusting proxy uses Rewrite with SetXForwarded (it drops the client's
// Forwarded and X-Forwarded-{For,Host,Proto} and sets its own); the sloppy
// one is a Director that keeps the client's Host and every X-Forwarded-*
// header, as misconfigured proxies do.
func startReverseProxy(t *testing.T, app *httptest.Server, route proxyRoute, sloppy bool) *httptest.Server {
	t.Helper()
	target, err := url.Parse(app.URL)
	require.NoError(t, err)
	rp := &httputil.ReverseProxy{}
	if sloppy {
		rp.Director = func(r *http.Request) {
			r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
			r.URL.Path, _ = route(r.URL.Path)
			r.URL.RawPath = ""
		}
	} else {
		rp.Rewrite = func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.URL.Path, _ = route(pr.In.URL.Path)
			pr.Out.URL.RawPath = ""
		}
	}
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := route(r.URL.Path); !ok {
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return proxy
}

// clientVia returns a client for the public URLs whose connections all go
// to proxy (as DNS would send api.example.com there), trusting its
// certificate, which is valid for *.example.com.
func clientVia(proxy *httptest.Server) *http.Client {
	tr := proxy.Client().Transport.(*http.Transport).Clone()
	addr := proxy.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// receivedHeaders records the Host and headers of the last request the
// server received.
type receivedHeaders struct {
	mu   sync.Mutex
	host string
	hdr  http.Header
}

func (s *receivedHeaders) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.host, s.hdr = r.Host, r.Header.Clone()
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (s *receivedHeaders) get() (string, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host, s.hdr
}

type sentResponse struct {
	status int
	header http.Header
	body   string
}

// send makes one request; token "" sends no Authorization, host "" the
// URL's host.
func send(t *testing.T, c *http.Client, method, u, body, token string, hdr map[string]string, host string) sentResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return sentResponse{resp.StatusCode, resp.Header, string(b)}
}
