package main

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/rsmeta"
)

// post sends one JSON-RPC message to the MCP endpoint as a client would,
// with an optional bearer token and session id.
func post(t *testing.T, e *testEnv, token, sid, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`

// initialize opens a session for token and returns its Mcp-Session-Id.
func initialize(t *testing.T, e *testEnv, token string) string {
	t.Helper()
	resp, body := post(t, e, token, "", initializeBody)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("initialize: %d %q, session %q", resp.StatusCode, body, sid)
	}
	if resp, body := post(t, e, token, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %d %q", resp.StatusCode, body)
	}
	return sid
}

const listItemsBody = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_items","arguments":{}}}`

// TestSessionBinding checks that a session belongs to the principal
// (user:issuer#subject) that opened it: a refreshed token of the same user keeps
// using it, another user's token is refused by the SDK.
func TestSessionBinding(t *testing.T) {
	e := newTestEnv(t, nil)
	sid := initialize(t, e, e.token(scopeRead, map[string]any{"sub": "alice"}))

	// A new token for alice (another jti, another expiry) is the same user.
	refreshed := e.token(scopeRead, map[string]any{"sub": "alice", "exp": time.Now().Add(10 * time.Minute).Unix()})
	if resp, body := post(t, e, refreshed, sid, listItemsBody); resp.StatusCode != http.StatusOK || !strings.Contains(body, "BOLT-M6") {
		t.Errorf("alice, refreshed token: %d %q", resp.StatusCode, body)
	}
	// Bob holds a valid token with the right scope, but not alice's session.
	if resp, body := post(t, e, e.token(scopeRead, map[string]any{"sub": "bob"}), sid, listItemsBody); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "BOLT-M6") {
		t.Errorf("bob in alice's session: %d %q, want 403", resp.StatusCode, body)
	}
	// A client acting for itself whose id an attacker chose to be "alice"
	// (client_credentials: no sub, or sub equal to client_id) is another
	// principal than the user alice.
	for name, claims := range map[string]map[string]any{
		"no sub":            {"sub": nil, "client_id": "alice"},
		"sub is the client": {"sub": "alice", "client_id": "alice"},
	} {
		if resp, body := post(t, e, e.token(scopeRead, claims), sid, listItemsBody); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "BOLT-M6") {
			t.Errorf("client alice (%s) in user alice's session: %d %q, want 403", name, resp.StatusCode, body)
		}
	}
}

// TestStreamableHTTP checks that what an MCP client needs beside tool calls
// passes the rsguard middlewares: GET (the SSE stream), notifications,
// DELETE, and that no-token GET and DELETE still get the 401 challenge.
func TestStreamableHTTP(t *testing.T) {
	e := newTestEnv(t, nil)
	token := e.token(scopeRead, nil)
	sid := initialize(t, e, token)

	do := func(method, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.url, nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		resp := do(method, "")
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || challenge(t, resp.Header.Values("WWW-Authenticate")).ResourceMetadata != e.srv.MetadataURL {
			t.Errorf("%s without token: %d %q, want 401 with resource_metadata", method, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
		}
	}
	resp := do(http.MethodGet, token)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("GET: %d %s, want the SSE stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp.Body.Close()
	resp = do(http.MethodDelete, token)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Errorf("DELETE: %d, want 2xx", resp.StatusCode)
	}
	if resp, _ := post(t, e, token, sid, listItemsBody); resp.StatusCode != http.StatusNotFound {
		t.Errorf("call after DELETE: %d, want 404 (session gone)", resp.StatusCode)
	}
}

// TestUnknownTool checks that a tool missing from toolScopes cannot be
// called, whatever the token: a plain 403, no step-up challenge.
func TestUnknownTool(t *testing.T) {
	e := newTestEnv(t, nil)
	token := e.token(strings.Join(supportedScopes, " "), nil)
	sid := initialize(t, e, token)
	resp, body := post(t, e, token, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"drop_tables","arguments":{}}}`)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unknown tool: %d %q, want 403", resp.StatusCode, body)
	}
	for _, line := range resp.Header.Values("WWW-Authenticate") {
		if strings.Contains(line, "insufficient_scope") {
			t.Errorf("unknown tool got a step-up challenge %q: no token can call it", line)
		}
	}
}

// TestToolScopesComplete checks that toolScopes and the registered tools
// name the same tools, so the README's table and the enforcement agree.
func TestToolScopesComplete(t *testing.T) {
	e := newTestEnv(t, nil)
	cs, _, err := connect(t, e, e.token(strings.Join(supportedScopes, " "), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for name := range toolScopes() {
		want = append(want, name)
	}
	slices.Sort(want)
	if got := toolNames(t, cs); !slices.Equal(got, want) {
		t.Errorf("registered tools %q, toolScopes %q", got, want)
	}
	for name, s := range toolScopes() {
		for _, scope := range s {
			if !slices.Contains(supportedScopes, scope) {
				t.Errorf("tool %s needs %s, missing from scopes_supported", name, scope)
			}
		}
	}
}

// TestMetadata checks the RFC 9728 document: at the path-inserted well-known
// URL of the resource, with "resource" identical to the MCP endpoint URL (RFC
// 9728 §3.3, which clients such as the TypeScript SDK check).
func TestMetadata(t *testing.T) {
	e := newTestEnv(t, nil)
	wantURL := strings.Replace(e.url, "/mcp", "/.well-known/oauth-protected-resource/mcp", 1)
	if e.srv.MetadataURL != wantURL {
		t.Errorf("metadata URL %s, want %s", e.srv.MetadataURL, wantURL)
	}
	for _, u := range []string{wantURL, strings.TrimSuffix(wantURL, "/mcp")} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var m rsmeta.Metadata
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
		}
		if m.Resource != e.url || !slices.Equal(m.AuthorizationServers, []string{e.iss.URL}) ||
			!slices.Equal(m.ScopesSupported, supportedScopes) || m.ResourceName == "" {
			t.Errorf("GET %s: %+v", u, m)
		}
	}
}

// TestPrincipalPerRequest checks that tools/list is filtered by the token of the
// request itself, not by the one that opened the session: the SDK's handler
// context carries the initialize request's values, TokenInfo the current one.
func TestPrincipalPerRequest(t *testing.T) {
	e := newTestEnv(t, nil)
	const listBody = `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`
	tests := []struct {
		name          string
		open, request string // scopes of the initialize token and of the tools/list token
		want, notWant string
	}{
		{"step-up after initialize", scopeRead, scopeRead + " " + scopeWrite, `"name":"add_item"`, `"name":"delete_item"`},
		{"down-scoped after initialize", scopeAdmin, scopeRead, `"name":"list_items"`, `"name":"delete_item"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sid := initialize(t, e, e.token(tt.open, nil))
			resp, body := post(t, e, e.token(tt.request, nil), sid, listBody)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, tt.want) || strings.Contains(body, tt.notWant) {
				t.Errorf("tools/list: %d, want %s and not %s in %s", resp.StatusCode, tt.want, tt.notWant, body)
			}
		})
	}
}
