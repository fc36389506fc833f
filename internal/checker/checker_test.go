package checker

// Tests of the checker on its own: the bounds of a run (time, requests,
// origins), the client-credentials token source, the report and its last
// guard. Runs against the kit's MCP servers, and the comparison with
// validatetest.Conformance, are in validate/validatetest (checker_test.go).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/internal/conformance"
)

// spy is a server that records every request it gets.
type spy struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newSpy(t *testing.T, h http.HandlerFunc) *spy {
	s := &spy{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *spy) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

// resourceServer is an MCP endpoint at /mcp that refuses everything with a
// challenge naming resourceMetadata, and serves doc (if not nil) at its
// path-inserted metadata URL.
func resourceServer(t *testing.T, challenge func(origin string) string, doc func(origin string) any) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	origin := "http://" + srv.Listener.Addr().String()
	mux := http.NewServeMux()
	if doc != nil {
		mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(doc(origin))
		})
	}
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", challenge(origin))
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return origin + "/mcp"
}

func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	return rep
}

func byName(rep *Report) map[string]CheckResult {
	m := map[string]CheckResult{}
	for _, c := range rep.Checks {
		m[c.Name] = c
	}
	return m
}

// TestHangingServer: a server that never answers ends the run at its
// deadline, with the check that was waiting failed and the run cut short.
func TestHangingServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	start := time.Now()
	rep := run(t, Config{Endpoint: srv.URL + "/mcp", Timeout: 500 * time.Millisecond, RequestTimeout: time.Minute})
	assert.Less(t, time.Since(start), 5*time.Second, "the run outlived its deadline")
	assert.False(t, rep.Passed)
	assert.Contains(t, rep.CutShort, "-timeout 500ms")
	got := byName(rep)
	assert.Equal(t, ResultFail, got["discovery"].Result)
	assert.Contains(t, got["discovery"].Messages[0], "did not answer a request without a token before the run was cut short: its time was up")
	// Nothing after the deadline ran: the checks are skipped, saying why,
	// and none fails blaming the server.
	assert.Equal(t, ResultSkipped, got["attacks"].Result)
	said := 0
	for _, c := range rep.Checks[1:] {
		assert.NotEqual(t, ResultFail, c.Result, "%s: %q", c.Name, c.Messages)
		if c.leaf && len(c.Messages) == 1 && strings.Contains(c.Messages[0], "its time was up") {
			said++
		}
	}
	assert.Positive(t, said, "the skipped checks say why")
}

// TestMaxRequests: a small budget cuts the run short after exactly that
// many requests.
func TestMaxRequests(t *testing.T) {
	endpoint := resourceServer(t, func(origin string) string {
		return `Bearer resource_metadata="` + origin + `/.well-known/oauth-protected-resource/mcp"`
	}, func(origin string) any {
		return map[string]any{"resource": origin + "/mcp"}
	})
	rep := run(t, Config{Endpoint: endpoint, MaxRequests: 7})
	assert.False(t, rep.Passed)
	assert.Equal(t, 7, rep.Requests)
	assert.Contains(t, rep.CutShort, "its 7 requests (-max-requests)")
	var cut int
	for _, c := range rep.Checks {
		for _, m := range c.Messages {
			// A check the budget stopped is cut short, not failed with a
			// fix line blaming the server.
			if strings.Contains(m, "-max-requests") {
				assert.Equal(t, ResultSkipped, c.Result, "%s: %q", c.Name, c.Messages)
				assert.NotContains(t, m, ". Answer", c.Name)
			}
		}
		if c.Result == ResultSkipped && len(c.Messages) == 1 && strings.Contains(c.Messages[0], "-max-requests") {
			cut++
		}
	}
	assert.Positive(t, cut, "the checks after the budget are skipped, saying why")
	assert.Equal(t, ResultFail, byName(rep)["metadata"].Result, "a failure found before the cut stands")
}

