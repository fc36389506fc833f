package checker

// Tests of what a hostile server cannot make the checker do: send the
// client secret anywhere but the token endpoint of the issuer the user
// named, reach the user's own machine or network, or print a secret its
// token endpoint echoes. The servers that are "remote" are TLS servers on
// 127.0.0.1 behind a world: names resolve to made-up addresses, as DNS
// would answer, and a connection to a made-up address reaches the test's
// server, while the dialer's policy judges the made-up address, as it
// judges a real one.

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// world is a network of named hosts: each name under example.com (the
// names the test certificate covers) resolves to made-up addresses, and a
// connection to a made-up address reaches a TLS server on 127.0.0.1.
type world struct {
	t      *testing.T
	roots  *x509.CertPool
	mu     sync.Mutex
	names  map[string][]netip.Addr
	routes map[netip.Addr]string
}

func newWorld(t *testing.T) *world {
	return &world{t: t, names: map[string][]netip.Addr{}, routes: map[netip.Addr]string{}}
}

// host serves h over TLS on 127.0.0.1 as name, which resolves to addr,
// and returns "https://name".
func (w *world) host(name, addr string, h http.Handler) string {
	w.t.Helper()
	srv := httptest.NewTLSServer(h)
	w.t.Cleanup(srv.Close)
	a := netip.MustParseAddr(addr)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.roots == nil {
		w.roots = x509.NewCertPool()
		w.roots.AddCert(srv.Certificate()) // every httptest server has this one
	}
	w.names[name] = append(w.names[name], a)
	w.routes[a] = srv.Listener.Addr().String()
	return "https://" + name
}

func (w *world) seam() netSeam {
	return netSeam{
		lookup: func(_ context.Context, host string) ([]netip.Addr, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if addrs, ok := w.names[host]; ok {
				return addrs, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
		connect: func(ap netip.AddrPort) string {
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.routes[ap.Addr()] // "": the address itself (a literal)
		},
	}
}

// recorder is a handler that records every request it gets, with its
// Authorization header and body, and answers with answer (404 if nil).
type recorder struct {
	mu       sync.Mutex
	requests []string
	answer   http.HandlerFunc
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.requests = append(rc.requests, fmt.Sprintf("%s %s %s authorization=%q body=%q", r.Method, r.Host, r.URL.RequestURI(), r.Header.Get("Authorization"), body))
	rc.mu.Unlock()
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	if rc.answer == nil {
		http.NotFound(w, r)
		return
	}
	rc.answer(w, r)
}

func (rc *recorder) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.requests...)
}

