package gosdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/gosdk"
	"github.com/rsguard/rsguard/scopes"
)

// newMCPServer returns an MCP server with the tools of the tests:
//
//   - whoami answers "<subject> write=<bool> ctx=<scopes>": the caller by
//     gosdk.Principal, whether scopes.Require(gosdk.Context(ctx, req),
//     "write") passes, and the scopes rsguard.FromContext(ctx) sees in the
//     handler's own context (in a stateful session, the initializer's);
//   - tamper changes everything of the caller it can reach: the Principal,
//     the TokenInfo's scopes and its Extra map;
//   - headers answers whether the request the SDK saw carried Authorization;
//   - authorization answers every Authorization value of that request.
func newMCPServer() *mcp.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1.0.0"}, nil)
	text := func(s string) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
	}
	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		p, ok := gosdk.Principal(req)
		if !ok {
			return text("no principal"), nil, nil
		}
		write := scopes.Require(gosdk.Context(ctx, req), "write") == nil
		var seen []string
		if raw, ok := rsguard.FromContext(ctx); ok {
			seen = raw.Scopes
		}
		return text(fmt.Sprintf("%s write=%t ctx=%v", p.Subject, write, seen)), nil, nil
	})
	mcp.AddTool(server, &mcp.Tool{Name: "tamper"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		p, _ := gosdk.Principal(req)
		p.Subject = "user:https://as.example#mallory"
		p.Scopes = append(p.Scopes[:0], "admin")
		ti := req.Extra.TokenInfo
		ti.UserID = "user:https://as.example#mallory"
		ti.Scopes = append(ti.Scopes[:0], "admin")
		clear(ti.Extra)
		return text("done"), nil, nil
	})
	mcp.AddTool(server, &mcp.Tool{Name: "headers"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		p, _ := gosdk.Principal(req)
		return text(fmt.Sprintf("%s authorization=%q", p.Subject, req.Extra.Header.Get("Authorization"))), nil, nil
	})
	mcp.AddTool(server, &mcp.Tool{Name: "authorization"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		return text(fmt.Sprintf("%q", req.Extra.Header.Values("Authorization"))), nil, nil
	})
	return server
}

// guarded serves h behind an rsguard.Guard over fakeTokens.
func guarded(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	guard, err := rsguard.New(rsguard.Config{Authenticator: fakeTokens{}, ResourceMetadata: metadataURL})
	require.NoError(t, err)
	srv := httptest.NewServer(guard.Middleware(h))
	t.Cleanup(srv.Close)
	return srv
}

// client is an MCP client session whose bearer token can change between
// calls.
type client struct {
	t     *testing.T
	token atomic.Value // string
	cs    *mcp.ClientSession
}

func connect(t *testing.T, url, token string) *client {
	t.Helper()
	c := &client{t: t}
	c.token.Store(token)
	mc := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	cs, err := mc.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:             url,
		HTTPClient:           &http.Client{Transport: bearer{token: func() string { return c.token.Load().(string) }}},
		DisableStandaloneSSE: true,
		MaxRetries:           -1,
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	c.cs = cs
	return c
}

// call calls tool with token and returns its text.
func (c *client) call(token, tool string) string {
	c.t.Helper()
	c.token.Store(token)
	res, err := c.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool})
	require.NoError(c.t, err)
	require.False(c.t, res.IsError, "tool error: %v", res.Content)
	require.Len(c.t, res.Content, 1)
	return res.Content[0].(*mcp.TextContent).Text
}

const alice = "user:https://as.example#alice"

func TestEachCallSeesItsOwnPrincipal(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stateless bool
	}{
		{name: "stateful"},
		{name: "stateless", stateless: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := guarded(t, gosdk.Handler(newMCPServer(), &mcp.StreamableHTTPOptions{Stateless: tc.stateless}))
			c := connect(t, srv.URL, "alice-read")
			if !tc.stateless {
				require.NotEmpty(t, c.cs.ID(), "a stateful session has an id")
			}

			// The handler's own context: in a stateful session the
			// initializer's principal (the bug gosdk fixes), in a
			// stateless one the current request's.
			readCtx, writeCtx := "[read]", "[read write]"
			if !tc.stateless {
				writeCtx = "[read]"
			}
			assert.Equal(t, alice+" write=false ctx="+readCtx, c.call("alice-read", "whoami"))
			// Step-up: the new token's scopes are seen at once.
			assert.Equal(t, alice+" write=true ctx="+writeCtx, c.call("alice-write", "whoami"))
			// And the old token's again after it.
			assert.Equal(t, alice+" write=false ctx="+readCtx, c.call("alice-read", "whoami"))
		})
	}
}

