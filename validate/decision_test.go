package validate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// decisions collects the decisions of a hook.
type decisions struct {
	mu   sync.Mutex
	list []scopes.Decision
}

func (d *decisions) record(_ context.Context, x scopes.Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, x)
}

func (d *decisions) take(t *testing.T) scopes.Decision {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Len(t, d.list, 1, "one decision per request")
	x := d.list[0]
	d.list = nil
	return x
}

// byName is a revocation store that revokes the subject "revoked" and fails
// for the subject "store-down".
type byName struct{}

func (byName) Revoked(_ context.Context, c *validate.Claims) (bool, error) {
	switch c.Subject {
	case "store-down":
		return false, errors.New("store unreachable")
	case "revoked":
		return true, nil
	}
	return false, nil
}

// The audit event of the bearer middleware, field by field, for an allowed
// request and every reason for refusing one.
func TestMiddlewareDecisions(t *testing.T) {
	is := newIssuer(t, nil)
	var log decisions
	var logs bytes.Buffer
	v := newValidator(t, is, func(c *validate.Config) {
		c.TenantClaim = "tid"
		c.Revocations = byName{}
		c.Check = func(_ context.Context, c *validate.Claims) error {
			if c.Subject == "rejected" {
				return errors.New("tenant suspended")
			}
			return nil
		}
		c.OnDecision = scopes.MultiDecisions(log.record, scopes.SlogDecisions(slog.New(slog.NewJSONHandler(&logs, nil))))
	})
	good := func(sub string) map[string]any {
		return map[string]any{"sub": sub, "jti": "jti-" + sub, "tid": "acme", "scope": "tools:read tools:write"}
	}
	tampered := is.Token(good("alice"))
	tampered = tampered[:len(tampered)-4] + "AAAA"
	// identity is what a verified token tells: set only when the token was
	// verified before being refused.
	identity := func(sub string) scopes.Decision {
		return scopes.Decision{Credential: scopes.CredentialJWT, Issuer: is.URL(), Subject: "user:" + is.URL() + "#" + sub,
			ClientID: validatetest.DefaultClientID, Tenant: "acme", TokenID: "jti-" + sub, Granted: []string{"tools:read", "tools:write"}}
	}
	jwt := scopes.Decision{Credential: scopes.CredentialJWT}
	for _, tc := range []struct {
		name          string
		authorization string
		reason        scopes.Reason
		status        int
		who           scopes.Decision
	}{
		{"allowed", "Bearer " + is.Token(good("alice")), scopes.ReasonOK, 0, identity("alice")},
		{"no token", "", scopes.ReasonNoCredential, 401, scopes.Decision{}},
		{"another scheme", "Basic dXNlcjpwYXNz", scopes.ReasonNoCredential, 401, scopes.Decision{}},
		{"malformed header", "Bearer a b", scopes.ReasonInvalidRequest, 400, jwt},
		{"malformed token", "Bearer abc", scopes.ReasonMalformed, 401, jwt},
		{"alg none", "Bearer " + is.TokenWith(validatetest.TokenOptions{Alg: "none"}, good("alice")), scopes.ReasonBadAlgorithm, 401, jwt},
		{"typ dpop+jwt", "Bearer " + is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"typ": "dpop+jwt"}}, good("alice")), scopes.ReasonBadTokenType, 401, jwt},
		{"crit", "Bearer " + is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"crit": []string{"x"}, "x": 1}}, good("alice")), scopes.ReasonCriticalHeader, 401, jwt},
		{"unknown kid", "Bearer " + is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "nope"}}, good("alice")), scopes.ReasonUnknownKey, 401, jwt},
		{"bad signature", "Bearer " + tampered, scopes.ReasonBadSignature, 401, jwt},
		{"wrong issuer", "Bearer " + is.Token(map[string]any{"iss": "https://evil.example"}), scopes.ReasonBadIssuer, 401, jwt},
		{"wrong audience", "Bearer " + is.Token(map[string]any{"aud": "https://other.example/mcp"}), scopes.ReasonBadAudience, 401, jwt},
		{"expired", "Bearer " + is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}), scopes.ReasonExpired, 401, jwt},
		{"not yet valid", "Bearer " + is.Token(map[string]any{"nbf": fixedNow.Add(time.Hour).Unix()}), scopes.ReasonNotYetValid, 401, jwt},
		{"exp as a string", "Bearer " + is.Token(map[string]any{"exp": "tomorrow"}), scopes.ReasonBadClaims, 401, jwt},
		{"revoked", "Bearer " + is.Token(good("revoked")), scopes.ReasonRevoked, 401, identity("revoked")},
		{"revocation store down", "Bearer " + is.Token(good("store-down")), scopes.ReasonRevocationUnavailable, 503, identity("store-down")},
		{"refused by Check", "Bearer " + is.Token(good("rejected")), scopes.ReasonRejected, 401, identity("rejected")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/mcp?cursor=2", nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			req.Header.Set("Mcp-Session-Id", "sess-1")
			w := httptest.NewRecorder()
			v.Middleware(whoami).ServeHTTP(w, req)
			if tc.status == 0 {
				require.Equal(t, http.StatusOK, w.Code, w.Header().Get("WWW-Authenticate"))
			} else {
				require.Equal(t, tc.status, w.Code)
			}
			got := log.take(t)
			assert.GreaterOrEqual(t, got.Latency, time.Duration(0))
			assert.WithinDuration(t, time.Now(), got.Time, time.Minute, "the real clock, not Config.Now")
			got.Latency, got.Time = 0, time.Time{}
			want := tc.who
			want.Stage, want.Allowed, want.Reason, want.Status = scopes.StageAuthenticate, tc.status == 0, tc.reason, tc.status
			want.Method, want.Path, want.MCPSession = "POST", "/mcp", "sess-1"
			assert.Equal(t, want, got)
			assert.Equal(t, tc.reason, validate.ReasonCode(authErr(v, req)))
		})
	}
	// The audit log never holds a token.
	assert.NotEmpty(t, logs.String())
	for _, s := range []string{is.Token(good("alice")), tampered} {
		assert.NotContains(t, logs.String(), s[len(s)-20:])
	}
}