// jsonAnswer answers with v as JSON.
func jsonAnswer(v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

// mcpHost is an MCP endpoint at origin/mcp that refuses every request with
// a challenge naming its path-inserted metadata, which it serves as doc.
func mcpHost(origin string, doc map[string]any) http.Handler {
	metadata := origin + "/.well-known/oauth-protected-resource/mcp"
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", jsonAnswer(doc))
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+metadata+`", scope="read"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	return mux
}

// authServer is an authorization server: its RFC 8414 metadata (meta,
// "issuer" defaulting to origin), a JWK Set with no key, and a token
// endpoint recorded by tokens that issues an opaque token.
func authServer(origin string, meta map[string]any, tokens *recorder) http.Handler {
	doc := map[string]any{"issuer": origin, "token_endpoint": origin + "/token", "jwks_uri": origin + "/jwks"}
	for k, v := range meta {
		doc[k] = v
	}
	if tokens.answer == nil {
		tokens.answer = jsonAnswer(map[string]any{"access_token": "opaque-issued-token", "token_type": "Bearer"})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server", jsonAnswer(doc))
	mux.HandleFunc("/jwks", jsonAnswer(map[string]any{"keys": []any{}}))
	mux.Handle("/token", tokens)
	return mux
}

const (
	hostileID     = "checker-id"
	hostileSecret = "s3cr&t:+%/é-7c1"
)

// TestSecretOnlyToNamedIssuer (HIGH 1): the client secret goes only to the
// token endpoint of the metadata fetched from the issuer the user named
// (-issuer), whose "issuer" is that identifier, and only when the server's
// metadata names it. Before the fix, the checker took the token endpoint
// from the first authorization server the server's metadata named: a
// hostile server naming its own "authorization server" whose metadata
// points token_endpoint at a collector got the Basic credentials there.
func TestSecretOnlyToNamedIssuer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		servers   func(evil, as string) []string // the metadata's authorization_servers
		resource  string                         // the metadata's "resource", if not the endpoint
		asIssuer  string                         // the named issuer's metadata "issuer", if not its own
		wantToken bool
		wantFail  string
	}{
		{name: "metadata names only a hostile server", servers: func(evil, _ string) []string { return []string{evil} },
			wantFail: "does not name the issuer https://as.example.com (-issuer)"},
		{name: "metadata names both", servers: func(evil, as string) []string { return []string{evil, as} }, wantToken: true},
		{name: "issuer's metadata names another issuer", servers: func(_, as string) []string { return []string{as} },
			asIssuer: "https://evil.example.com", wantFail: `gives "issuer" "https://evil.example.com", not https://as.example.com (-issuer)`},
		{name: "metadata for another resource", servers: func(_, as string) []string { return []string{as} },
			resource: "https://mcp.example.com/other", wantFail: "does not name the issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			collector, asTokens, evilTokens := &recorder{}, &recorder{}, &recorder{}
			w.host("collector.example.com", "203.0.113.99", collector)
			evil := "https://evil.example.com"
			w.host("evil.example.com", "203.0.113.66", authServer(evil, map[string]any{"token_endpoint": "https://collector.example.com/token"}, evilTokens))
			as := "https://as.example.com"
			meta := map[string]any{}
			if tc.asIssuer != "" {
				meta["issuer"] = tc.asIssuer
			}
			w.host("as.example.com", "203.0.113.20", authServer(as, meta, asTokens))
			resource := cmpOrString(tc.resource, "https://mcp.example.com/mcp")
			w.host("mcp.example.com", "203.0.113.10", mcpHost("https://mcp.example.com", map[string]any{
				"resource": resource, "authorization_servers": tc.servers(evil, as)}))

			rep := run(t, Config{Endpoint: "https://mcp.example.com/mcp", ClientID: hostileID, ClientSecret: hostileSecret, Issuer: as,
				RootCAs: w.roots, net: w.seam(), MaxRequests: 400})
			assert.Empty(t, collector.got(), "the collector was sent requests")
			assert.Empty(t, evilTokens.got())
			d := byName(rep)["discovery"]
			if tc.wantToken {
				assert.True(t, rep.Credentials, "%q", d.Messages)
				require.NotEmpty(t, asTokens.got())
				for _, r := range asTokens.got() {
					assert.True(t, strings.HasPrefix(r, "POST as.example.com /token authorization=\"Basic "), r)
				}
				return
			}
			assert.False(t, rep.Credentials)
			assert.Empty(t, asTokens.got(), "a token was asked for")
			require.Equal(t, ResultFail, d.Result)
			assert.Contains(t, strings.Join(d.Messages, "\n"), tc.wantFail)
			if tc.resource != "" {
				assert.True(t, slicesContainsSub(d.Notes, `is discarded: its "resource" "https://mcp.example.com/other" is not the endpoint`), "%q", d.Notes)
			}
		})
	}
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func slicesContainsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestAddressPolicy (HIGH 2): for an endpoint that is not on loopback, the
// metadata cannot send the checker to the user's own machine or network:
// http URLs are never fetched; loopback, link-local (the cloud metadata
// address), unspecified and multicast addresses are refused at dial time,
// names that resolve there included; private addresses only when the
// endpoint's own host is on one; issuer identifiers with a query are not
// used. Before the fix, every one of these was fetched.
func TestAddressPolicy(t *testing.T) {
	type hostile struct {
		name string
		// serve serves the hostile server's spy in w, returning the URL
		// the metadata names.
		serve func(t *testing.T, w *world, spy http.Handler) string
		// want is what the authorization servers check or the discovery
		// says; "" when the endpoint is private and the server is allowed.
		want, wantPrivate string
	}
	named := func(name, addr string) func(*testing.T, *world, http.Handler) string {
		return func(_ *testing.T, w *world, spy http.Handler) string { return w.host(name, addr, spy) }
	}
	for _, h := range []hostile{
		{name: "http literal", serve: func(t *testing.T, _ *world, spy http.Handler) string {
			srv := httptest.NewServer(spy)
			t.Cleanup(srv.Close)
			return srv.URL
		}, want: "not used: plain http, for an endpoint that is not on loopback"},
		{name: "https literal", serve: func(t *testing.T, _ *world, spy http.Handler) string {
			srv := httptest.NewTLSServer(spy)
			t.Cleanup(srv.Close)
			return "https://" + srv.Listener.Addr().String()
		}, want: "does not connect to 127.0.0.1, a loopback address"},
		{name: "name on loopback", serve: named("loopback.example.com", "127.0.0.1"), want: "loopback.example.com (127.0.0.1), a loopback address"},
		{name: "cloud metadata", serve: named("metadata.example.com", "169.254.169.254"), want: "metadata.example.com (169.254.169.254), a link-local address"},
		{name: "query", serve: func(_ *testing.T, w *world, spy http.Handler) string {
			return w.host("metadata.example.com", "203.0.113.30", spy) + "/latest/meta-data/?x=1"
		}, want: `"https://metadata.example.com/latest/meta-data/?x=1" not used: not an issuer identifier`},
		{name: "unspecified", serve: named("zero.example.com", "0.0.0.0"), want: "zero.example.com (0.0.0.0), a unspecified address"},
		{name: "multicast", serve: named("multicast.example.com", "224.0.0.251"), want: "multicast.example.com (224.0.0.251), a multicast address"},
		{name: "IPv4-mapped loopback", serve: named("mapped.example.com", "::ffff:127.0.0.1"), want: "mapped.example.com (127.0.0.1), a loopback address"},
		{name: "NAT64 link-local", serve: named("nat64.example.com", "64:ff9b::a9fe:a9fe"), want: "nat64.example.com (64:ff9b::a9fe:a9fe), a link-local address"},
		{name: "private", serve: named("internal.example.com", "10.0.0.7"),
			want: "internal.example.com (10.0.0.7), a private address, allowed only when the endpoint's own host is on one", wantPrivate: ""},
		{name: "private JWK Set", serve: func(_ *testing.T, w *world, spy http.Handler) string {
			w.host("jwks-internal.example.com", "10.1.1.1", spy)
			return ""
		}, want: "refused: mcpcheck does not connect to jwks-internal.example.com (10.1.1.1), a private address", wantPrivate: ""},
	} {
		if h.wantPrivate == "" && !strings.Contains(h.want, "private") {
			h.wantPrivate = h.want
		}
		for _, endpointAddr := range []string{"203.0.113.10", "10.0.0.5"} {
			private := endpointAddr == "10.0.0.5"
			t.Run(h.name+map[bool]string{false: ", public endpoint", true: ", private endpoint"}[private], func(t *testing.T) {
				w := newWorld(t)
				spy := &recorder{answer: jsonAnswer(map[string]any{"keys": []any{}})}
				hostileURL := h.serve(t, w, spy)
				// A public authorization server, named after the hostile
				// one; its jwks_uri is the private one's in that case.
				meta := map[string]any{}
				if hostileURL == "" {
					meta["jwks_uri"] = "https://jwks-internal.example.com/jwks"
				}
				public := &recorder{answer: authServer("https://as.example.com", meta, &recorder{}).ServeHTTP}
				w.host("as.example.com", "203.0.113.20", public)
				servers := []string{"https://as.example.com"}
				if hostileURL != "" {
					servers = []string{hostileURL, "https://as.example.com"}
				}
				w.host("mcp.example.com", endpointAddr, mcpHost("https://mcp.example.com", map[string]any{
					"resource": "https://mcp.example.com/mcp", "authorization_servers": servers}))

				rep := run(t, Config{Endpoint: "https://mcp.example.com/mcp", RootCAs: w.roots, net: w.seam(), MaxRequests: 400})
				assert.NotEmpty(t, public.got(), "the public authorization server was fetched")
				assert.Equal(t, "https://as.example.com", rep.Issuer)
				said := strings.Join(append(append([]string{}, byName(rep)["discovery"].Notes...), byName(rep)["authorization servers"].Notes...), "\n")
				want := h.want
				if private {
					want = h.wantPrivate
				}
				if want == "" {
					assert.NotEmpty(t, spy.got(), "the endpoint is private, and so is this server: allowed")
					assert.NotContains(t, said, "refused", "nothing refused")
					return
				}
				assert.Empty(t, spy.got(), "the hostile server was sent requests")
				assert.Contains(t, said, want)
				if h.name == "query" {
					assert.Contains(t, strings.Join(byName(rep)["metadata"].Messages, "\n"), `"https://metadata.example.com/latest/meta-data/?x=1", which is not an issuer identifier`)
				}
			})
		}
	}
}