// TestOrigins: the run sends nothing to an origin the metadata does not
// name as an authorization server's (a challenge's resource_metadata
// elsewhere, a jwks_uri of a server whose metadata does not match), and to
// an authorization server it names only its metadata, JWK Set and token
// endpoint requests.
func TestOrigins(t *testing.T) {
	t.Run("resource_metadata on another origin", func(t *testing.T) {
		elsewhere := newSpy(t, nil)
		endpoint := resourceServer(t, func(string) string {
			return `Bearer resource_metadata="` + elsewhere.URL + `/.well-known/oauth-protected-resource/mcp"`
		}, nil)
		rep := run(t, Config{Endpoint: endpoint})
		assert.Empty(t, elsewhere.got(), "the spy was sent requests")
		assert.False(t, rep.Passed)
		assert.Contains(t, strings.Join(byName(rep)["challenge"].Messages, " "), "is not on the resource's origin: the kit sends nothing elsewhere")
	})

	t.Run("authorization servers", func(t *testing.T) {
		jwks := newSpy(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"keys":[]}`) })
		hidden := newSpy(t, nil) // named only by a server whose metadata does not match
		var as, mismatched *spy
		as = newSpy(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/.well-known/oauth-authorization-server" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": as.URL, "jwks_uri": jwks.URL + "/jwks", "token_endpoint": as.URL + "/token",
				"service_documentation": hidden.URL + "/docs"})
		})
		mismatched = newSpy(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": "https://elsewhere.invalid", "jwks_uri": hidden.URL + "/jwks", "token_endpoint": hidden.URL + "/token"})
		})
		endpoint := resourceServer(t, func(origin string) string {
			return `Bearer resource_metadata="` + origin + `/.well-known/oauth-protected-resource/mcp"`
		}, func(origin string) any {
			return map[string]any{"resource": origin + "/mcp", "authorization_servers": []string{mismatched.URL, as.URL}}
		})
		rep := run(t, Config{Endpoint: endpoint, ClientID: "id", ClientSecret: "s3cr3t-value-0d9a", Issuer: as.URL})
		assert.Equal(t, as.URL, rep.Issuer)
		assert.Empty(t, hidden.got(), "a server no metadata names was sent requests")
		for _, p := range as.got() {
			assert.Contains(t, []string{"GET /.well-known/oauth-authorization-server", "POST /token"}, p)
		}
		assert.NotEmpty(t, mismatched.got(), "the authorization servers check fetches every server named")
		for _, p := range mismatched.got() {
			assert.Contains(t, []string{"GET /.well-known/oauth-authorization-server", "GET /.well-known/openid-configuration"}, p)
		}
		assert.Contains(t, as.got(), "POST /token", "the token endpoint was asked")
		assert.Equal(t, []string{"GET /jwks"}, jwks.got())
		// The token endpoint answered 404: the credentials got nothing.
		d := byName(rep)["discovery"]
		assert.Equal(t, ResultFail, d.Result)
		assert.Contains(t, d.Messages[0], "refused the token request (status 404)")
		assert.NotContains(t, d.Messages[0], "s3cr3t-value-0d9a")
	})
}

// TestGuard: the transport refuses other origins, naming them, and counts.
func TestGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	g := newGuard(http.DefaultTransport, context.Background(), 2, true, nil)
	client := &http.Client{Transport: g}
	_, err := client.Get(srv.URL)
	assert.ErrorIs(t, err, errRefused)
	assert.ErrorIs(t, err, conformance.ErrNotFetched)
	assert.Contains(t, err.Error(), "mcpcheck sends nothing to "+srv.URL)
	require.True(t, g.allow(srv.URL+"/anything"))
	for range 2 {
		resp, err := client.Get(srv.URL + "/x")
		require.NoError(t, err)
		resp.Body.Close()
	}
	_, err = client.Get(srv.URL)
	assert.ErrorContains(t, err, "its 2 requests")
	assert.Equal(t, 2, g.requests())
	assert.Equal(t, "https://h", originOf(mustURL(t, "HTTPS://H:443/p")))
	assert.Equal(t, "http://[::1]:8080", originOf(mustURL(t, "http://[::1]:8080/p")))
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// tokenEndpoint is a token endpoint that records requests and answers with
// answer.
type tokenEndpoint struct {
	mu       sync.Mutex
	requests []*http.Request
	forms    []url.Values
	answer   func(w http.ResponseWriter, r *http.Request)
}

func (te *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	te.mu.Lock()
	te.requests = append(te.requests, r)
	te.forms = append(te.forms, r.PostForm)
	te.mu.Unlock()
	te.answer(w, r)
}

func TestClientCredentials(t *testing.T) {
	const id, secret = "client id/ä", "s3cr&t:+%"
	ok := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"opaque-`+r.PostForm.Get("resource")+`","token_type":"bearer"}`)
	}
	newSource := func(t *testing.T, te *tokenEndpoint, methods []string) (*clientCredentials, *secrets) {
		srv := httptest.NewServer(te)
		t.Cleanup(srv.Close)
		s := &secrets{}
		src, err := newClientCredentials(context.Background(), srv.Client(), &conformance.ASMetadata{Issuer: srv.URL, TokenEndpoint: srv.URL + "/token", TokenEndpointAuthMethods: methods},
			id, secret, "https://mcp.example.com/mcp", s)
		require.NoError(t, err)
		return src, s
	}

	t.Run("client_secret_basic, form-urlencoded", func(t *testing.T) {
		te := &tokenEndpoint{answer: ok}
		src, s := newSource(t, te, nil)
		tok, err := src.Token([]string{"b", "a"})
		require.NoError(t, err)
		assert.Equal(t, "opaque-https://mcp.example.com/mcp", tok)
		again, err := src.Token([]string{"a", "b"})
		require.NoError(t, err)
		assert.Equal(t, tok, again)
		_, err = src.Token(nil)
		require.NoError(t, err)
		_, err = src.TokenFor("https://other.example/mcp", []string{"a"})
		require.NoError(t, err)
		require.Len(t, te.requests, 3, "one request per resource and scope set")
		r := te.requests[0]
		raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
		dec, err := base64.StdEncoding.DecodeString(raw)
		require.NoError(t, err)
		assert.Equal(t, url.QueryEscape(id)+":"+url.QueryEscape(secret), string(dec), "RFC 6749 §2.3.1")
		assert.Equal(t, url.Values{"grant_type": {"client_credentials"}, "resource": {"https://mcp.example.com/mcp"}, "scope": {"b a"}}, te.forms[0])
		assert.NotContains(t, te.forms[1], "scope", "no scope asked for nil")
		assert.Equal(t, "https://other.example/mcp", te.forms[2].Get("resource"))
		assert.Contains(t, s.clean("x "+tok+" "+secret), "x [redacted] [redacted]")
	})

	t.Run("client_secret_post when basic is not supported", func(t *testing.T) {
		te := &tokenEndpoint{answer: ok}
		src, _ := newSource(t, te, []string{"private_key_jwt", "client_secret_post"})
		_, err := src.Token(nil)
		require.NoError(t, err)
		assert.Empty(t, te.requests[0].Header.Get("Authorization"))
		assert.Equal(t, id, te.forms[0].Get("client_id"))
		assert.Equal(t, secret, te.forms[0].Get("client_secret"))
	})

	for _, tc := range []struct {
		name, status, body, want, never string
	}{
		{"refused", "400", `{"error":"invalid_scope","error_description":"the client may not request scope x"}`, "(status 400, error invalid_scope)", "the client may not"},
		{"description with the secret", "401", `{"error":"invalid_client","error_description":"bad secret ` + secret + `"}`, "(status 401, error invalid_client)", secret},
		{"body not JSON", "500", `<html>` + secret + `</html>`, "(status 500)", secret},
		{"odd error code", "400", `{"error":"bad\"code"}`, "(status 400, an unreadable error)", `bad"code`},
		{"error code not a string", "400", `{"error":42}`, "(status 400, an unreadable error)", "42"},
		{"error code with the secret url-encoded", "400", `{"error":"` + url.QueryEscape(secret) + `"}`, "(status 400, an unreadable error)", url.QueryEscape(secret)},
		{"not bearer", "200", `{"access_token":"t0ken-value","token_type":"DPoP"}`, `token_type "DPoP", not Bearer`, "t0ken-value"},
		{"token_type with the secret", "200", `{"access_token":"t0ken-value","token_type":"` + url.QueryEscape(secret) + `"}`, `an unreadable token_type, not Bearer`, url.QueryEscape(secret)},
		{"no token", "200", `{"token_type":"Bearer"}`, "without an access_token", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := &tokenEndpoint{answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(map[string]int{"400": 400, "401": 401, "500": 500, "200": 200}[tc.status])
				_, _ = io.WriteString(w, tc.body)
			}}
			src, _ := newSource(t, te, nil)
			_, err := src.Token(nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.never != "" {
				assert.NotContains(t, err.Error(), tc.never)
			}
			assert.NotContains(t, err.Error(), secret)
		})
	}

	t.Run("endpoint", func(t *testing.T) {
		s := &secrets{}
		for _, tc := range []struct{ issuer, te string }{
			{"https://as.example.com", ""}, {"https://as.example.com", "http://as.example.com/token"}, {"https://as.example.com", "/token"},
			// http on loopback only for an issuer on loopback.
			{"https://as.example.com", "http://127.0.0.1:8080/token"}, {"http://127.0.0.1:9", "http://as.example.com/token"},
		} {
			_, err := newClientCredentials(context.Background(), http.DefaultClient, &conformance.ASMetadata{Issuer: tc.issuer, TokenEndpoint: tc.te}, id, secret, "https://r", s)
			assert.Error(t, err, "%+v", tc)
		}
		_, err := newClientCredentials(context.Background(), http.DefaultClient, &conformance.ASMetadata{Issuer: "http://127.0.0.1:9", TokenEndpoint: "http://127.0.0.1:9/token"}, id, secret, "https://r", s)
		assert.NoError(t, err, "http on loopback, for an issuer on loopback")
		_, err = newClientCredentials(context.Background(), http.DefaultClient, &conformance.ASMetadata{TokenEndpoint: "https://as/token", TokenEndpointAuthMethods: []string{"private_key_jwt"}}, id, secret, "https://r", s)
		assert.ErrorContains(t, err, "neither client_secret_basic nor client_secret_post")
	})
}

