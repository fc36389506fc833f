package rsmeta_test

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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/rsmeta"
)

// The deployment these tests stand for: the server serves /mcp on a loopback
// address; a TLS-terminating reverse proxy publishes it as
// https://api.example.com/tools/mcp, removing "/tools".
const (
	publicResource    = "https://api.example.com/tools/mcp"
	publicMetadataURL = "https://api.example.com/.well-known/oauth-protected-resource/tools/mcp"
)

// A proxySetup is one way a reverse proxy maps public paths to the server's,
// and the registration that matches it.
type proxySetup struct {
	name string
	// route maps a public request path to the path the server receives;
	// false means the proxy has no route for it (404 at the proxy).
	route func(public string) (string, bool)
	// register mounts the metadata on the server's mux.
	register func(mux *http.ServeMux, m rsmeta.Metadata) (*rsmeta.Handler, error)
	// rootServed says whether the public root well-known URL reaches the
	// document.
	rootServed bool
}

// stripTools is the proxy's route for the endpoint: /tools/x → /x.
func stripTools(p string) (string, bool) {
	if rest, ok := strings.CutPrefix(p, "/tools/"); ok {
		return "/" + rest, true
	}
	return "", false
}

func proxySetups() []proxySetup {
	return []proxySetup{{
		// nginx: location /tools/ { proxy_pass http://app/; }
		//        location /.well-known/ { proxy_pass http://app; }
		name: "well-known forwarded unchanged, Register",
		route: func(p string) (string, bool) {
			if strings.HasPrefix(p, "/.well-known/") {
				return p, true
			}
			return stripTools(p)
		},
		register: func(mux *http.ServeMux, m rsmeta.Metadata) (*rsmeta.Handler, error) {
			return rsmeta.Register(mux, m)
		},
		rootServed: true,
	}, {
		// nginx: location /.well-known/oauth-protected-resource/tools/ {
		//            proxy_pass http://app/.well-known/oauth-protected-resource/; }
		name: "prefix stripped inside the well-known path, Register with paths",
		route: func(p string) (string, bool) {
			if rest, ok := strings.CutPrefix(p, "/.well-known/oauth-protected-resource/tools/"); ok {
				return "/.well-known/oauth-protected-resource" + "/" + rest, true
			}
			return stripTools(p)
		},
		register: func(mux *http.ServeMux, m rsmeta.Metadata) (*rsmeta.Handler, error) {
			return rsmeta.Register(mux, m, "/.well-known/oauth-protected-resource/mcp")
		},
	}, {
		// nginx: location = /.well-known/oauth-protected-resource/tools/mcp {
		//            proxy_pass http://app/internal/resource-metadata; }
		//        location = /.well-known/oauth-protected-resource { (same) }
		name: "metadata mapped to an internal path, Register with paths",
		route: func(p string) (string, bool) {
			if p == "/.well-known/oauth-protected-resource/tools/mcp" || p == "/.well-known/oauth-protected-resource" {
				return "/internal/resource-metadata", true
			}
			return stripTools(p)
		},
		register: func(mux *http.ServeMux, m rsmeta.Metadata) (*rsmeta.Handler, error) {
			return rsmeta.Register(mux, m, "/internal/resource-metadata")
		},
		rootServed: true,
	}}
}