// TestEndpointOnLoopbackByName: an endpoint whose URL is not on loopback
// but whose name resolves there is refused too, saying so: "not on
// loopback" is the URL's, and the dial-time rule holds for every address.
func TestEndpointOnLoopbackByName(t *testing.T) {
	w := newWorld(t)
	endpoint := &recorder{}
	w.host("mcp.example.com", "127.0.0.1", endpoint)
	rep := run(t, Config{Endpoint: "https://mcp.example.com/mcp", RootCAs: w.roots, net: w.seam()})
	assert.Empty(t, endpoint.got())
	d := byName(rep)["discovery"]
	require.Equal(t, ResultFail, d.Result)
	assert.Contains(t, d.Messages[0], "refused: mcpcheck does not connect to mcp.example.com (127.0.0.1), a loopback address")
}

// TestEndpointPinned: the endpoint's host is resolved once: a name that
// resolves to a private address first cannot send later requests to
// another host (DNS rebinding).
func TestEndpointPinned(t *testing.T) {
	w := newWorld(t)
	other := &recorder{}
	w.host("mcp.example.com", "10.0.0.5", mcpHost("https://mcp.example.com", map[string]any{"resource": "https://mcp.example.com/mcp"}))
	w.host("rebound.example.com", "203.0.113.77", other)
	seam := w.seam()
	var lookups int
	var mu sync.Mutex
	base := seam.lookup
	seam.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		lookups++
		if host == "mcp.example.com" && lookups > 1 {
			return base(ctx, "rebound.example.com")
		}
		return base(ctx, host)
	}
	rep := run(t, Config{Endpoint: "https://mcp.example.com/mcp", RootCAs: w.roots, net: seam, MaxRequests: 50})
	assert.Empty(t, other.got(), "a later lookup of the endpoint's name was followed")
	assert.Equal(t, 1, lookups)
	assert.Positive(t, rep.Requests)
}