// TestReportGuard: whatever a message carries, the table and the JSON print
// neither the client secret nor a token the run got, however it looks.
func TestReportGuard(t *testing.T) {
	s := &secrets{}
	s.add("opaque-token-123")
	s.add(`se"cret\`)
	rep := &Report{Endpoint: "https://mcp.example.com/mcp", AuthorizationServers: []string{}, secrets: s}
	d := &discovery{name: "discovery"}
	d.note("got opaque-token-123 and eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	d.fail(`the secret se"cret\ leaked. Fix it.`)
	rep.finish(d, nil, 3, time.Now(), "")
	var table, js strings.Builder
	require.NoError(t, rep.WriteTable(&table, true))
	require.NoError(t, rep.WriteJSON(&js))
	for _, out := range []string{table.String(), js.String()} {
		assert.NotContains(t, out, "opaque-token-123")
		assert.NotContains(t, out, `se"cret\`)
		assert.NotContains(t, out, `se\"cret\\`)
		assert.NotContains(t, out, "eyJ")
		assert.Contains(t, out, "[redacted]")
	}
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(js.String()), &got))
	for _, f := range []string{"endpoint", "resource", "metadata_url", "authorization_servers", "issuer", "credentials", "passed", "summary", "requests", "duration_ms", "checks"} {
		assert.Contains(t, got, f)
	}
	assert.Equal(t, false, got["passed"])
	assert.Equal(t, []any{}, got["authorization_servers"])
	assert.Equal(t, map[string]any{"passed": 0.0, "failed": 1.0, "not_checkable": 0.0, "skipped": 0.0}, got["summary"])
}

