package scopes

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

// decisionLog collects decisions; safe for concurrent use.
type decisionLog struct {
	mu   sync.Mutex
	list []audit.Decision
}

func (l *decisionLog) record(_ context.Context, d audit.Decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, d)
}

func (l *decisionLog) take(t *testing.T) audit.Decision {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Len(t, l.list, 1, "one decision per request")
	d := l.list[0]
	l.list = nil
	return d
}

var decisionNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func withCaller(g *rsguard.Principal, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g != nil {
			r = r.WithContext(rsguard.NewContext(r.Context(), g))
		}
		next.ServeHTTP(w, r)
	})
}

func TestRouteDecisions(t *testing.T) {
	var log decisionLog
	rt, err := NewRoute(RouteConfig{
		Scopes:     []string{"inventory:read", "inventory:write"},
		OnDecision: log.record,
		Now:        func() time.Time { return decisionNow },
	})
	require.NoError(t, err)
	full := &rsguard.Principal{Scopes: []string{"inventory:read", "inventory:write"}, Subject: "https://as#alice", ClientID: "agent", Tenant: "acme", Credential: audit.CredentialJWT}
	partial := &rsguard.Principal{Scopes: []string{"inventory:read"}, Subject: "ops", ClientID: "cron", Credential: audit.CredentialAPIKey}
	for _, tc := range []struct {
		name   string
		grant  *rsguard.Principal
		status int
		want   audit.Decision
	}{
		{"allowed", full, 200, audit.Decision{Allowed: true, Reason: audit.ReasonOK, Credential: audit.CredentialJWT,
			Subject: "https://as#alice", ClientID: "agent", Tenant: "acme", Granted: full.Scopes}},
		{"insufficient scope", partial, 403, audit.Decision{Reason: audit.ReasonInsufficientScope, Status: 403, Credential: audit.CredentialAPIKey,
			Subject: "ops", ClientID: "cron", Granted: partial.Scopes}},
		{"no grant", nil, 401, audit.Decision{Reason: audit.ReasonNoPrincipal, Status: 401}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := withCaller(tc.grant, rt.Handler(http.HandlerFunc(ok)))
			req := httptest.NewRequest(http.MethodPut, "/items/7?secret=x", nil)
			req.Header.Set("Mcp-Session-Id", "s-1")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			require.Equal(t, tc.status, w.Code)
			d := log.take(t)
			assert.GreaterOrEqual(t, d.Latency, time.Duration(0))
			assert.WithinDuration(t, time.Now(), d.Time, time.Minute, "the real clock, not Config.Now")
			d.Latency, d.Time = 0, time.Time{}
			want := tc.want
			want.Stage, want.Method, want.Path, want.MCPSession = audit.StageAuthorize, "PUT", "/items/7", check.SessionTag("s-1")
			want.Required = []string{"inventory:read", "inventory:write"}
			assert.Equal(t, want, d)
		})
	}
}

