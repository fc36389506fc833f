package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/rsguard/rsguard/rsmeta"
)

// connect opens an MCP session with the official Go SDK client over
// Streamable HTTP, sending token as a bearer token ("" for none).
func connect(t *testing.T, e *testEnv, token string, opts *mcp.ClientSessionOptions) (*mcp.ClientSession, *bearer, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt := &bearer{token: token}
	client := mcp.NewClient(&mcp.Implementation{Name: "rsguard-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   e.URL,
		HTTPClient: &http.Client{Transport: rt},
		MaxRetries: -1,
	}, opts)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, rt, err
}

func callTool(cs *mcp.ClientSession, name string, args map[string]any) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if args == nil {
		args = map[string]any{}
	}
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// structured decodes a tool result's structured content into v.
func structured(t *testing.T, res *mcp.CallToolResult, v any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool error: %+v", res.Content)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
}

// wantInsufficientScope checks that the (first) tools/call of tool was
// refused with HTTP 403 and the step-up challenge naming scope, before the
// SDK saw it.
func wantInsufficientScope(t *testing.T, e *testEnv, rt *bearer, tool, scope string) {
	t.Helper()
	calls := rt.matching(`"name":"` + tool + `"`)
	if len(calls) == 0 {
		t.Fatalf("no request for tool %s recorded", tool)
	}
	r := calls[0]
	if r.status != http.StatusForbidden {
		t.Fatalf("tools/call %s: HTTP %d, want 403", tool, r.status)
	}
	c := challenge(t, r.authn)
	if !strings.EqualFold(c.Scheme, "Bearer") || c.Error != rsmeta.ErrorInsufficientScope ||
		!slices.Contains(c.Scope, scope) || c.ResourceMetadata != e.MetadataURL {
		t.Fatalf("tools/call %s: challenge %q, want Bearer error=insufficient_scope scope∋%s resource_metadata=%s",
			tool, r.authn[0], scope, e.MetadataURL)
	}
}