// TestConfig: what Run refuses before sending anything, and the plain http
// endpoint it fails without sending it anything.
func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Endpoint: "mcp.example.com/mcp"},
		{Endpoint: "ftp://mcp.example.com/mcp"},
		{Endpoint: "https://user@mcp.example.com/mcp"},
		{Endpoint: "https://mcp.example.com/mcp#x"},
		{Endpoint: "https://mcp.example.com/a/../mcp"},
		{Endpoint: "https://mcp.example.com/mcp", ClientID: "only-id"},
		{Endpoint: "https://mcp.example.com/mcp", ClientID: "id", ClientSecret: "secret"}, // no issuer
		{Endpoint: "https://mcp.example.com/mcp", ClientID: "id", ClientSecret: "secret", Issuer: "https://as.example.com/?tenant=a"},
		{Endpoint: "https://mcp.example.com/mcp", Issuer: "https://user@as.example.com"},
		{Endpoint: "https://mcp.example.com/mcp", Issuer: "https://as.example.com/#x"},
		{Endpoint: "https://mcp.example.com/mcp", Issuer: "http://127.0.0.1:9"}, // http issuer, endpoint not on loopback
		{Endpoint: "https://mcp.example.com/mcp", ToolScopes: []string{"a"}},
		{Endpoint: "https://mcp.example.com/mcp", Tool: "t", ToolScopes: []string{"a b"}},
		{Endpoint: "https://mcp.example.com/mcp", Scopes: []string{"a b"}},
		{Endpoint: "https://mcp.example.com/mcp", ToolArguments: map[string]any{}},
		{Endpoint: "https://mcp.example.com/mcp", OtherResource: "relative"},
		{Endpoint: "https://mcp.example.com/mcp", Timeout: -1},
	} {
		_, err := Run(context.Background(), cfg)
		assert.ErrorIs(t, err, ErrConfig, "%+v", cfg)
	}
	rep, err := Run(context.Background(), Config{Endpoint: "http://mcp.example.com/mcp", net: refuseAll(t)})
	require.NoError(t, err)
	assert.False(t, rep.Passed)
	assert.Zero(t, rep.Requests)
	require.Len(t, rep.Checks, 1)
	assert.Contains(t, rep.Checks[0].Messages[0], "plain http on a host that is not loopback")
}

