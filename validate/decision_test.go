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

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// decisions collects the decisions of a hook.
type decisions struct {
	mu   sync.Mutex
	list []audit.Decision
}

func (d *decisions) record(_ context.Context, x audit.Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, x)
}

func (d *decisions) take(t *testing.T) audit.Decision {
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

// The audit event of a Guard over the Validator, field by field, for an
// allowed request and every reason for refusing one.
func TestGuardDecisions(t *testing.T) {
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
	})
	h := guarded(t, v, whoami, func(c *rsguard.Config) {
		c.OnDecision = audit.Multi(log.record, audit.Slog(slog.New(slog.NewJSONHandler(&logs, nil))))
	})
	good := func(sub string) map[string]any {
		return map[string]any{"sub": sub, "jti": "jti-" + sub, "tid": "acme", "scope": "tools:read tools:write"}
	}
	tampered := is.Token(good("alice"))
	tampered = tampered[:len(tampered)-4] + "AAAA"
	// identity is what a verified token tells: set only when the token was
	// verified before being refused.
	identity := func(sub string) audit.Decision {
		return audit.Decision{Credential: audit.CredentialJWT, Issuer: is.URL, Subject: "user:" + is.URL + "#" + sub,
			ClientID: "test-client", Tenant: "acme", TokenID: "jti-" + sub, Granted: []string{"tools:read", "tools:write"}}
	}
	jwt := audit.Decision{Credential: audit.CredentialJWT}
	for _, tc := range []struct {
		name          string
		authorization string
		reason        audit.Reason
		status        int
		who           audit.Decision
	}{
		{"allowed", "Bearer " + is.Token(good("alice")), audit.ReasonOK, 0, identity("alice")},
		{"no token", "", audit.ReasonNoCredential, 401, audit.Decision{}},
		{"another scheme", "Basic dXNlcjpwYXNz", audit.ReasonNoCredential, 401, audit.Decision{}},
		{"malformed header", "Bearer a b", audit.ReasonInvalidRequest, 400, audit.Decision{}}, // no token was read
		{"malformed token", "Bearer abc", audit.ReasonMalformed, 401, jwt},
		{"alg none", "Bearer " + is.TokenWith(validatetest.TokenOptions{Alg: "none"}, good("alice")), audit.ReasonBadAlgorithm, 401, jwt},
		{"typ dpop+jwt", "Bearer " + is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"typ": "dpop+jwt"}}, good("alice")), audit.ReasonBadTokenType, 401, jwt},
		{"crit", "Bearer " + is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"crit": []string{"x"}, "x": 1}}, good("alice")), audit.ReasonCriticalHeader, 401, jwt},
		{"unknown kid", "Bearer " + is.TokenWith(validatetest.TokenOptions{Header: map[string]any{"kid": "nope"}}, good("alice")), audit.ReasonUnknownKey, 401, jwt},
		{"bad signature", "Bearer " + tampered, audit.ReasonBadSignature, 401, jwt},
		{"wrong issuer", "Bearer " + is.Token(map[string]any{"iss": "https://evil.example"}), audit.ReasonBadIssuer, 401, jwt},
		{"wrong audience", "Bearer " + is.Token(map[string]any{"aud": "https://other.example/mcp"}), audit.ReasonBadAudience, 401, jwt},
		{"expired", "Bearer " + is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()}), audit.ReasonExpired, 401, jwt},
		{"not yet valid", "Bearer " + is.Token(map[string]any{"nbf": fixedNow.Add(time.Hour).Unix()}), audit.ReasonNotYetValid, 401, jwt},
		{"exp as a string", "Bearer " + is.Token(map[string]any{"exp": "tomorrow"}), audit.ReasonBadClaims, 401, jwt},
		{"revoked", "Bearer " + is.Token(good("revoked")), audit.ReasonRevoked, 401, identity("revoked")},
		{"revocation store down", "Bearer " + is.Token(good("store-down")), audit.ReasonRevocationUnavailable, 503, identity("store-down")},
		{"refused by Check", "Bearer " + is.Token(good("rejected")), audit.ReasonRejected, 401, identity("rejected")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/mcp?cursor=2", nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			req.Header.Set("Mcp-Session-Id", "sess-1")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
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
			want.Stage, want.Allowed, want.Reason, want.Status = audit.StageAuthenticate, tc.status == 0, tc.reason, tc.status
			want.Method, want.Path, want.MCPSession = "POST", "/mcp", check.SessionTag("sess-1")
			assert.Equal(t, want, got)

			// The reason is the refusal's own.
			_, err := v.Authenticate(req)
			if tc.status == 0 {
				require.NoError(t, err)
				return
			}
			var e *rsguard.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.reason, e.Reason)
			assert.Equal(t, tc.status, e.Status)
		})
	}
	// The audit log never holds a token.
	assert.NotEmpty(t, logs.String())
	for _, s := range []string{is.Token(good("alice")), tampered} {
		assert.NotContains(t, logs.String(), s[len(s)-20:])
	}
}

