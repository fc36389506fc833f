package mcpcheck_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// sdkClaims are the claims the Go SDK server's verifier reads.
type sdkClaims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// newGoSDKServer serves, on 127.0.0.1, an MCP server on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) protected the way its
// documentation shows, with no options: mcp.NewStreamableHTTPHandler behind
// auth.RequireBearerToken(verifier, nil), the verifier a golang-jwt parser
// with every check it offers (algorithms, issuer, audience, expiry) and
// keyfunc for the issuer's JWK Set, returning errors that wrap
// auth.ErrInvalidToken as the SDK asks. Nothing else: no protected resource
// metadata. It returns the MCP endpoint.
func newGoSDKServer(t *testing.T, iss *validatetest.Issuer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String() + "/mcp"

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{iss.JWKSURL})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"ES256"}),
		jwt.WithIssuer(iss.URL),
		jwt.WithAudience(endpoint),
		jwt.WithExpirationRequired(),
	)
	verifier := func(_ context.Context, raw string, _ *http.Request) (*auth.TokenInfo, error) {
		var c sdkClaims
		if _, err := parser.ParseWithClaims(raw, &c, kf.Keyfunc); err != nil {
			return nil, errors.Join(auth.ErrInvalidToken, err)
		}
		return &auth.TokenInfo{Scopes: strings.Fields(c.Scope), Expiration: c.ExpiresAt.Time, UserID: c.Subject}, nil
	}

	server := mcp.NewServer(&mcp.Implementation{Name: "go-sdk-no-options", Version: "1.0.0"}, nil)
	type echoArgs struct {
		Text string `json:"text"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Echoes text."}, func(_ context.Context, _ *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", auth.RequireBearerToken(verifier, nil)(
		mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return endpoint
}

// TestGoSDKWithoutOptions runs the command against the official Go SDK's
// auth wiring with no options. It must fail, and say why: a 401 with no
// WWW-Authenticate at all (so no resource_metadata, no scope and no error
// code) to every refusal, and no metadata, so no client can find the
// authorization server.
func TestGoSDKWithoutOptions(t *testing.T) {
	t.Parallel()
	iss := validatetest.NewIssuer(t, &validatetest.Options{
		PlainHTTP:  true,
		Algorithms: []string{"ES256"},
		Clients:    []validatetest.Client{{ID: "sdk-client", Secret: "sdk-client-secret-9d2e", Scopes: []string{"echo"}}},
	})
	endpoint := newGoSDKServer(t, iss)

	// What the server does, seen directly: the command's report must say
	// the same.
	metadata := strings.TrimSuffix(endpoint, "/mcp") + "/.well-known/oauth-protected-resource/mcp"
	for _, tc := range []struct {
		name, method, url, token string
		status                   int
		body                     string
	}{
		{"no token", http.MethodPost, endpoint, "", http.StatusUnauthorized, "no bearer token"},
		{"garbage", http.MethodPost, endpoint, "not-a-jwt", http.StatusUnauthorized, "invalid token"},
		{"another audience", http.MethodPost, endpoint, iss.Token(map[string]any{"aud": "http://127.0.0.1:9/other"}), http.StatusUnauthorized, "invalid token"},
		{"valid token", http.MethodPost, endpoint, iss.Token(map[string]any{"aud": endpoint}), http.StatusOK, `"serverInfo"`},
		{"metadata", http.MethodGet, metadata, "", http.StatusNotFound, "404 page not found"},
	} {
		status, header, body := send(t, tc.method, tc.url, tc.token)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: status %d, body %q; want %d with %q", tc.name, status, body, tc.status, tc.body)
		}
		if status == http.StatusUnauthorized && header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: WWW-Authenticate %q; with no options the SDK sends none", tc.name, header.Get("WWW-Authenticate"))
		}
	}

	t.Run("black-box", func(t *testing.T) {
		t.Parallel()
		r := mcpcheck(t, nil, endpoint)
		r.want(t, "discovery", pass)
		r.want(t, "metadata", fail, "status 404", "RFC 9728")
		r.want(t, "authorization servers", skipped, "the metadata cannot be fetched")
		r.want(t, "cors", fail, "no Access-Control-Allow-Origin", "Access-Control-Expose-Headers: WWW-Authenticate")
		r.want(t, "challenge", fail, "401 without WWW-Authenticate", "resource_metadata")
		// Every attack the run could make was refused, but with a bare
		// 401: no challenge, so no error="invalid_token" either.
		failed := []string{"metadata", "cors", "challenge"}
		for _, c := range r.report.Checks {
			if !strings.HasPrefix(c.Name, "attacks/") || len(r.below(c.Name)) > 0 || c.Result == notCheckable || c.Result == skipped {
				continue
			}
			failed = append(failed, c.Name)
			r.want(t, c.Name, fail, "status 401 without WWW-Authenticate")
		}
		if len(failed) < 3+15 {
			t.Errorf("only %d attacks made: %q", len(failed)-3, failed[3:])
		}
		r.wantFailed(t, failed...)
		for _, name := range []string{"attacks/algorithm/alg none", "attacks/malformed/not a JWT", "attacks/request/no Authorization header", "attacks/request/spoofed Host header"} {
			r.want(t, name, fail)
		}
		// No metadata, so no authorization server and no key: the forged
		// tokens that use its key cannot be made.
		r.want(t, "attacks/algorithm/HS256 keyed with the public key PEM", notCheckable, "the authorization server's public key")
		for _, name := range []string{"accept", "session", "attacks/claims/expired", "attacks/request/token in the query string"} {
			r.want(t, name, notCheckable, notCheckableWhy)
		}
		if rep := r.report; rep.Resource != endpoint || len(rep.AuthorizationServers) != 0 || rep.Issuer != "" || rep.Credentials {
			t.Errorf("resource %q, authorization_servers %q, issuer %q, credentials %v", rep.Resource, rep.AuthorizationServers, rep.Issuer, rep.Credentials)
		}
		r.noSecrets(t)
	})
	t.Run("credentials", func(t *testing.T) {
		t.Parallel()
		env := []string{"MCPCHECK_ISSUER=" + iss.URL, "MCPCHECK_CLIENT_ID=sdk-client", "MCPCHECK_CLIENT_SECRET=sdk-client-secret-9d2e"}
		r := mcpcheck(t, env, "-tool", "echo", endpoint)
		// Credentials are no use: no metadata names the authorization
		// server, so no token is asked for.
		r.want(t, "discovery", fail, "does not name the issuer "+iss.URL+" (-issuer)")
		r.want(t, "accept", notCheckable, notCheckableWhy)
		if r.report.Credentials {
			t.Error("credentials true: no token can have been issued")
		}
		if n := iss.Requests(iss.TokenURL); n != 0 {
			t.Errorf("%d requests at the token endpoint", n)
		}
		r.noSecrets(t, "sdk-client-secret-9d2e")
	})
}

// send sends an MCP initialize (POST) or a GET to url, with the token as a
// bearer token if not empty, and returns the answer.
func send(t *testing.T, method, url, token string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
