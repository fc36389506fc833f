package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
)

var decisionNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestAuditSlog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	fn := audit.Slog(logger)
	fn(context.Background(), audit.Decision{
		Time: decisionNow, Stage: audit.StageAuthorize, Reason: audit.ReasonInsufficientScope, Status: 403,
		Credential: audit.CredentialJWT, Subject: "https://as#alice", ClientID: "agent", Tenant: "acme",
		Method: "POST", Path: "/mcp", MCPSession: "s-1", MCPMethod: "tools/call", Tool: "set_price",
		Required: []string{"a", "b"}, Granted: []string{"a"}, Latency: 1500 * time.Microsecond,
	})
	fn(context.Background(), audit.Decision{Time: decisionNow, Stage: audit.StageAuthenticate, Allowed: true, Reason: audit.ReasonOK,
		Credential: audit.CredentialAPIKey, Subject: "ops", TokenID: "3kTMd9QvB2xA"})
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

	assert.Nil(t, audit.Slog(nil))
	quiet := audit.Slog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	buf.Reset()
	quiet(context.Background(), audit.Decision{})
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

func TestAuditCountAndMulti(t *testing.T) {
	var m countingMetrics
	var got []audit.Decision
	assert.Nil(t, audit.Count(nil))
	assert.Nil(t, audit.Multi(nil, nil))
	fn := audit.Multi(nil, audit.Count(&m), func(_ context.Context, d audit.Decision) { got = append(got, d) })
	fn(context.Background(), audit.Decision{Stage: audit.StageAuthenticate, Reason: audit.ReasonExpired, Status: 401, Latency: time.Millisecond})
	fn(context.Background(), audit.Decision{Stage: audit.StageAuthorize, Allowed: true, Reason: audit.ReasonOK})
	fn(context.Background(), audit.Decision{Stage: audit.StageAuthenticate, Reason: "tenant_42_said_no", Status: 401})
	assert.Equal(t, []string{"authenticate/deny/expired/1ms", "authorize/allow/ok/0s", "authenticate/deny/rejected/0s"}, m.obs,
		"a reason off the list is counted as rejected: label values stay bounded")
	assert.Len(t, got, 3)
	assert.Equal(t, audit.Reason("tenant_42_said_no"), got[2].Reason, "other sinks see the reason as it was")
}

func TestAuditReasons(t *testing.T) {
	all := audit.Reasons()
	all[0] = "changed"
	assert.Equal(t, audit.ReasonOK, audit.Reasons()[0], "audit.Reasons returns a copy")
	seen := map[audit.Reason]bool{}
	for _, r := range audit.Reasons() {
		assert.False(t, seen[r], "duplicate %q", r)
		seen[r] = true
		for _, c := range string(r) {
			assert.True(t, c == '_' || 'a' <= c && c <= 'z', "%q is snake_case", r)
		}
	}
	assert.Len(t, seen, 41)
}

func TestAuditReasonIsAnError(t *testing.T) {
	err := fmt.Errorf("%w: exp in the past", audit.ReasonExpired)
	assert.ErrorIs(t, err, audit.ReasonExpired)
	assert.NotErrorIs(t, err, audit.ReasonNotYetValid)
	var r audit.Reason
	require.ErrorAs(t, err, &r)
	assert.Equal(t, audit.ReasonExpired, r)
	assert.Equal(t, "expired: exp in the past", err.Error())
	assert.Equal(t, "expired", fmt.Sprint(audit.ReasonExpired), "a Reason prints as its code")
	assert.True(t, slices.Contains(audit.Reasons(), audit.ReasonUnknownTool))
	assert.True(t, slices.Contains(audit.Reasons(), audit.ReasonUnknownSession))
}