func TestAddressClasses(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "127.8.9.10": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"169.254.169.254": "link-local", "fe80::1": "link-local", "0.0.0.0": "unspecified", "0.1.2.3": "unspecified", "::": "unspecified",
		"224.0.0.1": "multicast", "ff02::1": "multicast", "255.255.255.255": "broadcast",
		"10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private", "100.64.0.1": "private", "fd00::1": "private",
		"64:ff9b::7f00:1": "loopback", "2002:a9fe:a9fe::1": "link-local",
		"203.0.113.5": "", "8.8.8.8": "", "2001:db8::1": "",
	} {
		assert.Equal(t, want, class(netip.MustParseAddr(addr)), addr)
	}
	strict, internal, open := addrPolicy{}, addrPolicy{private: true}, addrPolicy{open: true}
	for _, a := range []string{"127.0.0.1", "169.254.169.254", "10.0.0.1"} {
		assert.NotEmpty(t, strict.refuses(netip.MustParseAddr(a)), a)
		assert.Empty(t, open.refuses(netip.MustParseAddr(a)), a)
	}
	assert.Empty(t, internal.refuses(netip.MustParseAddr("10.0.0.1")))
	assert.NotEmpty(t, internal.refuses(netip.MustParseAddr("127.0.0.1")))
	assert.Empty(t, strict.refuses(netip.MustParseAddr("203.0.113.5")))
}