func authErr(v *validate.Validator, r *http.Request) error {
	_, err := v.Authenticate(r)
	return err
}

// With the issuer's keys never loaded the decision is keys_unavailable.
func TestMiddlewareDecisionKeysUnavailable(t *testing.T) {
	is := newIssuer(t, nil)
	is.SetDown(true)
	var log decisions
	v := newValidator(t, is, func(c *validate.Config) {
		c.Lazy = true
		c.OnDecision = log.record
		c.FetchTimeout = 100 * time.Millisecond
	})
	req := httptest.NewRequest("GET", "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+is.Token(nil))
	w := httptest.NewRecorder()
	v.Middleware(whoami).ServeHTTP(w, req)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	d := log.take(t)
	assert.Equal(t, scopes.ReasonKeysUnavailable, d.Reason)
	assert.Equal(t, 503, d.Status)
}

func TestReasonCode(t *testing.T) {
	assert.Equal(t, scopes.ReasonOK, validate.ReasonCode(nil))
	assert.Equal(t, scopes.ReasonRejected, validate.ReasonCode(errors.New("other")))
	assert.Equal(t, scopes.ReasonExpired, validate.ReasonCode(fmt.Errorf("wrapped: %w", validate.ErrExpired)))
	assert.Equal(t, scopes.ReasonRevoked, validate.ReasonCode(errors.Join(validate.ErrRejected, validate.ErrRevoked)),
		"a Check that returns ErrRevoked reports revoked")
	for _, s := range []error{validate.ErrNoToken, validate.ErrInvalidRequest, validate.ErrMalformed, validate.ErrAlgorithm,
		validate.ErrTokenType, validate.ErrCritical, validate.ErrUnknownKey, validate.ErrSignature, validate.ErrIssuer,
		validate.ErrAudience, validate.ErrExpired, validate.ErrNotYetValid, validate.ErrClaims, validate.ErrKeysUnavailable,
		validate.ErrRejected, validate.ErrRevoked, validate.ErrRevocationUnavailable} {
		code := validate.ReasonCode(s)
		assert.Contains(t, scopes.Reasons(), code, "%v", s)
		if s != validate.ErrRejected {
			assert.NotEqual(t, scopes.ReasonRejected, code, "%v has a code of its own", s)
		}
	}
}