// refuseAll is a network on which nothing resolves and every connection is
// a test failure.
func refuseAll(t *testing.T) netSeam {
	return netSeam{
		lookup: func(_ context.Context, host string) ([]netip.Addr, error) {
			t.Errorf("%s looked up", host)
			return nil, errors.New("refused")
		},
		connect: func(ap netip.AddrPort) string {
			t.Errorf("connection to %s", ap)
			return "127.0.0.1:1"
		},
	}
}

func TestReadChallenges(t *testing.T) {
	for _, tc := range []struct {
		values []string
		mode   conformance.DPoPMode
		rm     string
		scope  []string
	}{
		{[]string{`Bearer resource_metadata="https://a/m", scope="x y"`}, conformance.DPoPOff, "https://a/m", []string{"x", "y"}},
		{[]string{`DPoP algs="ES256", resource_metadata="https://a/d"`, `Bearer resource_metadata="https://a/b"`}, conformance.DPoPAllowed, "https://a/b", nil},
		{[]string{`DPoP resource_metadata="https://a/d", scope="z"`}, conformance.DPoPRequired, "https://a/d", []string{"z"}},
		{[]string{`Basic realm="x"`, `not a challenge "`}, conformance.DPoPOff, "", nil},
		{nil, conformance.DPoPOff, "", nil},
	} {
		ci := readChallenges(tc.values)
		assert.Equal(t, tc.mode, ci.mode(), "%q", tc.values)
		assert.Equal(t, tc.rm, ci.resourceMetadata, "%q", tc.values)
		assert.Equal(t, tc.scope, ci.scope, "%q", tc.values)
	}
}