// TestDialRefusalIsTheDialers: the refusal happens in the dialer's
// Control, on the address the socket connects to: a connection to a
// literal loopback address, with no seam at all, is refused.
func TestDialRefusalIsTheDialers(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	d := &dialer{}
	_, err := d.DialContext(context.Background(), "tcp", srv.Listener.Addr().String())
	var refused *errAddress
	require.True(t, errors.As(err, &refused), "%v", err)
	assert.Equal(t, "127.0.0.1", refused.addr)
	d.setPolicy(addrPolicy{open: true})
	conn, err := d.DialContext(context.Background(), "tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	conn.Close()
}

// TestTokenEndpointEcho (HIGH 3): a token endpoint that echoes the request
// (its Authorization header, its form body) into error_description, or
// into error, gets neither printed: the report gives the status and the
// error code only when it reads as one, and its last guard knows the
// secret url-encoded, the Basic value and its base64. Before the fix the
// error_description was printed, the Basic value and the url-encoded
// secret in it.
func TestTokenEndpointEcho(t *testing.T) {
	basicPair := url.QueryEscape(hostileID) + ":" + url.QueryEscape(hostileSecret)
	forms := []string{hostileSecret, url.QueryEscape(hostileSecret), basicPair, base64.StdEncoding.EncodeToString([]byte(basicPair))}
	echo := func(into string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			echoed := "Authorization: " + r.Header.Get("Authorization") + " body: " + string(body)
			doc := map[string]any{"error": "invalid_client", "error_description": echoed}
			if into == "error" {
				doc["error"] = string(body) // the url-encoded secret, in the error code's characters
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(doc)
		}
	}
	for _, tc := range []struct {
		name, into string
		methods    []string
		want       string
	}{
		{"basic, into error_description", "error_description", nil, "(status 401, error invalid_client)"},
		{"post, into error_description", "error_description", []string{"client_secret_post"}, "(status 401, error invalid_client)"},
		{"post, into error", "error", []string{"client_secret_post"}, "(status 401, an unreadable error)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens := &recorder{answer: echo(tc.into)}
			var as *spy
			as = newSpy(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" {
					tokens.ServeHTTP(w, r)
					return
				}
				meta := map[string]any{"issuer": as.URL, "token_endpoint": as.URL + "/token"}
				if tc.methods != nil {
					meta["token_endpoint_auth_methods_supported"] = tc.methods
				}
				jsonAnswer(meta)(w, r)
			})
			endpoint := resourceServer(t, func(origin string) string {
				return `Bearer resource_metadata="` + origin + `/.well-known/oauth-protected-resource/mcp", scope="read"`
			}, func(origin string) any {
				return map[string]any{"resource": origin + "/mcp", "authorization_servers": []string{as.URL}}
			})
			rep := run(t, Config{Endpoint: endpoint, ClientID: hostileID, ClientSecret: hostileSecret, Issuer: as.URL})
			require.NotEmpty(t, tokens.got(), "the token endpoint was asked")
			d := byName(rep)["discovery"]
			require.Equal(t, ResultFail, d.Result)
			assert.Contains(t, strings.Join(d.Messages, "\n"), tc.want)
			var table, verbose, js strings.Builder
			require.NoError(t, rep.WriteTable(&table, false))
			require.NoError(t, rep.WriteTable(&verbose, true))
			require.NoError(t, rep.WriteJSON(&js))
			for name, out := range map[string]string{"table": table.String(), "table -v": verbose.String(), "JSON": js.String()} {
				for _, f := range forms {
					assert.NotContains(t, out, f, "%s", name)
				}
				assert.NotContains(t, out, "Authorization: ", name)
			}
		})
	}
}
