package scopes

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decisionLog collects decisions; safe for concurrent use.
type decisionLog struct {
	mu   sync.Mutex
	list []Decision
}

func (l *decisionLog) record(_ context.Context, d Decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, d)
}

func (l *decisionLog) take(t *testing.T) Decision {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Len(t, l.list, 1, "one decision per request")
	d := l.list[0]
	l.list = nil
	return d
}

var decisionNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func withGrant(g *Grant, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g != nil {
			r = r.WithContext(NewContext(r.Context(), g))
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
	full := &Grant{Scopes: []string{"inventory:read", "inventory:write"}, Subject: "https://as#alice", ClientID: "agent", Tenant: "acme", Credential: CredentialJWT}
	partial := &Grant{Scopes: []string{"inventory:read"}, Subject: "ops", ClientID: "cron", Credential: CredentialAPIKey}
	for _, tc := range []struct {
		name   string
		grant  *Grant
		status int
		want   Decision
	}{
		{"allowed", full, 200, Decision{Allowed: true, Reason: ReasonOK, Credential: CredentialJWT,
			Subject: "https://as#alice", ClientID: "agent", Tenant: "acme", Granted: full.Scopes}},
		{"insufficient scope", partial, 403, Decision{Reason: ReasonInsufficientScope, Status: 403, Credential: CredentialAPIKey,
			Subject: "ops", ClientID: "cron", Granted: partial.Scopes}},
		{"no grant", nil, 401, Decision{Reason: ReasonNoGrant, Status: 401}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := withGrant(tc.grant, rt.Handler(http.HandlerFunc(ok)))
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
			want.Stage, want.Method, want.Path, want.MCPSession = StageAuthorize, "PUT", "/items/7", "s-1"
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
	reader := &Grant{Scopes: []string{"inventory:read"}, Subject: "https://as#alice", Credential: CredentialJWT}
	long := strings.Repeat("é", 200) // 400 bytes of a tool name nobody configured
	for _, tc := range []struct {
		name                  string
		grant                 *Grant
		method, body          string
		status                int
		allowed               bool
		reason                Reason
		mcpMethod, tool       string
		required, wantGranted []string
	}{
		{"tool allowed", reader, "POST", bodyGetInv, 200, true, ReasonOK, "tools/call", "get_inventory", []string{"inventory:read"}, reader.Scopes},
		{"tool needs more scope", reader, "POST", bodySetPrice, 403, false, ReasonInsufficientScope, "tools/call", "set_price", []string{"inventory:read", "inventory:write"}, reader.Scopes},
		{"unknown tool", reader, "POST", bodyUnknown, 403, false, ReasonUnknownTool, "tools/call", "drop_tables", nil, reader.Scopes},
		{"unknown tool with a long name", reader, "POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + long + `"}}`,
			403, false, ReasonUnknownTool, "tools/call", strings.Repeat("é", MaxDecisionText/2), nil, reader.Scopes},
		{"method allowed", reader, "POST", bodyToolsList, 200, true, ReasonOK, "tools/list", "", nil, reader.Scopes},
		{"method needs scope", reader, "POST", bodyResource, 403, false, ReasonInsufficientScope, "resources/read", "", []string{"resources:read"}, reader.Scopes},
		{"batch: the refused message is named", reader, "POST", "[" + bodyGetInv + "," + bodyResource + "]", 403, false, ReasonInsufficientScope,
			"resources/read", "", []string{"inventory:read", "resources:read"}, reader.Scopes},
		{"batch allowed: the first message is named", reader, "POST", "[" + bodyInitialized + "," + bodyGetInv + "]", 200, true, ReasonOK,
			"notifications/initialized", "", []string{"inventory:read"}, reader.Scopes},
		{"not JSON", reader, "POST", `{"jsonrpc":`, 400, false, ReasonInvalidRequest, "", "", nil, reader.Scopes},
		{"GET stream", reader, "GET", "", 200, true, ReasonOK, "", "", nil, reader.Scopes},
		{"PUT refused unread", reader, "PUT", bodySetPrice, 405, false, ReasonMethodNotAllowed, "", "", nil, reader.Scopes},
		{"lowercase post refused unread", reader, "post", bodySetPrice, 405, false, ReasonMethodNotAllowed, "", "", nil, reader.Scopes},
		{"no grant", nil, "POST", bodyGetInv, 401, false, ReasonNoGrant, "", "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := withGrant(tc.grant, m.Handler(http.HandlerFunc(ok)))
			req := httptest.NewRequest(tc.method, "/mcp", strings.NewReader(tc.body))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			d := log.take(t)
			assert.Equal(t, StageAuthorize, d.Stage)
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
	g := &Grant{Scopes: []string{"inventory:read", "inventory:write"}, ACR: "pwd"}
	w := httptest.NewRecorder()
	withGrant(g, m.Handler(http.HandlerFunc(ok))).ServeHTTP(w, httptest.NewRequest("POST", "/mcp", strings.NewReader(bodySetPrice)))
	require.Equal(t, http.StatusUnauthorized, w.Code)
	d := log.take(t)
	assert.Equal(t, ReasonInsufficientUserAuthentication, d.Reason)
	assert.Equal(t, "set_price", d.Tool)
}

// The hook costs nothing when unset, and the middleware's answer is the same
// with and without it.
func TestDecisionHookDoesNotChangeAnswers(t *testing.T) {
	g := &Grant{Scopes: []string{"inventory:read"}}
	for _, body := range []string{bodyGetInv, bodySetPrice, bodyUnknown, "[" + bodyGetInv + "]", "nope"} {
		plain := mustMCP(t, testMCPConfig())
		cfg := testMCPConfig()
		cfg.OnDecision = func(context.Context, Decision) {}
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
			withGrant(g, m.Handler(next)).ServeHTTP(got[i], httptest.NewRequest("POST", "/mcp", strings.NewReader(body)))
			if got[i].Code == 200 {
				assert.Equal(t, body, seen, "the body is restored")
			}
		}
		assert.Equal(t, got[0].Code, got[1].Code, body)
		assert.Equal(t, got[0].Header(), got[1].Header(), body)
		assert.Equal(t, got[0].Body.String(), got[1].Body.String(), body)
	}
}

func TestSlogDecisions(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	fn := SlogDecisions(logger)
	fn(context.Background(), Decision{
		Time: decisionNow, Stage: StageAuthorize, Reason: ReasonInsufficientScope, Status: 403,
		Credential: CredentialJWT, Subject: "https://as#alice", ClientID: "agent", Tenant: "acme",
		Method: "POST", Path: "/mcp", MCPSession: "s-1", MCPMethod: "tools/call", Tool: "set_price",
		Required: []string{"a", "b"}, Granted: []string{"a"}, Latency: 1500 * time.Microsecond,
	})
	fn(context.Background(), Decision{Time: decisionNow, Stage: StageAuthenticate, Allowed: true, Reason: ReasonOK,
		Credential: CredentialAPIKey, Subject: "ops", TokenID: "3kTMd9QvB2xA"})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var first, second map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &second))
	assert.Equal(t, map[string]any{
		"time": "2026-11-23T12:00:00Z", "level": "INFO", "msg": "rsguard decision",
		"stage": "authorize", "outcome": "deny", "reason": "insufficient_scope", "status": 403.0,
		"credential": "jwt", "subject": "https://as#alice", "client_id": "agent", "tenant": "acme",
		"method": "POST", "path": "/mcp", "mcp_session": "s-1", "mcp_method": "tools/call", "tool": "set_price",
		"required": "a b", "granted": "a", "latency": 1.5e6,
	}, first)
	assert.Equal(t, map[string]any{
		"time": "2026-11-23T12:00:00Z", "level": "INFO", "msg": "rsguard decision",
		"stage": "authenticate", "outcome": "allow", "reason": "ok",
		"credential": "apikey", "subject": "ops", "token_id": "3kTMd9QvB2xA", "latency": 0.0,
	}, second)

	assert.Nil(t, SlogDecisions(nil))
	quiet := SlogDecisions(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	buf.Reset()
	quiet(context.Background(), Decision{})
	assert.Empty(t, buf.String(), "a disabled level writes nothing")
}

type countingMetrics struct {
	mu  sync.Mutex
	obs []string
}

func (m *countingMetrics) ObserveDecision(stage, outcome, reason string, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.obs = append(m.obs, stage+"/"+outcome+"/"+reason+"/"+latency.String())
}

func TestMetricsAndMultiDecisions(t *testing.T) {
	var m countingMetrics
	var log decisionLog
	assert.Nil(t, MetricsDecisions(nil))
	assert.Nil(t, MultiDecisions(nil, nil))
	fn := MultiDecisions(nil, MetricsDecisions(&m), log.record)
	fn(context.Background(), Decision{Stage: StageAuthenticate, Reason: ReasonExpired, Status: 401, Latency: time.Millisecond})
	fn(context.Background(), Decision{Stage: StageAuthorize, Allowed: true, Reason: ReasonOK})
	assert.Equal(t, []string{"authenticate/deny/expired/1ms", "authorize/allow/ok/0s"}, m.obs)
	assert.Len(t, log.list, 2)
}

func TestReasons(t *testing.T) {
	all := Reasons()
	all[0] = "changed"
	assert.Equal(t, ReasonOK, Reasons()[0], "Reasons returns a copy")
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		assert.False(t, seen[r], "duplicate %q", r)
		seen[r] = true
		for _, c := range string(r) {
			assert.True(t, c == '_' || 'a' <= c && c <= 'z', "%q is snake_case", r)
		}
	}
	assert.Len(t, seen, 32)
}

func TestDecisionRequestText(t *testing.T) {
	req := httptest.NewRequest("GET", "/"+strings.Repeat("a", 300), nil)
	req.Header["Mcp-Session-Id"] = []string{"bad id"}
	var d Decision
	d.SetRequest(req)
	assert.Len(t, d.Path, MaxDecisionText)
	assert.Empty(t, d.MCPSession, "a session id outside visible ASCII is dropped")
	assert.Equal(t, "ab\uFFFD", clip("ab\xff"))
	assert.Equal(t, strings.Repeat("é", 128), clip(strings.Repeat("é", 129)))
	cut := clip("a" + strings.Repeat("é", 200))
	assert.Equal(t, "a"+strings.Repeat("é", 127), cut, "cut on a rune boundary")
	assert.True(t, slices.Contains(Reasons(), ReasonUnknownTool))
}

// TestDecisionSinkCannotChangeConfiguration: a sink that writes into a
// decision's Required changes nothing the next request is checked against.
func TestDecisionSinkCannotChangeConfiguration(t *testing.T) {
	vandal := func(_ context.Context, d Decision) {
		for i := range d.Required {
			d.Required[i] = "nothing"
		}
	}
	reader := &Grant{Scopes: []string{"inventory:read"}, Subject: "user:https://as#alice", Credential: CredentialJWT}
	serve := func(h http.Handler, method, body string) int {
		req := httptest.NewRequest(method, "/mcp", strings.NewReader(body))
		req = req.WithContext(NewContext(req.Context(), reader))
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