func TestSigningKey(t *testing.T) {
	k, err := conformance.NewDPoPKey("ES256")
	require.NoError(t, err)
	jwk := k.JWK()
	jwk["kid"] = "ec-1"
	ec, _ := json.Marshal(jwk)
	set := `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hmac"},{"kty":"RSA","use":"enc","kid":"enc","n":"AQAB","e":"AQAB"},` + string(ec) + `]}`
	got, err := signingKey([]byte(set))
	require.NoError(t, err)
	assert.Equal(t, "ec-1", got.Kid)
	assert.Equal(t, "ES256", got.Alg)
	assert.Equal(t, string(ec), string(got.JWK))
	for _, bad := range []string{`[]`, `{"keys":[]}`, `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":""}]}`} {
		_, err := signingKey([]byte(bad))
		assert.Error(t, err, bad)
	}
}

// TestDiscoveryOrder (LOW): the metadata is read where MCP clients
// (2025-11-25) read it: at the challenge's resource_metadata first, when it
// is on the endpoint's origin, then at the path-inserted URL; a document
// whose "resource" is not the endpoint is discarded (RFC 9728 §3.3), and
// noted.
func TestDiscoveryOrder(t *testing.T) {
	newAS := func() *spy {
		var as *spy
		as = newSpy(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": as.URL, "token_endpoint": as.URL + "/token"})
		})
		return as
	}
	fromChallenge, fromPath := newAS(), newAS()
	for _, tc := range []struct {
		name           string
		root, inserted func(origin string) any // the documents at the root and at the path-inserted URL (nil: 404)
		want           *spy
		wantNote       string
	}{
		{"the challenge's first", func(o string) any {
			return map[string]any{"resource": o + "/mcp", "authorization_servers": []string{fromChallenge.URL}}
		}, func(o string) any {
			return map[string]any{"resource": o + "/mcp", "authorization_servers": []string{fromPath.URL}}
		}, fromChallenge, ""},
		{"the path-inserted one when the challenge's is for another resource", func(o string) any {
			return map[string]any{"resource": o, "authorization_servers": []string{fromChallenge.URL}}
		}, func(o string) any {
			return map[string]any{"resource": o + "/mcp", "authorization_servers": []string{fromPath.URL}}
		}, fromPath, `is discarded: its "resource" "http://127.0.0.1:`},
		{"the challenge's when the path-inserted one is missing", func(o string) any {
			return map[string]any{"resource": o + "/mcp", "authorization_servers": []string{fromChallenge.URL}}
		}, nil, fromChallenge, ""},
		{"none when both are for another resource", func(o string) any {
			return map[string]any{"resource": o + "/", "authorization_servers": []string{fromChallenge.URL}}
		}, func(o string) any {
			return map[string]any{"resource": o + "/MCP", "authorization_servers": []string{fromPath.URL}}
		}, nil, "is not the endpoint, and a client must not use it (RFC 9728 §3.3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(nil)
			origin := "http://" + srv.Listener.Addr().String()
			mux := http.NewServeMux()
			for path, doc := range map[string]func(string) any{"/.well-known/oauth-protected-resource": tc.root, "/.well-known/oauth-protected-resource/mcp": tc.inserted} {
				if doc != nil {
					mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(doc(origin)) })
				}
			}
			mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+origin+`/.well-known/oauth-protected-resource"`)
				w.WriteHeader(http.StatusUnauthorized)
			})
			srv.Config.Handler = mux
			srv.Start()
			t.Cleanup(srv.Close)
			rep := run(t, Config{Endpoint: origin + "/mcp"})
			if tc.want == nil {
				assert.Empty(t, rep.AuthorizationServers)
				assert.Empty(t, rep.Issuer)
			} else {
				assert.Equal(t, []string{tc.want.URL}, rep.AuthorizationServers)
				assert.Equal(t, tc.want.URL, rep.Issuer)
			}
			if tc.wantNote != "" {
				assert.True(t, slicesContainsSub(byName(rep)["discovery"].Notes, tc.wantNote), "%q", byName(rep)["discovery"].Notes)
			}
			// The challenge check judges the document the challenge names
			// (served here as text/plain), as the metadata check judges
			// the well-known one: its "resource" too.
			msgs := strings.Join(byName(rep)["challenge"].Messages, " ")
			assert.Contains(t, msgs, `the Bearer challenge's resource_metadata: Content-Type "text/plain`)
			if tc.root(origin).(map[string]any)["resource"] == origin+"/mcp" {
				assert.NotContains(t, msgs, `"resource" is`)
			} else {
				assert.Contains(t, msgs, `"resource" is`)
			}
		})
	}
}