func TestPrincipalIsTheRequestsOwn(t *testing.T) {
	srv := guarded(t, gosdk.Handler(newMCPServer(), nil))
	c := connect(t, srv.URL, "alice-write")
	assert.Equal(t, "done", c.call("alice-write", "tamper"))
	assert.Equal(t, alice+" write=true ctx=[read write]", c.call("alice-write", "whoami"))
}

func TestAnotherUsersTokenOnTheSession(t *testing.T) {
	srv := guarded(t, gosdk.Handler(newMCPServer(), nil))
	c := connect(t, srv.URL, "alice-read")

	post := func(token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"whoami"}}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", c.cs.ID())
		req.Header.Set("Mcp-Protocol-Version", c.cs.InitializeResult().ProtocolVersion)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(body)
	}

	// The SDK binds the session to TokenInfo.UserID, the principal's
	// Subject: bob, whose token the Guard accepts, is refused.
	status, body := post("bob-write")
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, body, "session user mismatch")
	assert.NotContains(t, body, "bob-write")

	// alice herself, with another token, is served.
	status, body = post("alice-write")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, alice+" write=true")
}

func TestPrincipalOutsideHandler(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  mcp.Request
	}{
		{name: "nil request"},
		{name: "nil Extra", req: &mcp.CallToolRequest{}},
		{name: "nil TokenInfo", req: &mcp.CallToolRequest{Extra: &mcp.RequestExtra{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := gosdk.Principal(tc.req)
			assert.False(t, ok)
			assert.Nil(t, p)

			// Context fails closed: the principal already in ctx is not
			// taken for this request's.
			ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{Subject: alice, Scopes: []string{"write"}})
			_, ok = rsguard.FromContext(gosdk.Context(ctx, tc.req))
			assert.False(t, ok)
			assert.Error(t, scopes.Require(gosdk.Context(ctx, tc.req), "write"))
		})
	}
}

