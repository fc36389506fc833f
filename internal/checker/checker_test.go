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
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

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
	assert.Contains(t, got["discovery"].Messages[0], "cannot be reached")
	// Nothing after the deadline ran: the checks are skipped, saying why.
	assert.Equal(t, ResultSkipped, got["attacks"].Result)
	assert.Contains(t, got["attacks"].Messages[0], "its time was up")
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
	var failed, cut int
	for _, c := range rep.Checks {
		if c.Result == ResultFail {
			failed++
		}
		if c.Result == ResultSkipped && len(c.Messages) == 1 && strings.Contains(c.Messages[0], "-max-requests") {
			cut++
		}
	}
	assert.Positive(t, failed)
	assert.Positive(t, cut, "the checks after the budget are skipped, saying why")
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
		assert.Contains(t, strings.Join(byName(rep)["challenge"].Messages, " "), "not on the resource's origin, so it was not fetched")
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
		rep := run(t, Config{Endpoint: endpoint, ClientID: "id", ClientSecret: "s3cr3t-value-0d9a"})
		assert.Equal(t, as.URL, rep.Issuer)
		assert.Empty(t, hidden.got(), "a server no metadata names was sent requests")
		for _, p := range as.got() {
			assert.Contains(t, []string{"GET /.well-known/oauth-authorization-server", "POST /token"}, p)
		}
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
	g := newGuard(http.DefaultTransport, context.Background(), 2, nil)
	client := &http.Client{Transport: g}
	_, err := client.Get(srv.URL)
	assert.ErrorIs(t, err, errRefused)
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
		src, err := newClientCredentials(context.Background(), srv.Client(), &conformance.ASMetadata{TokenEndpoint: srv.URL + "/token", TokenEndpointAuthMethods: methods},
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
		{"refused", "400", `{"error":"invalid_scope","error_description":"the client may not request scope x"}`, "(status 400, error invalid_scope: the client may not request scope x)", ""},
		{"description with the secret", "401", `{"error":"invalid_client","error_description":"bad secret ` + secret + `"}`, "(status 401, error invalid_client)", secret},
		{"body not JSON", "500", `<html>` + secret + `</html>`, "(status 500)", secret},
		{"odd error code", "400", `{"error":"bad\"code"}`, "(status 400)", `bad"code`},
		{"not bearer", "200", `{"access_token":"t0ken-value","token_type":"DPoP"}`, `token_type "DPoP", not Bearer`, "t0ken-value"},
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
		for _, te := range []string{"", "http://as.example.com/token", "/token"} {
			_, err := newClientCredentials(context.Background(), http.DefaultClient, &conformance.ASMetadata{TokenEndpoint: te}, id, secret, "https://r", s)
			assert.Error(t, err, te)
		}
		_, err := newClientCredentials(context.Background(), http.DefaultClient, &conformance.ASMetadata{TokenEndpoint: "https://as/token", TokenEndpointAuthMethods: []string{"private_key_jwt"}}, id, secret, "https://r", s)
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
	rep.finish(d, nil, 3, time.Now())
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
		{Endpoint: "https://mcp.example.com/mcp", Scopes: []string{"a b"}},
		{Endpoint: "https://mcp.example.com/mcp", ToolArguments: map[string]any{}},
		{Endpoint: "https://mcp.example.com/mcp", OtherResource: "relative"},
		{Endpoint: "https://mcp.example.com/mcp", Timeout: -1},
	} {
		_, err := Run(context.Background(), cfg)
		assert.ErrorIs(t, err, ErrConfig, "%+v", cfg)
	}
	rep, err := Run(context.Background(), Config{Endpoint: "http://mcp.example.com/mcp", Transport: refuseAll{t}})
	require.NoError(t, err)
	assert.False(t, rep.Passed)
	assert.Zero(t, rep.Requests)
	require.Len(t, rep.Checks, 1)
	assert.Contains(t, rep.Checks[0].Messages[0], "plain http on a host that is not loopback")
}

type refuseAll struct{ t *testing.T }

func (r refuseAll) RoundTrip(req *http.Request) (*http.Response, error) {
	r.t.Errorf("request sent to %s", req.URL)
	return nil, errors.New("refused")
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

// TestDiscoveryFallback: with no metadata at the path-inserted URL, the
// authorization servers come from the challenge's resource_metadata on the
// endpoint's origin (and the metadata check still fails).
func TestDiscoveryFallback(t *testing.T) {
	var as *spy
	as = newSpy(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": as.URL, "token_endpoint": as.URL + "/token"})
	})
	srv := httptest.NewUnstartedServer(nil)
	origin := "http://" + srv.Listener.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"resource": origin + "/mcp", "authorization_servers": []string{as.URL}})
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+origin+`/.well-known/oauth-protected-resource"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	rep := run(t, Config{Endpoint: origin + "/mcp"})
	assert.Equal(t, []string{as.URL}, rep.AuthorizationServers)
	assert.Equal(t, as.URL, rep.Issuer)
	got := byName(rep)
	assert.Equal(t, ResultFail, got["metadata"].Result)
	assert.Contains(t, strings.Join(got["challenge"].Messages, " "), "this resource: clients that follow the challenge find it")
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
	rep.finish(&discovery{name: "discovery"}, rec, 1, time.Now())
	close(release)
	<-done
	got := byName(rep)
	assert.Equal(t, ResultPass, got["first"].Result)
	for _, name := range []string{"stuck", "stuck/inner"} {
		assert.Equal(t, ResultFail, got[name].Result, name)
		assert.Contains(t, got[name].Messages, "it had not finished when the run was cut short")
	}
	assert.False(t, rep.Passed)
}