// TestSDKClientScopes is the end-to-end proof of per-tool scopes with the
// official Go MCP SDK on both sides: a tools/call is refused with 403 and the
// right challenge when the token lacks the tool's scope, and allowed with
// the right token.
func TestSDKClientScopes(t *testing.T) {
	e := newTestEnv(t, nil)

	t.Run("read token: initialize, list, read tool", func(t *testing.T) {
		cs, _, err := connect(t, e, e.Token(scopeRead, nil), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		if cs.ID() == "" {
			t.Error("no Mcp-Session-Id: want a stateful session")
		}
		if got, want := toolNames(t, cs), []string{"get_item", "list_items", "whoami"}; !slices.Equal(got, want) {
			t.Errorf("tools/list = %q, want %q (filtered by scope)", got, want)
		}
		res, err := callTool(cs, "list_items", nil)
		if err != nil {
			t.Fatalf("list_items: %v", err)
		}
		var out itemsOutput
		structured(t, res, &out)
		if len(out.Items) != 3 {
			t.Errorf("list_items: %d items, want 3", len(out.Items))
		}
		res, err = callTool(cs, "get_item", map[string]any{"sku": "NUT-M6"})
		if err != nil {
			t.Fatalf("get_item: %v", err)
		}
		var it item
		structured(t, res, &it)
		if it.Quantity != 950 {
			t.Errorf("get_item NUT-M6: %+v", it)
		}
	})

	t.Run("read token: write tool refused with 403 insufficient_scope", func(t *testing.T) {
		cs, rt, err := connect(t, e, e.Token(scopeRead, nil), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		_, err = callTool(cs, "add_item", map[string]any{"sku": "SCREW-4", "name": "Screw"})
		if err == nil {
			t.Fatal("add_item with inventory:read succeeded")
		}
		wantInsufficientScope(t, e, rt, "add_item", scopeWrite)
		if _, err := e.inv.get("SCREW-4"); err == nil {
			t.Error("the refused tool ran anyway")
		}
	})

	t.Run("write token: the same call succeeds", func(t *testing.T) {
		cs, _, err := connect(t, e, e.Token(scopeRead+" "+scopeWrite, nil), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		if got, want := toolNames(t, cs), []string{"add_item", "adjust_stock", "get_item", "list_items", "whoami"}; !slices.Equal(got, want) {
			t.Errorf("tools/list = %q, want %q", got, want)
		}
		res, err := callTool(cs, "add_item", map[string]any{"sku": "SCREW-4", "name": "Screw", "quantity": 10})
		if err != nil {
			t.Fatalf("add_item: %v", err)
		}
		var it item
		structured(t, res, &it)
		if want := "user:" + e.Issuer.URL + "#" + "test-subject"; it.UpdatedBy != want {
			t.Errorf("add_item updated_by = %q, want the caller %q", it.UpdatedBy, want)
		}
		res, err = callTool(cs, "adjust_stock", map[string]any{"sku": "SCREW-4", "delta": -3})
		if err != nil {
			t.Fatalf("adjust_stock: %v", err)
		}
		structured(t, res, &it)
		if it.Quantity != 7 {
			t.Errorf("adjust_stock: quantity %d, want 7", it.Quantity)
		}
	})

	t.Run("admin tool needs inventory:admin", func(t *testing.T) {
		cs, rt, err := connect(t, e, e.Token(scopeRead+" "+scopeWrite, nil), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		if _, err := callTool(cs, "delete_item", map[string]any{"sku": "WASHER-6"}); err == nil {
			t.Fatal("delete_item without inventory:admin succeeded")
		}
		wantInsufficientScope(t, e, rt, "delete_item", scopeAdmin)

		cs, _, err = connect(t, e, e.Token(scopeAdmin, nil), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		res, err := callTool(cs, "delete_item", map[string]any{"sku": "WASHER-6"})
		if err != nil || res.IsError {
			t.Fatalf("delete_item with inventory:admin: %v %+v", err, res)
		}
		if _, err := e.inv.get("WASHER-6"); err == nil {
			t.Error("WASHER-6 still there")
		}
	})

	t.Run("token without scope: initialize, tools/list and whoami only", func(t *testing.T) {
		cs, rt, err := connect(t, e, e.Token("", nil), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		if got, want := toolNames(t, cs), []string{"whoami"}; !slices.Equal(got, want) {
			t.Errorf("tools/list = %q, want %q", got, want)
		}
		res, err := callTool(cs, "whoami", nil)
		if err != nil {
			t.Fatalf("whoami: %v", err)
		}
		var who whoamiOutput
		structured(t, res, &who)
		if want := "user:" + e.Issuer.URL + "#" + "test-subject"; who.UserID != want || who.ClientID != "test-client" {
			t.Errorf("whoami = %+v, want user %q client %q", who, want, "test-client")
		}
		if _, err := callTool(cs, "list_items", nil); err == nil {
			t.Fatal("list_items without scope succeeded")
		}
		wantInsufficientScope(t, e, rt, "list_items", scopeRead)
	})

	t.Run("no token: 401 with resource_metadata", func(t *testing.T) {
		_, rt, err := connect(t, e, "", nil)
		if err == nil {
			t.Fatal("connect without a token succeeded")
		}
		r, ok := rt.first()
		if !ok || r.status != http.StatusUnauthorized {
			t.Fatalf("first request: %+v, want 401", r)
		}
		c := challenge(t, r.authn)
		if c.ResourceMetadata != e.MetadataURL || c.Error != "" || !slices.Equal(c.Scope, challengeScopes) {
			t.Errorf("challenge %q: want resource_metadata=%s, scope=%q and no error", r.authn[0], e.MetadataURL, challengeScopes)
		}
	})

	t.Run("token for another resource: 401 invalid_token", func(t *testing.T) {
		_, rt, err := connect(t, e, e.Token(scopeRead, map[string]any{"aud": "https://other.example/mcp"}), nil)
		if err == nil {
			t.Fatal("connect with another resource's token succeeded")
		}
		r, ok := rt.first()
		if !ok || r.status != http.StatusUnauthorized {
			t.Fatalf("first request: %+v, want 401", r)
		}
		c := challenge(t, r.authn)
		if c.Error != rsmeta.ErrorInvalidToken || c.ResourceMetadata != e.MetadataURL {
			t.Errorf("challenge %q: want error=invalid_token and resource_metadata=%s", r.authn[0], e.MetadataURL)
		}
	})
}

// aliceTokens is an auth.OAuthHandler for the SDK client that mints alice's
// tokens at the test issuer, as an authorization server would hand them
// out: on a 403 insufficient_scope it gets a token with the scopes held and
// those the challenge names (step-up); on a 401 invalid_token (an expired
// token) a fresh one with the same scopes (renewal). The SDK then retries
// the request in the same session.
type aliceTokens struct {
	e *testEnv

	mu      sync.Mutex
	scopes  []string
	current string
	minted  int
	renewed time.Time // the expiry of the last token a 401 got
	errs    []string  // what Authorize could not handle, for the test to report
}

func newAliceTokens(e *testEnv, scopes ...string) *aliceTokens {
	a := &aliceTokens{e: e, scopes: scopes}
	a.current = a.mint(nil)
	return a
}

// mint returns a new token for alice with a's scopes and claims; a.mu held
// or a not shared yet.
func (a *aliceTokens) mint(claims map[string]any) string {
	c := map[string]any{"sub": "alice"}
	for k, v := range claims {
		c[k] = v
	}
	a.minted++
	return a.e.Token(strings.Join(a.scopes, " "), c)
}

// expire replaces the current token with one of alice's that has expired,
// as time would.
func (a *aliceTokens) expire() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.current = a.mint(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})
}

func (a *aliceTokens) TokenSource(context.Context) (oauth2.TokenSource, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: a.current, TokenType: "Bearer"}), nil
}

func (a *aliceTokens) Authorize(_ context.Context, _ *http.Request, resp *http.Response) error {
	resp.Body.Close()
	a.mu.Lock()
	defer a.mu.Unlock()
	lines := resp.Header.Values("WWW-Authenticate")
	var c rsmeta.Challenge
	if len(lines) == 1 {
		if cs, err := rsmeta.ParseChallenges(lines[0]); err == nil && len(cs) == 1 {
			c = cs[0]
		}
	}
	switch {
	case resp.StatusCode == http.StatusForbidden && c.Error == rsmeta.ErrorInsufficientScope:
		for _, s := range c.Scope {
			if !slices.Contains(a.scopes, s) {
				a.scopes = append(a.scopes, s)
			}
		}
	case resp.StatusCode == http.StatusUnauthorized && c.Error == rsmeta.ErrorInvalidToken:
		// Later than any token minted so far, to tell it apart.
		a.renewed = time.Now().Add(2 * time.Hour).Truncate(time.Second).UTC()
		a.current = a.mint(map[string]any{"exp": a.renewed.Unix()})
		return nil
	default:
		a.errs = append(a.errs, fmt.Sprintf("HTTP %d %q", resp.StatusCode, lines))
		return fmt.Errorf("cannot handle HTTP %d %q", resp.StatusCode, lines)
	}
	a.current = a.mint(nil)
	return nil
}

// TestSDKSessionStepUpAndRenewal follows one stateful session of alice
// with the SDK client, whose OAuth handler changes her token mid-session:
// a step-up (403 insufficient_scope, then a token with more scopes) and a
// renewal (her token expired: 401, then a new one) keep the session, and
// the tool handlers see the scopes of the token of each call (through
// gosdk.Principal and gosdk.Context), not those of the token that opened
// the session. Her DELETE (the client's Close) ends the session.
func TestSDKSessionStepUpAndRenewal(t *testing.T) {
	e := newTestEnv(t, nil)
	tokens := newAliceTokens(e, scopeRead)
	rt := &bearer{} // no token of its own: records the MCP responses
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "rsguard-stepup-test", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     e.URL,
		HTTPClient:   &http.Client{Transport: rt},
		OAuthHandler: tokens,
		MaxRetries:   -1,
	}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			cs.Close()
		}
	})
	sid := cs.ID()
	if sid == "" {
		t.Fatal("no Mcp-Session-Id: want a stateful session")
	}
	alice := "user:" + e.Issuer.URL + "#alice"
	whoami := func(when string) whoamiOutput {
		t.Helper()
		res, err := callTool(cs, "whoami", nil)
		if err != nil {
			t.Fatalf("whoami %s: %v", when, err)
		}
		var who whoamiOutput
		structured(t, res, &who)
		if who.UserID != alice {
			t.Errorf("whoami %s: user %q, want %q", when, who.UserID, alice)
		}
		return who
	}
	if who := whoami("at the start"); !sameScopes(strings.Join(who.Scopes, " "), scopeRead) {
		t.Errorf("whoami at the start: scopes %q, want %q", who.Scopes, scopeRead)
	}

	// Step-up: add_item needs inventory:write. The per-tool middleware
	// refuses the read token with 403; the handler gets read+write and the
	// SDK retries. The tool runs only if its own check (scopes.Require on
	// gosdk.Context) sees the new scopes: the session was opened with read.
	res, err := callTool(cs, "add_item", map[string]any{"sku": "SCREW-4", "name": "Screw", "quantity": 5})
	if err != nil || res.IsError {
		t.Fatalf("add_item after step-up: %v %+v", err, res)
	}
	wantInsufficientScope(t, e, rt, "add_item", scopeWrite)
	var it item
	structured(t, res, &it)
	if it.UpdatedBy != alice {
		t.Errorf("add_item updated_by = %q, want %q", it.UpdatedBy, alice)
	}
	if who := whoami("after the step-up"); !sameScopes(strings.Join(who.Scopes, " "), scopeRead+" "+scopeWrite) {
		t.Errorf("whoami after the step-up: scopes %q, want the new token's %q", who.Scopes, scopeRead+" "+scopeWrite)
	}
	if got := toolNames(t, cs); !slices.Contains(got, "add_item") || slices.Contains(got, "delete_item") {
		t.Errorf("tools/list after the step-up = %q, want the write tools and not delete_item", got)
	}

	// Renewal: alice's token expires; the Guard answers 401 invalid_token,
	// the handler gets a new token (same sub, new jti, later exp) and the
	// SDK retries in the same session.
	tokens.expire()
	res, err = callTool(cs, "adjust_stock", map[string]any{"sku": "SCREW-4", "delta": 2})
	if err != nil || res.IsError {
		t.Fatalf("adjust_stock after renewal: %v %+v", err, res)
	}
	structured(t, res, &it)
	if it.Quantity != 7 || it.UpdatedBy != alice {
		t.Errorf("adjust_stock after renewal: %+v", it)
	}
	if calls := rt.matching(`"name":"adjust_stock"`); len(calls) != 2 || calls[0].status != http.StatusUnauthorized || calls[1].status != http.StatusOK {
		t.Errorf("adjust_stock exchanges %+v, want 401 (expired) then 200", calls)
	}
	tokens.mu.Lock()
	if len(tokens.errs) > 0 || tokens.minted != 4 { // initial, step-up, expired, renewed
		t.Errorf("token handler: %d tokens minted, unhandled %q; want 4 and none", tokens.minted, tokens.errs)
	}
	current, renewed := tokens.current, tokens.renewed
	tokens.mu.Unlock()
	if after := whoami("after the renewal"); !after.ExpiresAt.Equal(renewed) || !sameScopes(strings.Join(after.Scopes, " "), scopeRead+" "+scopeWrite) {
		t.Errorf("whoami after the renewal: expires %v, scopes %q; want the renewed token's %v, %q", after.ExpiresAt, after.Scopes, renewed, scopeRead+" "+scopeWrite)
	}
	if cs.ID() != sid {
		t.Errorf("session changed from %s to %s", sid, cs.ID())
	}

	// Alice ends the session: the SDK client's Close sends DELETE; the id
	// is then unknown, to alice too.
	closed = true
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if dels := rt.method(http.MethodDelete); len(dels) != 1 || dels[0].status/100 != 2 {
		t.Errorf("DELETE exchanges %+v, want one 2xx", dels)
	}
	if resp, body := post(t, e, current, sid, listItemsBody); resp.StatusCode != http.StatusNotFound {
		t.Errorf("alice in her ended session: %d %q, want 404", resp.StatusCode, body)
	}
}