// newReverseProxy starts a TLS reverse proxy on 127.0.0.1 in front of app.
// A trusting proxy (httputil.Rewrite with SetXForwarded) drops the
// client's X-Forwarded-* headers and sets its own; a sloppy one (a Director
// that keeps the client's Host) passes Host and every X-Forwarded-* header
// through, as a misconfigured proxy would.
func newReverseProxy(t *testing.T, app *httptest.Server, route func(string) (string, bool), sloppy bool) *httptest.Server {
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

// publicClient returns a client for the public URLs: every connection goes
// to proxy, as DNS would send api.example.com there, over TLS that trusts
// the proxy's certificate (issued for *.example.com). Redirects are not
// followed.
func publicClient(proxy *httptest.Server) *http.Client {
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

// seenHeaders records the request headers the server received last, so
// tests can show that spoofed values did reach it.
type seenHeaders struct {
	mu   sync.Mutex
	host string
	hdr  http.Header
}

func (s *seenHeaders) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.host, s.hdr = r.Host, r.Header.Clone()
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (s *seenHeaders) get() (string, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host, s.hdr
}

// spoofed are the headers a client sends to make a server believe it is
// reached under another name.
var spoofed = map[string]string{
	"X-Forwarded-Host":   "evil.example",
	"X-Forwarded-Proto":  "http",
	"X-Forwarded-Prefix": "/evil",
	"X-Forwarded-Port":   "8443",
	"X-Original-URL":     "/evil/mcp",
	"Forwarded":          `host=evil.example;proto=http`,
}

type proxyResponse struct {
	status int
	header http.Header
	body   string
}

func doPublic(t *testing.T, c *http.Client, method, u string, hdr map[string]string, host string) proxyResponse {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
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
	return proxyResponse{resp.StatusCode, resp.Header, string(b)}
}

// TestMetadataBehindReverseProxy serves the metadata through a real
// httputil.ReverseProxy for each proxy setup, and checks what an RFC 9728
// client checks: the document at the well-known URL derived from the public
// resource names that resource (RFC 9728 §3.3), whatever Host and
// X-Forwarded-* headers the request carries.
func TestMetadataBehindReverseProxy(t *testing.T) {
	m := rsmeta.Metadata{
		Resource:             publicResource,
		AuthorizationServers: []string{"https://auth.example.com"},
		ScopesSupported:      []string{"tools:read"},
	}
	for _, setup := range proxySetups() {
		t.Run(setup.name, func(t *testing.T) {
			mux := http.NewServeMux()
			h, err := setup.register(mux, m)
			require.NoError(t, err)
			require.Equal(t, publicMetadataURL, h.URL(), "URL()")
			var seen seenHeaders
			app := httptest.NewServer(seen.wrap(mux))
			defer app.Close()

			for _, sloppy := range []bool{false, true} {
				name := "trusting proxy"
				if sloppy {
					name = "sloppy proxy"
				}
				t.Run(name, func(t *testing.T) {
					client := publicClient(newReverseProxy(t, app, setup.route, sloppy))
					checkMetadataThroughProxy(t, client, setup, &seen, sloppy)
				})
			}
		})
	}
}

func checkMetadataThroughProxy(t *testing.T, client *http.Client, setup proxySetup, seen *seenHeaders, sloppy bool) {
	// What an RFC 9728 client does: derive the URL from the resource.
	u, err := rsmeta.WellKnownURL(publicResource)
	require.NoError(t, err)
	require.Equal(t, publicMetadataURL, u, "WellKnownURL")
	plain := doPublic(t, client, http.MethodGet, u, nil, "")
	require.Equal(t, http.StatusOK, plain.status, "GET %s", u)
	var doc rsmeta.Metadata
	require.NoError(t, json.Unmarshal([]byte(plain.body), &doc))
	assert.Equal(t, publicResource, doc.Resource, "resource")
	if host, hdr := seen.get(); !sloppy {
		assert.Equal(t, "api.example.com", hdr.Get("X-Forwarded-Host"), "trusting proxy sent X-Forwarded-Host")
		assert.Equal(t, "https", hdr.Get("X-Forwarded-Proto"), "trusting proxy sent X-Forwarded-Proto")
		assert.False(t, strings.HasPrefix(host, "api.example.com"), "trusting proxy sent Host %q", host)
	}

	t.Run("spoofed Host and X-Forwarded-*", func(t *testing.T) {
		got := doPublic(t, client, http.MethodGet, u, spoofed, "evil.example")
		assert.Equal(t, http.StatusOK, got.status, "spoofed GET status")
		assert.Equal(t, plain.body, got.body, "spoofed GET body")
		host, hdr := seen.get()
		if sloppy {
			// The headers did reach the server; it ignored them.
			assert.Equal(t, "evil.example", host, "sloppy proxy did not pass the spoofed Host")
			assert.Equal(t, "evil.example", hdr.Get("X-Forwarded-Host"), "sloppy proxy did not pass the spoofed headers: %v", hdr)
			assert.Equal(t, "/evil", hdr.Get("X-Forwarded-Prefix"), "sloppy proxy did not pass the spoofed headers: %v", hdr)
			assert.NotEmpty(t, hdr.Get("Forwarded"), "sloppy proxy did not pass the spoofed headers: %v", hdr)
		} else {
			// Even Rewrite, which drops the client's Forwarded and
			// X-Forwarded-{For,Host,Proto}, sets X-Forwarded-Host from the
			// Host the client chose and passes X-Forwarded-Prefix through:
			// "trusted proxy" headers still carry client-chosen values.
			assert.Equal(t, "evil.example", hdr.Get("X-Forwarded-Host"), "trusting proxy sent X-Forwarded-Host")
			assert.Equal(t, "/evil", hdr.Get("X-Forwarded-Prefix"), "trusting proxy sent X-Forwarded-Prefix")
			assert.Empty(t, hdr.Get("Forwarded"), "trusting proxy sent Forwarded")
		}
	})

	t.Run("HEAD and conditional GET", func(t *testing.T) {
		head := doPublic(t, client, http.MethodHead, u, nil, "")
		assert.Equal(t, http.StatusOK, head.status, "HEAD status")
		assert.Empty(t, head.body, "HEAD body")
		etag := plain.header.Get("ETag")
		got := doPublic(t, client, http.MethodGet, u, map[string]string{"If-None-Match": etag}, "")
		assert.Equal(t, http.StatusNotModified, got.status, "If-None-Match %s", etag)
	})

	t.Run("CORS preflight", func(t *testing.T) {
		got := doPublic(t, client, http.MethodOptions, u, map[string]string{
			"Origin":                         "https://app.example.org",
			"Access-Control-Request-Method":  "GET",
			"Access-Control-Request-Headers": "mcp-protocol-version",
		}, "")
		want := map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
			"Access-Control-Allow-Headers": "mcp-protocol-version",
		}
		assert.Equal(t, http.StatusNoContent, got.status, "preflight")
		for k, v := range want {
			assert.Equal(t, v, got.header.Get(k), "preflight %s", k)
		}
		assert.Equal(t, "*", plain.header.Get("Access-Control-Allow-Origin"), "GET Access-Control-Allow-Origin")
	})

	t.Run("root well-known URL", func(t *testing.T) {
		got := doPublic(t, client, http.MethodGet, "https://api.example.com"+"/.well-known/oauth-protected-resource", nil, "")
		if setup.rootServed {
			assert.Equal(t, http.StatusOK, got.status, "root status, want the document")
			assert.Equal(t, plain.body, got.body, "root body, want the document")
		} else {
			assert.Equal(t, http.StatusNotFound, got.status, "root, want 404 (not registered)")
		}
	})
}
