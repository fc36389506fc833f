package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/rsguard/rsguard/examples/internal/devissuer"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// tokenRequests is an http.RoundTripper for the SDK's OAuth handler that
// records the forms sent to the token endpoint.
type tokenRequests struct {
	tokenURL string

	mu    sync.Mutex
	forms []url.Values
}

func (tr *tokenRequests) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.String() == tr.tokenURL && r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		form, _ := url.ParseQuery(string(b))
		tr.mu.Lock()
		tr.forms = append(tr.forms, form)
		tr.mu.Unlock()
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// scopesOf lists the scope parameter of each token request (not the whole
// form, which holds the client secret).
func scopesOf(forms []url.Values) []string {
	var out []string
	for _, f := range forms {
		out = append(out, f.Get("scope"))
	}
	return out
}

func (tr *tokenRequests) all() []url.Values {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.forms)
}

// sdkIssuerOptions are the issuer options the SDK's client_credentials
// handler needs: it refuses authorization server metadata without
// code_challenge_methods_supported (SDK v1.8.0), even though PKCE has no part
// in client_credentials, and validatetest's issuer, which has no
// authorization endpoint, does not advertise it.
func sdkIssuerOptions() *validatetest.Options {
	return &validatetest.Options{Metadata: map[string]any{"code_challenge_methods_supported": []string{"S256"}}}
}

// sdkOAuthClient connects to e with the Go SDK's own OAuth support: the
// headless client_credentials handler of package auth/extauth, which on a 401
// or 403 discovers the protected resource metadata (from resource_metadata),
// the authorization server metadata (RFC 8414), requests a token and retries.
func sdkOAuthClient(t *testing.T, e *testEnv) (*mcp.ClientSession, *bearer, *tokenRequests, error) {
	t.Helper()
	tr := &tokenRequests{tokenURL: e.Issuer.TokenURL}
	h, err := extauth.NewClientCredentialsHandler(&extauth.ClientCredentialsHandlerConfig{
		Credentials: &oauthex.ClientCredentials{
			ClientID:         devissuer.ClientID,
			ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: devissuer.ClientSecret},
			Issuer:           e.Issuer.URL,
		},
		HTTPClient: &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatal(err)
	}
	rt := &bearer{} // no token of its own: records the MCP responses
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "rsguard-oauth-test", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     e.URL,
		HTTPClient:   &http.Client{Transport: rt},
		OAuthHandler: h,
		MaxRetries:   -1,
	}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, rt, tr, err
}

// TestSDKOAuthClientCredentials drives the whole discovery flow with the Go
// SDK's headless OAuth handler (extauth.ClientCredentialsHandler): 401 →
// protected resource metadata → authorization server metadata → token →
// call; then 403 insufficient_scope → step-up token → the same call again, in
// the same session.
func TestSDKOAuthClientCredentials(t *testing.T) {
	// The handler sends no RFC 8707 resource parameter (see below), so the
	// issuer must give such tokens this server as audience, as the
	// development issuer of run does.
	e := newTestEnvAudience(t, sdkIssuerOptions(), true)
	cs, rt, tr, err := sdkOAuthClient(t, e)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if r, ok := rt.first(); !ok || r.status != http.StatusUnauthorized {
		t.Errorf("first request: %+v, want 401 (the flow starts from the challenge)", r)
	}
	forms := tr.all()
	if len(forms) != 1 || forms[0].Get("grant_type") != "client_credentials" || forms[0].Get("scope") != scopeRead {
		t.Fatalf("token requests %s, want one client_credentials request for the challenge's scope %s", scopesOf(forms), scopeRead)
	}
	sid := cs.ID()
	if got, want := toolNames(t, cs), []string{"get_item", "list_items", "whoami"}; !slices.Equal(got, want) {
		t.Errorf("tools/list = %q, want %q", got, want)
	}

	// Step-up: the 403 names inventory:write; the handler asks for the union.
	res, err := callTool(cs, "add_item", map[string]any{"sku": "SCREW-4", "name": "Screw", "quantity": 1})
	if err != nil || res.IsError {
		t.Fatalf("add_item after step-up: %v %+v", err, res)
	}
	wantInsufficientScope(t, e, rt, "add_item", scopeWrite)
	forms = tr.all()
	// The SDK builds the union from a map: compare the set, not the order.
	if len(forms) != 2 || !sameScopes(forms[1].Get("scope"), scopeRead+" "+scopeWrite) {
		t.Fatalf("token requests %s, want a second one for %q", scopesOf(forms), scopeRead+" "+scopeWrite)
	}
	if cs.ID() != sid {
		t.Errorf("session changed from %s to %s", sid, cs.ID())
	}
	// The new token is the same principal (client:issuer#client), so the session
	// bound to the first token accepts it.
	res, err = callTool(cs, "whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	var who whoamiOutput
	structured(t, res, &who)
	if who.UserID != "client:"+e.Issuer.URL+"#"+devissuer.ClientID || !sameScopes(strings.Join(who.Scopes, " "), scopeRead+" "+scopeWrite) {
		t.Errorf("whoami after step-up: %+v", who)
	}

	// What the SDK's handler does not do: send the resource indicator.
	for i, f := range forms {
		if f.Has("resource") {
			t.Errorf("token request %d carries resource=%q: extauth.ClientCredentialsHandler now sends RFC 8707 resource; update README.md and this test", i, f.Get("resource"))
		}
	}
}

// TestSDKOAuthWithoutDefaultAudience pins down the limit found above: with an
// authorization server that requires a resource indicator (RFC 8707, as the
// MCP authorization specification asks clients to send one), the SDK's
// client_credentials handler gets no token.
func TestSDKOAuthWithoutDefaultAudience(t *testing.T) {
	e := newTestEnvAudience(t, sdkIssuerOptions(), false)
	_, _, tr, err := sdkOAuthClient(t, e)
	if err == nil {
		t.Fatal("connected: extauth.ClientCredentialsHandler now sends RFC 8707 resource (or the issuer stopped requiring it); update README.md and these tests")
	}
	if !strings.Contains(err.Error(), "invalid_target") {
		t.Errorf("connect error %v, want the token endpoint's invalid_target", err)
	}
	// One per handshake attempt (server/discover, then initialize).
	forms := tr.all()
	if len(forms) == 0 {
		t.Fatal("no token request")
	}
	for i, f := range forms {
		if f.Has("resource") {
			t.Errorf("token request %d carries resource=%q", i, f.Get("resource"))
		}
	}
}

// sameScopes reports whether two space-delimited scope strings name the same
// set of scopes (RFC 6749 §3.3: the order carries no meaning).
func sameScopes(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
