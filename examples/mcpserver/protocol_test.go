package main

import (
	"context"
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
	req, err := http.NewRequest(http.MethodPost, e.URL, strings.NewReader(body))
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

// inSession sends a request of method (POST: body) in session sid with
// token, as a client would, and returns the status and body. A GET (the SSE
// stream) gives up after a few seconds, so that a server that wrongly opens
// the stream fails the test instead of hanging it.
func inSession(t *testing.T, e *testEnv, method, token, sid, body string) (int, string) {
	t.Helper()
	if method == http.MethodPost {
		resp, got := post(t, e, token, sid, body)
		return resp.StatusCode, got
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 && method == http.MethodGet {
		return resp.StatusCode, "(stream)" // served: do not wait for its end
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSessionBinding checks that a session belongs to the principal
// (user:issuer#subject) that opened it (mcpguard.Sessions): nobody else's
// token — another user's, or a client's named after the user — is served in
// it, whatever the request, and each gets the 404 of an unknown session
// without the tool running; the owner stays served, with a renewed token
// too.
func TestSessionBinding(t *testing.T) {
	e := newTestEnv(t, nil)
	all := strings.Join(supportedScopes, " ")
	alice := e.Token(all, map[string]any{"sub": "alice"})
	sid := initialize(t, e, alice)
	const adjust = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"adjust_stock","arguments":{"sku":"BOLT-M6","delta":-1}}}`

	// What a session id never issued gets, from alice herself.
	unknown := map[string]string{}
	for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		status, body := inSession(t, e, m, alice, "never-issued-0123456789abcdef", adjust)
		if status != http.StatusNotFound {
			t.Fatalf("%s with an unknown session id: %d %q, want 404", m, status, body)
		}
		unknown[m] = body
	}

	intruders := []struct {
		name   string
		claims map[string]any
	}{
		{"another user", map[string]any{"sub": "bob", "client_id": "bobs-client"}},
		// A client acting for itself (client_credentials: no sub, or sub
		// equal to client_id) whose id an attacker chose to be "alice" is
		// another principal than the user alice.
		{"client named after the user, no sub", map[string]any{"sub": nil, "client_id": "alice"}},
		{"client named after the user, sub = client_id", map[string]any{"sub": "alice", "client_id": "alice"}},
	}
	for _, in := range intruders {
		for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
			t.Run(in.name+"/"+m, func(t *testing.T) {
				// Every scope: only the session binding stands in the way.
				tok := e.Token(all, in.claims)
				status, body := inSession(t, e, m, tok, sid, adjust)
				if status != http.StatusNotFound || body != unknown[m] {
					t.Errorf("%s in alice's session: %d %q, want 404 %q, as for an unknown session", m, status, body, unknown[m])
				}
				if it, err := e.inv.get("BOLT-M6"); err != nil || it.Quantity != 1200 || it.UpdatedBy != "" {
					t.Errorf("BOLT-M6 = %+v, %v: the tool ran for the intruder", it, err)
				}
				// Not even the intruder's DELETE ends alice's session.
				if resp, body := post(t, e, alice, sid, listItemsBody); resp.StatusCode != http.StatusOK || !strings.Contains(body, "BOLT-M6") {
					t.Errorf("alice after the intruder's %s: %d %q", m, resp.StatusCode, body)
				}
			})
		}
	}

	t.Run("expired, then renewed token", func(t *testing.T) {
		expired := e.Token(all, map[string]any{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()})
		if resp, body := post(t, e, expired, sid, listItemsBody); resp.StatusCode != http.StatusUnauthorized ||
			challenge(t, resp.Header.Values("WWW-Authenticate")).Error != rsmeta.ErrorInvalidToken {
			t.Errorf("alice, expired token: %d %q %q, want 401 invalid_token", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), body)
		}
		// A new token for alice (another jti, a later expiry) is the same
		// principal.
		renewed := e.Token(all, map[string]any{"sub": "alice", "exp": time.Now().Add(10 * time.Minute).Unix()})
		if resp, body := post(t, e, renewed, sid, adjust); resp.StatusCode != http.StatusOK || strings.Contains(body, `"isError":true`) {
			t.Fatalf("alice, renewed token: %d %q", resp.StatusCode, body)
		}
		if it, _ := e.inv.get("BOLT-M6"); it.Quantity != 1199 || it.UpdatedBy != "user:"+e.Issuer.URL+"#alice" {
			t.Errorf("BOLT-M6 after alice's call = %+v", it)
		}
	})
}

// TestStreamableHTTP checks that what an MCP client needs beside tool calls
// passes the rsguard middlewares: GET (the SSE stream), notifications,
// DELETE, and that no-token GET and DELETE still get the 401 challenge.
func TestStreamableHTTP(t *testing.T) {
	e := newTestEnv(t, nil)
	token := e.Token(scopeRead, nil)
	sid := initialize(t, e, token)

	do := func(method, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.URL, nil)
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
		if resp.StatusCode != http.StatusUnauthorized || challenge(t, resp.Header.Values("WWW-Authenticate")).ResourceMetadata != e.MetadataURL {
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
	token := e.Token(strings.Join(supportedScopes, " "), nil)
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
	cs, _, err := connect(t, e, e.Token(strings.Join(supportedScopes, " "), nil), nil)
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
	wantURL := strings.Replace(e.URL, "/mcp", "/.well-known/oauth-protected-resource/mcp", 1)
	if e.MetadataURL != wantURL {
		t.Errorf("metadata URL %s, want %s", e.MetadataURL, wantURL)
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
		if m.Resource != e.URL || !slices.Equal(m.AuthorizationServers, []string{e.Issuer.URL}) ||
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
			sid := initialize(t, e, e.Token(tt.open, nil))
			resp, body := post(t, e, e.Token(tt.request, nil), sid, listBody)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, tt.want) || strings.Contains(body, tt.notWant) {
				t.Errorf("tools/list: %d, want %s and not %s in %s", resp.StatusCode, tt.want, tt.notWant, body)
			}
		})
	}
}