func TestMCPDecisions(t *testing.T) {
	var log decisionLog
	cfg := testMCPConfig()
	cfg.OnDecision = log.record
	cfg.Methods["tools/list"] = nil
	m := mustMCP(t, cfg)
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}, Subject: "https://as#alice", Credential: audit.CredentialJWT}
	long := strings.Repeat("é", 200) // 400 bytes of a tool name nobody configured
	for _, tc := range []struct {
		name                  string
		grant                 *rsguard.Principal
		method, body          string
		status                int
		allowed               bool
		reason                audit.Reason
		mcpMethod, tool       string
		required, wantGranted []string
	}{
		{"tool allowed", reader, "POST", bodyGetInv, 200, true, audit.ReasonOK, "tools/call", "get_inventory", []string{"inventory:read"}, reader.Scopes},
		{"tool needs more scope", reader, "POST", bodySetPrice, 403, false, audit.ReasonInsufficientScope, "tools/call", "set_price", []string{"inventory:read", "inventory:write"}, reader.Scopes},
		{"unknown tool", reader, "POST", bodyUnknown, 403, false, audit.ReasonUnknownTool, "tools/call", "drop_tables", nil, reader.Scopes},
		{"unknown tool with a long name", reader, "POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + long + `"}}`,
			403, false, audit.ReasonUnknownTool, "tools/call", strings.Repeat("é", 256/2), nil, reader.Scopes},
		{"method allowed", reader, "POST", bodyToolsList, 200, true, audit.ReasonOK, "tools/list", "", nil, reader.Scopes},
		{"method needs scope", reader, "POST", bodyResource, 403, false, audit.ReasonInsufficientScope, "resources/read", "", []string{"resources:read"}, reader.Scopes},
		{"batch: the refused message is named", reader, "POST", "[" + bodyGetInv + "," + bodyResource + "]", 403, false, audit.ReasonInsufficientScope,
			"resources/read", "", []string{"inventory:read", "resources:read"}, reader.Scopes},
		{"batch allowed: the first message is named", reader, "POST", "[" + bodyInitialized + "," + bodyGetInv + "]", 200, true, audit.ReasonOK,
			"notifications/initialized", "", []string{"inventory:read"}, reader.Scopes},
		{"not JSON", reader, "POST", `{"jsonrpc":`, 400, false, audit.ReasonInvalidRequest, "", "", nil, reader.Scopes},
		{"GET stream", reader, "GET", "", 200, true, audit.ReasonOK, "", "", nil, reader.Scopes},
		{"PUT refused unread", reader, "PUT", bodySetPrice, 405, false, audit.ReasonMethodNotAllowed, "", "", nil, reader.Scopes},
		{"lowercase post refused unread", reader, "post", bodySetPrice, 405, false, audit.ReasonMethodNotAllowed, "", "", nil, reader.Scopes},
		{"no grant", nil, "POST", bodyGetInv, 401, false, audit.ReasonNoPrincipal, "", "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := withCaller(tc.grant, m.Handler(http.HandlerFunc(ok)))
			req := httptest.NewRequest(tc.method, "/mcp", strings.NewReader(tc.body))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			d := log.take(t)
			assert.Equal(t, audit.StageAuthorize, d.Stage)
			assert.Equal(t, tc.allowed, d.Allowed)
			assert.Equal(t, tc.reason, d.Reason)
			if !tc.allowed {
				assert.Equal(t, tc.status, d.Status)
			} else {
				assert.Zero(t, d.Status)
			}
			assert.Equal(t, tc.mcpMethod, d.MCPMethod)
			assert.Equal(t, tc.tool, d.Tool)
			assert.Equal(t, tc.required, d.Required)
			assert.Equal(t, tc.wantGranted, d.Granted)
			assert.Equal(t, "/mcp", d.Path)
		})
	}
}

func TestMCPStepUpDecision(t *testing.T) {
	var log decisionLog
	cfg := testMCPConfig()
	cfg.OnDecision = log.record
	cfg.ToolAuthentication = map[string]AuthRequirement{"set_price": {ACRValues: []string{"mfa"}}}
	m := mustMCP(t, cfg)
	g := &rsguard.Principal{Scopes: []string{"inventory:read", "inventory:write"}, ACR: "pwd"}
	w := httptest.NewRecorder()
	withCaller(g, m.Handler(http.HandlerFunc(ok))).ServeHTTP(w, httptest.NewRequest("POST", "/mcp", strings.NewReader(bodySetPrice)))
	require.Equal(t, http.StatusUnauthorized, w.Code)
	d := log.take(t)
	assert.Equal(t, audit.ReasonInsufficientUserAuthentication, d.Reason)
	assert.Equal(t, "set_price", d.Tool)
}

// The hook costs nothing when unset, and the middleware's answer is the same
// with and without it.
func TestDecisionHookDoesNotChangeAnswers(t *testing.T) {
	g := &rsguard.Principal{Scopes: []string{"inventory:read"}}
	for _, body := range []string{bodyGetInv, bodySetPrice, bodyUnknown, "[" + bodyGetInv + "]", "nope"} {
		plain := mustMCP(t, testMCPConfig())
		cfg := testMCPConfig()
		cfg.OnDecision = func(context.Context, audit.Decision) {}
		hooked := mustMCP(t, cfg)
		var got [2]*httptest.ResponseRecorder
		for i, m := range []*MCP{plain, hooked} {
			var seen string
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b bytes.Buffer
				_, _ = b.ReadFrom(r.Body)
				seen = b.String()
			})
			got[i] = httptest.NewRecorder()
			withCaller(g, m.Handler(next)).ServeHTTP(got[i], httptest.NewRequest("POST", "/mcp", strings.NewReader(body)))
			if got[i].Code == 200 {
				assert.Equal(t, body, seen, "the body is restored")
			}
		}
		assert.Equal(t, got[0].Code, got[1].Code, body)
		assert.Equal(t, got[0].Header(), got[1].Header(), body)
		assert.Equal(t, got[0].Body.String(), got[1].Body.String(), body)
	}
}

// TestDecisionSinkCannotChangeConfiguration: a sink that writes into a
// decision's Required changes nothing the next request is checked against.
func TestDecisionSinkCannotChangeConfiguration(t *testing.T) {
	vandal := func(_ context.Context, d audit.Decision) {
		for i := range d.Required {
			d.Required[i] = "nothing"
		}
	}
	reader := &rsguard.Principal{Scopes: []string{"inventory:read"}, Subject: "user:https://as#alice", Credential: audit.CredentialJWT}
	serve := func(h http.Handler, method, body string) int {
		req := httptest.NewRequest(method, "/mcp", strings.NewReader(body))
		req = req.WithContext(rsguard.NewContext(req.Context(), reader))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

	rt, err := NewRoute(RouteConfig{Scopes: []string{"inventory:write"}, OnDecision: vandal})
	require.NoError(t, err)
	for range 2 {
		assert.Equal(t, http.StatusForbidden, serve(rt.Handler(ok), http.MethodGet, ""), "the route still needs inventory:write")
	}

	cfg := testMCPConfig()
	cfg.OnDecision = vandal
	m := mustMCP(t, cfg)
	for range 2 {
		assert.Equal(t, http.StatusForbidden, serve(m.Handler(ok), http.MethodPost, bodySetPrice), "set_price still needs inventory:write")
		assert.Equal(t, http.StatusOK, serve(m.Handler(ok), http.MethodPost, bodyGetInv), "positive control")
	}
}
