package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/server"

	"github.com/rsguard/rsguard/rsmeta"
)

// The owner of the sessions in these tests, and her client.
const (
	ownerSub    = "alice"
	ownerClient = "notes-app"
)

// TestSessionHijack checks that an MCP session serves the principal that
// opened it, with any of its tokens, and nobody else: mcpguard answers 404
// before mcp-go sees the request.
func TestSessionHijack(t *testing.T) {
	e := newTestEnv(t)
	all := strings.Join(supportedScopes, " ")
	owner := map[string]any{"sub": ownerSub, "client_id": ownerClient}
	session := e.open(t, e.Token(all, owner))

	tests := []struct {
		name       string
		claims     map[string]any
		wantStatus int
	}{
		{"another user", map[string]any{"sub": "mallory", "client_id": ownerClient}, http.StatusNotFound},
		{"client named after the owner, no sub", map[string]any{"sub": nil, "client_id": ownerSub}, http.StatusNotFound},
		{"client named after the owner, sub = client_id", map[string]any{"sub": ownerSub, "client_id": ownerSub}, http.StatusNotFound},
		{"owner, renewed token", map[string]any{"sub": ownerSub, "client_id": ownerClient, "jti": "renewed"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := e.Token(all, tt.claims)
			a := e.call(t, tok, session, "whoami", nil)
			if a.status != tt.wantStatus {
				t.Fatalf("whoami in the owner's session: status %d, want %d", a.status, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusOK {
				if a := e.call(t, tok, session, "add_note", map[string]any{"text": "hijacked"}); a.status != http.StatusNotFound {
					t.Errorf("add_note in the owner's session: status %d, want 404", a.status)
				}
				return
			}
			if got := a.structured(t)["subject"]; got != "user:"+e.Issuer.URL+"#"+ownerSub {
				t.Errorf("whoami subject = %v, want the owner", got)
			}
		})
	}
	for _, n := range e.notes.list() {
		if n.Text == "hijacked" {
			t.Errorf("an intruder wrote a note: %+v", n)
		}
	}
}

// TestStepUpInSession checks that tool handlers see the principal of the
// current request, not that of the request that opened the session: after a
// step-up in the same session, and after stepping down again.
func TestStepUpInSession(t *testing.T) {
	e := newTestEnv(t)
	owner := map[string]any{"sub": ownerSub, "client_id": ownerClient}
	readTok := e.Token(scopeRead, owner)
	session := e.open(t, readTok)

	if got := toolNames(t, e.send(t, readTok, session, map[string]any{"id": 3, "method": "tools/list"})); slices.Contains(got, "add_note") || !slices.Contains(got, "list_notes") {
		t.Errorf("tools/list with %s: %v, want list_notes and whoami only", scopeRead, got)
	}

	// The read-only token: 403 insufficient_scope naming notes:write.
	a := e.call(t, readTok, session, "add_note", map[string]any{"text": "before"})
	if a.status != http.StatusForbidden {
		t.Fatalf("add_note with %s: status %d, want 403", scopeRead, a.status)
	}
	cs, err := rsmeta.ParseChallenges(a.header.Get("WWW-Authenticate"))
	if err != nil || len(cs) != 1 || cs[0].Error != "insufficient_scope" || !slices.Contains(cs[0].Scope, scopeWrite) {
		t.Fatalf("add_note challenge %q (%v): want insufficient_scope naming %s", a.header.Get("WWW-Authenticate"), err, scopeWrite)
	}

	// Step up: a new token for the same user with the scopes it held and
	// those the challenge named, used in the same session.
	upTok := e.Token(scopeRead+" "+strings.Join(cs[0].Scope, " "), owner)
	out := e.call(t, upTok, session, "add_note", map[string]any{"text": "after step-up"}).structured(t)
	if out["author"] != "user:"+e.Issuer.URL+"#"+ownerSub {
		t.Errorf("add_note after step-up: %v, want the owner as author", out)
	}
	who := e.call(t, upTok, session, "whoami", nil).structured(t)
	if got, want := toString(who["scopes"]), "["+scopeRead+" "+scopeWrite+"]"; got != want {
		t.Errorf("whoami after step-up: scopes %s, want %s", got, want)
	}
	if got := toolNames(t, e.send(t, upTok, session, map[string]any{"id": 4, "method": "tools/list"})); !slices.Contains(got, "add_note") {
		t.Errorf("tools/list after step-up: %v, want add_note", got)
	}

	// Step down: the read-only token again, in the same session; the
	// handler sees it, not the stronger token the session last saw.
	who = e.call(t, readTok, session, "whoami", nil).structured(t)
	if got := toString(who["scopes"]); got != "["+scopeRead+"]" {
		t.Errorf("whoami with the read-only token after step-up: scopes %s, want [%s]", got, scopeRead)
	}
}

// toString formats a decoded JSON value: a list of strings as [a b].
func toString(v any) string {
	list, ok := v.([]any)
	if !ok {
		return "<not a list>"
	}
	s := make([]string, len(list))
	for i, x := range list {
		s[i], _ = x.(string)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestToolScopesCoverTools checks that every tool the server registers has
// an entry in toolScopes, and the other way round.
func TestToolScopesCoverTools(t *testing.T) {
	s := server.NewMCPServer("test", "0")
	addTools(s, &notes{})
	var registered []string
	for name := range s.ListTools() {
		registered = append(registered, name)
	}
	var mapped []string
	for name := range toolScopes() {
		mapped = append(mapped, name)
	}
	slices.Sort(registered)
	slices.Sort(mapped)
	if !slices.Equal(registered, mapped) {
		t.Errorf("registered tools %v, toolScopes %v: want the same names", registered, mapped)
	}
}
