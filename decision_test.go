package rsguard_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

func TestNewDecisionBoundsRequestText(t *testing.T) {
	req := httptest.NewRequest("GET", "/"+strings.Repeat("é", 300), nil)
	req.Header["Mcp-Session-Id"] = []string{"bad id"}
	d := rsguard.NewDecision(req, audit.StageAuthenticate, nil)
	assert.LessOrEqual(t, len(d.Path), 256)
	assert.Equal(t, "/"+strings.Repeat("é", 127), d.Path, "cut on a character boundary")
	assert.Empty(t, d.MCPSession, "a session id outside visible ASCII is dropped")
	assert.Empty(t, d.Subject)

	req.Header["Mcp-Session-Id"] = []string{"s-1"}
	p := &rsguard.Principal{Subject: "user:https://as#alice", Credential: audit.CredentialJWT, Scopes: []string{"read"}}
	d = rsguard.NewDecision(req, audit.StageAuthorize, p)
	assert.Equal(t, "s-1", d.MCPSession)
	assert.Equal(t, p.Subject, d.Subject)
	assert.Equal(t, []string{"read"}, d.Granted)
	assert.Equal(t, audit.StageAuthorize, d.Stage)
}

func TestErrorMatchesItsReason(t *testing.T) {
	e := &rsguard.Error{Status: 401, Reason: audit.ReasonExpired}
	assert.ErrorIs(t, e, audit.ReasonExpired)
	assert.NotErrorIs(t, e, audit.ReasonRejected)
	assert.ErrorIs(t, &rsguard.Error{}, audit.ReasonRejected, "no reason is rejected")
	assert.Equal(t, "rsguard: rejected", (&rsguard.Error{}).Error())
	wrapped := &rsguard.Error{Reason: audit.ReasonRevoked, Err: audit.ReasonRevoked, Description: "revoked"}
	assert.Equal(t, "rsguard: revoked (revoked)", wrapped.Error())
}