// With the issuer's keys never loaded the decision is keys_unavailable.
func TestGuardDecisionKeysUnavailable(t *testing.T) {
	is := newIssuer(t, nil)
	is.SetDown(true)
	var log decisions
	v := newValidator(t, is, func(c *validate.Config) {
		c.Fetch.Lazy = true
		c.Fetch.Timeout = 100 * time.Millisecond
	})
	req := httptest.NewRequest("GET", "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+is.Token(nil))
	w := httptest.NewRecorder()
	guarded(t, v, whoami, func(c *rsguard.Config) { c.OnDecision = log.record }).ServeHTTP(w, req)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"), "Fetch.Timeout (0.1 s) plus one second, in whole seconds")
	d := log.take(t)
	assert.Equal(t, audit.ReasonKeysUnavailable, d.Reason)
	assert.Equal(t, 503, d.Status)
}

// TestCheckReasons: a Config.Check refusal reports the reason its error
// wraps (a Check that returns audit.ReasonRevoked reports revoked), and gets
// the answer of that class; "rejected" for anything else; one that returns
// an *rsguard.Error keeps its own reason, or gets the reason its Err wraps.
func TestCheckReasons(t *testing.T) {
	is := newIssuer(t, nil)
	other := errors.New("other")
	for _, tc := range []struct {
		name  string
		err   error
		want  audit.Reason
		isErr error
	}{
		{"any error", other, audit.ReasonRejected, other},
		{"wrapped reason", fmt.Errorf("wrapped: %w", audit.ReasonExpired), audit.ReasonExpired, audit.ReasonExpired},
		{"revoked", errors.Join(other, audit.ReasonRevoked), audit.ReasonRevoked, other},
		{"a reason without a class here", fmt.Errorf("%w: tools:admin", audit.ReasonInsufficientScope), audit.ReasonRejected, audit.ReasonInsufficientScope},
		{"ok is no refusal reason", fmt.Errorf("odd: %w", audit.ReasonOK), audit.ReasonRejected, audit.ReasonOK},
		{"*Error without a reason", &rsguard.Error{Status: 401, Err: audit.ReasonBadIssuer}, audit.ReasonBadIssuer, audit.ReasonBadIssuer},
		{"*Error with its reason", &rsguard.Error{Status: 401, Err: audit.ReasonBadIssuer, Reason: audit.ReasonRevoked}, audit.ReasonRevoked, audit.ReasonBadIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newValidator(t, is, func(c *validate.Config) {
				c.Check = func(context.Context, *validate.Claims) error { return tc.err }
			})
			_, err := v.Verify(context.Background(), is.Token(nil))
			require.ErrorIs(t, err, tc.isErr)
			require.ErrorIs(t, err, tc.want, "the refusal's class")
			var e *rsguard.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.want, e.Reason)
			assert.Equal(t, audit.CredentialJWT, e.Credential)
			assert.Contains(t, audit.Reasons(), e.Reason)
			if _, ok := tc.err.(*rsguard.Error); !ok && e.Reason != audit.ReasonExpired && e.Reason != audit.ReasonRevoked {
				assert.Equal(t, 401, e.Status)
				assert.Equal(t, "invalid_token", e.Code)
				assert.Equal(t, "the access token was rejected", e.Description, "no class of this package: the generic answer")
			}
		})
	}
	// Every reason this package refuses tokens with is a class of its own.
	for _, r := range []audit.Reason{audit.ReasonMalformed, audit.ReasonBadAlgorithm,
		audit.ReasonBadTokenType, audit.ReasonCriticalHeader, audit.ReasonUnknownKey, audit.ReasonBadSignature, audit.ReasonBadIssuer,
		audit.ReasonBadAudience, audit.ReasonExpired, audit.ReasonNotYetValid, audit.ReasonBadClaims, audit.ReasonKeysUnavailable,
		audit.ReasonRevoked, audit.ReasonRevocationUnavailable, audit.ReasonSenderConstrained} {
		refusal := fmt.Errorf("the application's refusal: %w", r)
		v := newValidator(t, is, func(c *validate.Config) {
			c.Check = func(context.Context, *validate.Claims) error { return refusal }
		})
		_, err := v.Verify(context.Background(), is.Token(nil))
		var e *rsguard.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, r, e.Reason, "%v", r)
		assert.NotEqual(t, audit.ReasonRejected, e.Reason, "%v has a code of its own", r)
		// Answered as that class, and still the Check's refusal.
		assert.ErrorIs(t, err, r)
		assert.ErrorIs(t, err, refusal)
		assert.NotErrorIs(t, err, audit.ReasonRejected, "%v: one class", r)
		assert.NotEqual(t, "the access token was rejected", e.Description, "%v: the class's description", r)
		assert.NotNil(t, e.Principal, "%v", r)
		if r == audit.ReasonKeysUnavailable || r == audit.ReasonRevocationUnavailable {
			assert.Equal(t, 503, e.Status, "%v", r)
			assert.Empty(t, e.Code, "%v", r)
		} else {
			assert.Equal(t, 401, e.Status, "%v", r)
			assert.Equal(t, "invalid_token", e.Code, "%v", r)
		}
	}
}