func TestNoGuard(t *testing.T) {
	server := newMCPServer()
	var reached atomic.Int32
	server.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			reached.Add(1)
			return next(ctx, method, req)
		}
	})
	srv := httptest.NewServer(gosdk.Handler(server, nil))
	t.Cleanup(srv.Close)

	for _, auth := range []string{"", "Bearer alice-write"} {
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`))
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())

		// A generic JSON-RPC error: neither the wiring nor the token.
		assert.Equal(t, http.StatusInternalServerError, res.StatusCode, "Authorization %q", auth)
		assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
		assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
		assert.JSONEq(t, `{"jsonrpc":"2.0","error":{"code":-32603,"message":"internal error"},"id":null}`, string(body))
	}
	assert.Zero(t, reached.Load(), "the MCP server was reached")
}

// apiKey is an http.RoundTripper that authenticates with an X-API-Key header
// and sends authorization as the Authorization header, if not empty.
type apiKey struct{ authorization string }

func (k apiKey) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-API-Key", "carol-key")
	if k.authorization != "" {
		r.Header.Set("Authorization", k.authorization)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestAPIKeyPrincipal(t *testing.T) {
	for _, tc := range []struct {
		stateless     bool
		authorization string
	}{{false, ""}, {true, ""}, {false, "Basic Y2Fyb2w6eA=="}, {true, "Basic Y2Fyb2w6eA=="}} {
		stateless := tc.stateless
		t.Run(fmt.Sprintf("stateless=%t,authorization=%q", stateless, tc.authorization), func(t *testing.T) {
			srv := guarded(t, gosdk.Handler(newMCPServer(), &mcp.StreamableHTTPOptions{Stateless: stateless}))
			mc := mcp.NewClient(&mcp.Implementation{Name: "key-client", Version: "1.0.0"}, nil)
			cs, err := mc.Connect(context.Background(), &mcp.StreamableClientTransport{
				Endpoint:             srv.URL,
				HTTPClient:           &http.Client{Transport: apiKey{tc.authorization}},
				DisableStandaloneSSE: true,
				MaxRetries:           -1,
			}, nil)
			require.NoError(t, err)
			defer cs.Close()

			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "headers"})
			require.NoError(t, err)
			require.Len(t, res.Content, 1)
			// Served, and the placeholder Authorization that let the SDK's
			// bearer middleware through never reaches the SDK's handler:
			// it sees the request's own header, or none.
			assert.Equal(t, fmt.Sprintf("apikey:owner:carol authorization=%q", tc.authorization), res.Content[0].(*mcp.TextContent).Text)
		})
	}
}

func TestConcurrentCallers(t *testing.T) {
	srv := guarded(t, gosdk.Handler(newMCPServer(), nil))
	tokens := []string{"alice-read", "alice-write", "bob-read", "bob-write"}
	clients := make([]*client, len(tokens))
	for i, tok := range tokens {
		clients[i] = connect(t, srv.URL, tok)
	}
	got := make([][]string, len(tokens))
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				res, err := clients[i].cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"})
				if err != nil || len(res.Content) != 1 {
					got[i] = append(got[i], fmt.Sprint("error: ", err))
					continue
				}
				text := res.Content[0].(*mcp.TextContent).Text
				got[i] = append(got[i], strings.SplitN(text, " ctx=", 2)[0])
			}
		}()
	}
	wg.Wait()
	for i, tok := range tokens {
		user, scope, _ := strings.Cut(tok, "-")
		want := fmt.Sprintf("user:https://as.example#%s write=%t", user, scope == "write")
		for _, g := range got[i] {
			assert.Equal(t, want, g, tok)
		}
	}
}

// expiringTokens is an rsguard.Authenticator whose principals carry an
// Expiry already past by the wall clock, as one with an injected clock or a
// generous leeway accepts: alice's expired a minute ago, bob's a day ago.
type expiringTokens struct{}

func (expiringTokens) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	tok, err := rsguard.BearerToken(r)
	if err != nil {
		return nil, err
	}
	past := map[string]time.Duration{"alice": time.Minute, "bob": 24 * time.Hour}
	if _, ok := past[tok]; !ok {
		return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Reason: audit.ReasonRejected}
	}
	return &rsguard.Principal{
		Subject:    "user:https://as.example#" + tok,
		Credential: audit.CredentialJWT,
		Scopes:     []string{"read"},
		Expiry:     time.Now().Add(-past[tok]),
	}, nil
}

// The Guard decides on expiry: a principal it accepted is served whatever
// its Expiry says by the wall clock, and the tool handler still sees that
// Expiry.
func TestGuardDecidesExpiry(t *testing.T) {
	server := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "expiry"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		p, _ := gosdk.Principal(req)
		text := fmt.Sprintf("%s expired=%t tokeninfo=%t", p.Subject, p.Expiry.Before(time.Now()), req.Extra.TokenInfo.Expiration.IsZero())
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
	})
	guard, err := rsguard.New(rsguard.Config{Authenticator: expiringTokens{}, ResourceMetadata: metadataURL})
	require.NoError(t, err)
	srv := httptest.NewServer(guard.Middleware(gosdk.Handler(server, nil)))
	t.Cleanup(srv.Close)

	for _, user := range []string{"alice", "bob"} {
		t.Run(user, func(t *testing.T) {
			c := connect(t, srv.URL, user)
			assert.Equal(t, "user:https://as.example#"+user+" expired=true tokeninfo=true", c.call(user, "expiry"))
		})
	}
}

// The SDK's handler, and so every tool handler, sees the request's own
// Authorization values, never the placeholder given to the SDK's bearer
// middleware; and the request Handler was given has them too once it
// returns.
func TestRequestsOwnAuthorization(t *testing.T) {
	handler := gosdk.Handler(newMCPServer(), &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	principal := &rsguard.Principal{Subject: alice, Credential: audit.CredentialJWT, Scopes: []string{"read"}}
	for _, tc := range []struct {
		name string
		vals []string
	}{
		{name: "none"},
		{name: "bearer", vals: []string{"Bearer alice-read"}},
		{name: "basic", vals: []string{"Basic Y2Fyb2w6eA=="}},
		{name: "two", vals: []string{"Basic Y2Fyb2w6eA==", "Bearer alice-read"}},
		{name: "the placeholder itself", vals: []string{"bearer <rsguard-gosdk:no-bearer-token>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := make(chan []string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// A Guard's stand-in: the principal, whatever the header.
				r = r.WithContext(rsguard.NewContext(r.Context(), principal))
				handler.ServeHTTP(w, r)
				after <- r.Header.Values("Authorization")
			}))
			t.Cleanup(srv.Close)
			req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"authorization","arguments":{}}}`))
			require.NoError(t, err)
			for _, v := range tc.vals {
				req.Header.Add("Authorization", v)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.NoError(t, res.Body.Close())
			require.Equal(t, http.StatusOK, res.StatusCode, "body %s", body)

			want := fmt.Sprintf("%q", tc.vals)
			if tc.vals == nil {
				want = "[]"
			}
			var msg struct {
				Result mcp.CallToolResult `json:"result"`
			}
			require.NoError(t, json.Unmarshal(body, &msg), "body %s", body)
			require.Len(t, msg.Result.Content, 1, "body %s", body)
			assert.Equal(t, want, msg.Result.Content[0].(*mcp.TextContent).Text)
			assert.Equal(t, tc.vals, <-after, "the request's Authorization after Handler")
		})
	}
}
