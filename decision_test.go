package rsguard_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
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
	assert.Equal(t, check.SessionTag("s-1"), d.MCPSession, "a tag, never the id")
	assert.NotContains(t, d.MCPSession, "s-1")
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

// TestErrorClass: errors.As(err, &reason) finds the class of a refusal: the
// outermost *Error's reason, not a reason its cause wraps.
func TestErrorClass(t *testing.T) {
	inner := fmt.Errorf("%w: tools:admin", audit.ReasonInsufficientScope)
	e := fmt.Errorf("check: %w", &rsguard.Error{Reason: audit.ReasonRejected, Err: inner})
	var r audit.Reason
	require.ErrorAs(t, e, &r)
	assert.Equal(t, audit.ReasonRejected, r)
	assert.ErrorIs(t, e, audit.ReasonRejected)
	assert.ErrorIs(t, e, audit.ReasonInsufficientScope, "Is also matches a reason the cause wraps")

	r = ""
	require.ErrorAs(t, fmt.Errorf("x: %w", &rsguard.Error{}), &r)
	assert.Equal(t, audit.ReasonRejected, r, "an *Error without a reason is rejected")

	r = ""
	require.ErrorAs(t, inner, &r)
	assert.Equal(t, audit.ReasonInsufficientScope, r, "a bare reason is its own class")

	var target *rsguard.Error
	assert.False(t, errors.As(inner, &target))
}

func TestErrorTextHasOnePrefix(t *testing.T) {
	e := &rsguard.Error{Status: 500, Reason: audit.ReasonInternalError, Err: fmt.Errorf("%w: Store is required", rsguard.ErrInvalidConfig)}
	assert.Equal(t, "rsguard: invalid configuration: Store is required", e.Error())
}