// TestUnfinishedCheck: a check still running when the report is made (one
// that did not return within the grace after the deadline) fails, and so
// does every check above it; it is never reported passed.
func TestUnfinishedCheck(t *testing.T) {
	rec := conformance.NewRecorder("mcpcheck")
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec.Run(func(r conformance.Reporter) {
			r.Run("first", func(conformance.Reporter) {})
			r.Run("stuck", func(r conformance.Reporter) {
				r.Run("inner", func(conformance.Reporter) {
					close(started)
					<-release
				})
			})
		})
	}()
	<-started
	rep := &Report{secrets: &secrets{}}
	rep.finish(&discovery{name: "discovery"}, rec, 1, time.Now(), "the run was cut short: its time was up (-timeout 1s)")
	close(release)
	<-done
	got := byName(rep)
	assert.Equal(t, ResultPass, got["first"].Result)
	for _, name := range []string{"stuck", "stuck/inner"} {
		assert.Equal(t, ResultSkipped, got[name].Result, name)
		assert.Equal(t, []string{"cut short: it had not finished when the run was cut short: its time was up (-timeout 1s); not judged"}, got[name].Messages, name)
	}
	assert.False(t, rep.Passed)
	assert.Equal(t, "the run was cut short: its time was up (-timeout 1s)", rep.CutShort)
}

// TestParentResults (MEDIUM 4): a check with sub-checks takes its result
// from its leaves — fail if one failed, else pass if one passed, else not
// checkable if one was, else skipped — in the JSON and the table, which
// says how many leaves were not checkable or skipped. Before the fix, a
// parent none of whose leaves passed was shown PASS.
func TestParentResults(t *testing.T) {
	rec := conformance.NewRecorder("mcpcheck")
	rec.Run(func(r conformance.Reporter) {
		r.Run("stepup", func(r conformance.Reporter) {
			r.Run("write_items", func(r conformance.Reporter) { r.Skipf("the step-up was not exercised") })
		})
		r.Run("attacks", func(r conformance.Reporter) {
			r.Run("a", func(conformance.Reporter) {})
			r.Run("b", func(r conformance.Reporter) { r.Skipf("%s without credentials: why", conformance.NotCheckable) })
			r.Run("c", func(r conformance.Reporter) { r.Skipf("does not apply: why") })
		})
		r.Run("session", func(r conformance.Reporter) {
			r.Run("x", func(r conformance.Reporter) { r.Skipf("%s without credentials: why", conformance.NotCheckable) })
		})
		r.Run("dpop", func(r conformance.Reporter) {
			r.Run("y", func(conformance.Reporter) {})
			r.Run("z", func(r conformance.Reporter) { r.Errorf("bad (RFC 9449 §7.1). Fix it.") })
		})
	})
	rep := &Report{secrets: &secrets{}}
	rep.finish(&discovery{name: "discovery"}, rec, 1, time.Now(), "")
	got := byName(rep)
	for name, want := range map[string]string{"stepup": ResultSkipped, "attacks": ResultPass, "session": ResultNotCheckable, "dpop": ResultFail} {
		assert.Equal(t, want, got[name].Result, name)
	}
	var table, js strings.Builder
	require.NoError(t, rep.WriteTable(&table, false))
	require.NoError(t, rep.WriteJSON(&js))
	assert.Contains(t, table.String(), "SKIP           stepup (1 skipped)\n")
	assert.Contains(t, table.String(), "PASS           attacks (1 not checkable, 1 skipped)\n")
	assert.Contains(t, table.String(), "NOT CHECKABLE  session (1 not checkable)\n")
	assert.Contains(t, js.String(), `"name": "stepup",
      "result": "skipped"`)
}

