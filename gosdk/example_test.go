package gosdk_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/gosdk"
)

const metadataURL = "https://rs.example/.well-known/oauth-protected-resource/mcp"

// fakeTokens is an rsguard.Authenticator for tests: a bearer token names its
// caller ("alice-read" is alice granted "read"), and an X-API-Key header
// "carol-key" is an API key, removed once accepted as package apikey does.
// Each call returns a new Principal, as the Authenticator contract requires.
type fakeTokens struct{}

func (fakeTokens) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	if r.Header.Get("X-API-Key") == "carol-key" {
		r.Header.Del("X-API-Key")
		return &rsguard.Principal{Subject: "apikey:owner:carol", Credential: audit.CredentialAPIKey, Scopes: []string{"read", "write"}}, nil
	}
	tok, err := rsguard.BearerToken(r)
	if err != nil {
		return nil, err
	}
	user, scope, ok := strings.Cut(tok, "-")
	grants := map[string][]string{"read": {"read"}, "write": {"read", "write"}}
	if !ok || (user != "alice" && user != "bob") || grants[scope] == nil {
		return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Reason: audit.ReasonRejected}
	}
	return &rsguard.Principal{
		Subject:    "user:https://as.example#" + user,
		Credential: audit.CredentialJWT,
		Issuer:     "https://as.example",
		Scopes:     append([]string(nil), grants[scope]...),
		Expiry:     time.Now().Add(time.Hour),
	}, nil
}

// bearer is an http.RoundTripper that sends "Authorization: Bearer" with the
// token that token returns, asked for each request, so that a test can change
// the token mid-session.
type bearer struct {
	token func() string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token())
	return http.DefaultTransport.RoundTrip(r)
}

// callTool connects to the MCP endpoint url with token, calls tool and
// returns its text, or the error.
func callTool(url, token, tool string) string {
	ctx := context.Background()
	client := mcp.NewClient(&mcp.Implementation{Name: "example-client", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             url,
		HTTPClient:           &http.Client{Transport: bearer{token: func() string { return token }}},
		DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		return err.Error()
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool})
	if err != nil {
		return err.Error()
	}
	return res.Content[0].(*mcp.TextContent).Text
}

func ExampleHandler() {
	server := mcp.NewServer(&mcp.Implementation{Name: "inventory", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		p, _ := gosdk.Principal(req) // the caller of this request, not of initialize
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: p.Subject}}}, nil, nil
	})
	guard, err := rsguard.New(rsguard.Config{Authenticator: fakeTokens{}, ResourceMetadata: metadataURL})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(guard.Middleware(gosdk.Handler(server, nil)))
	defer srv.Close()

	fmt.Println(callTool(srv.URL, "alice-read", "whoami"))
	// Output: user:https://as.example#alice
}
