package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

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
		Endpoint:   e.url,
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
		!slices.Contains(c.Scope, scope) || c.ResourceMetadata != e.srv.MetadataURL {
		t.Fatalf("tools/call %s: challenge %q, want Bearer error=insufficient_scope scope∋%s resource_metadata=%s",
			tool, r.authn[0], scope, e.srv.MetadataURL)
	}
}

// TestSDKClientScopes is the end-to-end proof of per-tool scopes with the
// official Go MCP SDK on both sides: a tools/call is refused with 403 and the
// right challenge when the token lacks the tool's scope, and allowed with
// the right token.
func TestSDKClientScopes(t *testing.T) {
	e := newTestEnv(t, nil)

	t.Run("read token: initialize, list, read tool", func(t *testing.T) {
		cs, _, err := connect(t, e, e.token(scopeRead, nil), nil)
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
		cs, rt, err := connect(t, e, e.token(scopeRead, nil), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		_, err = callTool(cs, "add_item", map[string]any{"sku": "SCREW-4", "name": "Screw"})
		if err == nil {
			t.Fatal("add_item with inventory:read succeeded")
		}
		wantInsufficientScope(t, e, rt, "add_item", scopeWrite)
		if _, err := e.srv.Inventory.get("SCREW-4"); err == nil {
			t.Error("the refused tool ran anyway")
		}
	})

	t.Run("write token: the same call succeeds", func(t *testing.T) {
		cs, _, err := connect(t, e, e.token(scopeRead+" "+scopeWrite, nil), nil)
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
		if want := "user:" + e.iss.URL + "#" + "test-subject"; it.UpdatedBy != want {
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
		cs, rt, err := connect(t, e, e.token(scopeRead+" "+scopeWrite, nil), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		if _, err := callTool(cs, "delete_item", map[string]any{"sku": "WASHER-6"}); err == nil {
			t.Fatal("delete_item without inventory:admin succeeded")
		}
		wantInsufficientScope(t, e, rt, "delete_item", scopeAdmin)

		cs, _, err = connect(t, e, e.token(scopeAdmin, nil), nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		res, err := callTool(cs, "delete_item", map[string]any{"sku": "WASHER-6"})
		if err != nil || res.IsError {
			t.Fatalf("delete_item with inventory:admin: %v %+v", err, res)
		}
		if _, err := e.srv.Inventory.get("WASHER-6"); err == nil {
			t.Error("WASHER-6 still there")
		}
	})

	t.Run("token without scope: initialize, tools/list and whoami only", func(t *testing.T) {
		cs, rt, err := connect(t, e, e.token("", nil), nil)
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
		if want := "user:" + e.iss.URL + "#" + "test-subject"; who.UserID != want || who.ClientID != "test-client" {
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
		if c.ResourceMetadata != e.srv.MetadataURL || c.Error != "" || !slices.Equal(c.Scope, challengeScopes) {
			t.Errorf("challenge %q: want resource_metadata=%s, scope=%q and no error", r.authn[0], e.srv.MetadataURL, challengeScopes)
		}
	})

	t.Run("token for another resource: 401 invalid_token", func(t *testing.T) {
		_, rt, err := connect(t, e, e.token(scopeRead, map[string]any{"aud": "https://other.example/mcp"}), nil)
		if err == nil {
			t.Fatal("connect with another resource's token succeeded")
		}
		r, ok := rt.first()
		if !ok || r.status != http.StatusUnauthorized {
			t.Fatalf("first request: %+v, want 401", r)
		}
		c := challenge(t, r.authn)
		if c.Error != rsmeta.ErrorInvalidToken || c.ResourceMetadata != e.srv.MetadataURL {
			t.Errorf("challenge %q: want error=invalid_token and resource_metadata=%s", r.authn[0], e.srv.MetadataURL)
		}
	})
}