// TestTableSpecAndText (MEDIUM 8, LOW): the table prints, under each
// failing check, the specification it checks; and server text cannot
// break its lines or drive the terminal (C0 and C1 controls, bidi
// overrides, bytes that are not UTF-8).
func TestTableSpecAndText(t *testing.T) {
	rec := conformance.NewRecorder("mcpcheck")
	rec.Run(func(r conformance.Reporter) {
		r.Run("attacks", func(r conformance.Reporter) {
			r.Run("algorithm", func(r conformance.Reporter) {
				r.Run("alg none", func(r conformance.Reporter) {
					r.Errorf("accepted: status 200 \x1b[31m\u009b31m\u202eevil\xff\nnext. Fix it.")
				})
			})
		})
	})
	rep := &Report{secrets: &secrets{}, Issuer: "https://as.example.com/\u0085x"}
	rep.finish(&discovery{name: "discovery"}, rec, 1, time.Now(), "")
	var table strings.Builder
	require.NoError(t, rep.WriteTable(&table, false))
	out := table.String()
	assert.Contains(t, out, "FAIL           attacks/algorithm/alg none\n")
	assert.Contains(t, out, "  spec: RFC 8725 §3.1; RFC 7519 §6\n")
	assert.Contains(t, out, "accepted: status 200  [31m 31m evil  next. Fix it.\n")
	assert.Contains(t, out, "  issuer         https://as.example.com/ x\n")
	for _, r := range out {
		if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u202e' || r == utf8.RuneError) {
			t.Errorf("the table holds %U", r)
		}
	}
}

// TestInterrupted (LOW): a run interrupted while a check waits for an
// answer reports that check cut short, not failed with a fix line blaming
// the server. Before the fix, the check failed with "context canceled".
func TestInterrupted(t *testing.T) {
	waiting := make(chan struct{})
	srv := httptest.NewUnstartedServer(nil)
	origin := "http://" + srv.Listener.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions { // the cors check's preflight hangs until the interrupt
			close(waiting)
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_ = json.NewEncoder(w).Encode(map[string]any{"resource": origin + "/mcp"})
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+origin+`/.well-known/oauth-protected-resource/mcp", scope="read"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	ctx, interrupt := context.WithCancel(context.Background())
	go func() {
		<-waiting
		interrupt()
	}()
	rep, err := Run(ctx, Config{Endpoint: origin + "/mcp"})
	require.NoError(t, err)
	assert.Equal(t, "the run was cut short: it was interrupted", rep.CutShort)
	assert.False(t, rep.Passed)
	cors := byName(rep)["cors"]
	assert.Equal(t, ResultSkipped, cors.Result, "%q", cors.Messages)
	assert.Equal(t, []string{"cut short: it had not finished when the run was cut short: it was interrupted; not judged"}, cors.Messages)
	for _, c := range rep.Checks {
		if c.Result == ResultFail {
			assert.NotContains(t, strings.Join(c.Messages, " "), "canceled", c.Name)
		}
	}
}
