package apikey

import (
	"bytes"
	"context"
	"errors"
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
)

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

// The audit event of a Guard running the Authenticator, field by field, for
// keys and bearer tokens, allowed and refused for every reason: the reason
// and the identity come from Authenticate (a key's Principal, or the
// Principal of a key refused after its record was found), a bearer
// credential's from the bearer authenticator, unchanged.
func TestDecisions(t *testing.T) {
	f := newFixture(t)
	var log decisionLog
	var logs bytes.Buffer
	hook := audit.Multi(log.record, audit.Slog(slog.New(slog.NewTextHandler(&logs, nil))))
	guarded := func(mod func(*Config)) *Authenticator {
		cfg := f.config()
		mod(&cfg)
		return mustNew(t, cfg)
	}
	dual := guarded(func(*Config) {})
	bearerKeys := guarded(func(c *Config) { c.AcceptBearerKeys = true })
	keysOnly := guarded(func(c *Config) { c.Bearer = nil })
	storeDown := guarded(func(c *Config) { c.Store = failingStore{} })
	advertised := guarded(func(c *Config) { c.AdvertiseKeyChallenge = true })

	key := func(name string) audit.Decision {
		rec := f.recs[name]
		granted, _ := rsguard.ParseScopeList(rec.Scopes)
		return audit.Decision{Credential: audit.CredentialAPIKey, TokenID: rec.ID, Subject: rec.subject(),
			ClientID: rec.ClientID, Tenant: rec.Tenant, Granted: granted}
	}
	jwtPrincipal := func(jti string) rsguard.Principal { return userPrincipal("alice", jti, "tools:read") }
	jwt := func(jti string) audit.Decision {
		p := jwtPrincipal(jti)
		return audit.Decision{Credential: audit.CredentialJWT, Issuer: issuer, Subject: p.Subject, ClientID: p.ClientID, TokenID: jti, Granted: p.Scopes}
	}
	revokedJWT := rsguard.Error{Status: 401, Code: "invalid_token", Description: "the access token has been revoked", Err: errors.New("fake: revoked"),
		Reason: audit.ReasonRevoked, Credential: audit.CredentialJWT}
	p := jwtPrincipal("jti-revoked")
	revokedJWT.Principal = &p
	mangled := f.keys["valid"][:len(f.keys["valid"])-1] + flipChar(f.keys["valid"][len(f.keys["valid"])-1])
	apikeyOnly := audit.Decision{Credential: audit.CredentialAPIKey}
	for _, tc := range []struct {
		name    string
		a       *Authenticator
		headers map[string][]string
		reason  audit.Reason
		status  int
		who     audit.Decision
	}{
		{"key", dual, hdr("X-API-Key", f.keys["valid"]), audit.ReasonOK, 0, key("valid")},
		{"writer key, duplicate scopes", dual, hdr("X-API-Key", f.keys["writer"]), audit.ReasonOK, 0, key("writer")},
		{"deprecated key", dual, hdr("X-API-Key", f.keys["deprecated"]), audit.ReasonOK, 0, key("deprecated")},
		{"key as bearer, accepted", bearerKeys, hdr("Authorization", "Bearer "+f.keys["valid"]), audit.ReasonOK, 0, key("valid")},
		{"bearer token", dual, hdr("Authorization", "Bearer "+f.bearer.issue(jwtPrincipal("jti-1"))), audit.ReasonOK, 0, jwt("jti-1")},
		{"no credential", dual, nil, audit.ReasonNoCredential, 401, audit.Decision{}},
		{"no credential, keys only", keysOnly, nil, audit.ReasonNoCredential, 401, audit.Decision{}},
		{"no credential, key challenge advertised", advertised, nil, audit.ReasonNoCredential, 401, audit.Decision{}},
		{"key and token", dual, map[string][]string{"X-Api-Key": {f.keys["valid"]}, "Authorization": {"Bearer " + f.jwt("")}},
			audit.ReasonInvalidRequest, 400, apikeyOnly},
		{"key twice", dual, map[string][]string{"X-Api-Key": {f.keys["valid"], f.keys["valid"]}}, audit.ReasonInvalidRequest, 400, apikeyOnly},
		{"key and a malformed Authorization header", dual, map[string][]string{"X-Api-Key": {f.keys["valid"]}, "Authorization": {"Bearer a b"}},
			audit.ReasonInvalidRequest, 400, apikeyOnly},
		{"malformed Authorization header", dual, hdr("Authorization", "Bearer a b"), audit.ReasonInvalidRequest, 400, audit.Decision{}},
		{"malformed key", dual, hdr("X-API-Key", "sk_test_nope"), audit.ReasonMalformed, 401, apikeyOnly},
		{"checksum mismatch", dual, hdr("X-API-Key", mangled), audit.ReasonMalformed, 401, apikeyOnly},
		// An unknown key proves no identity: its id is in OnUse, not here.
		{"unknown key", dual, hdr("X-API-Key", f.keys["unknown"]), audit.ReasonUnknownAPIKey, 401, apikeyOnly},
		{"unknown key, advertised", advertised, hdr("X-API-Key", f.keys["unknown"]), audit.ReasonUnknownAPIKey, 401, apikeyOnly},
		{"expired key", dual, hdr("X-API-Key", f.keys["expired"]), audit.ReasonExpired, 401, key("expired")},
		{"revoked key", dual, hdr("X-API-Key", f.keys["revoked"]), audit.ReasonRevoked, 401, key("revoked")},
		{"blocked client", dual, hdr("X-API-Key", f.keys["blocked"]), audit.ReasonAPIKeyBlocked, 401, key("blocked")},
		{"client past its cutoff", dual, hdr("X-API-Key", f.keys["cutoff"]), audit.ReasonAPIKeyRetired, 401, key("cutoff")},
		{"key as bearer, refused", dual, hdr("Authorization", "Bearer "+f.keys["valid"]), audit.ReasonAPIKeyAsBearer, 401, apikeyOnly},
		{"bearer token, keys only", keysOnly, hdr("Authorization", "Bearer "+f.jwt("tools:read")), audit.ReasonBearerNotAccepted, 401,
			audit.Decision{Credential: audit.CredentialJWT}},
		{"store down", storeDown, hdr("X-API-Key", f.keys["valid"]), audit.ReasonStoreUnavailable, 503, apikeyOnly},
		{"expired bearer token", dual, hdr("Authorization", "Bearer "+f.bearer.refused(expiredToken)), audit.ReasonExpired, 401,
			audit.Decision{Credential: audit.CredentialJWT}},
		{"expired bearer token, advertised", advertised, hdr("Authorization", "Bearer "+f.bearer.refused(expiredToken)), audit.ReasonExpired, 401,
			audit.Decision{Credential: audit.CredentialJWT}},
		{"revoked bearer token", dual, hdr("Authorization", "Bearer "+f.bearer.refused(revokedJWT)), audit.ReasonRevoked, 401, jwt("jti-revoked")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/reports?limit=5", nil)
			for k, vs := range tc.headers {
				req.Header[http.CanonicalHeaderKey(k)] = vs
			}
			w := httptest.NewRecorder()
			g := newGuard(t, rsguard.Config{Authenticator: tc.a, OnDecision: hook})
			g.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, req)
			want := tc.who
			want.Stage, want.Allowed, want.Reason, want.Status = audit.StageAuthenticate, tc.status == 0, tc.reason, tc.status
			want.Method, want.Path = "GET", "/reports"
			if tc.status == 0 {
				require.Equal(t, http.StatusOK, w.Code, w.Header().Get("WWW-Authenticate"))
			} else {
				require.Equal(t, tc.status, w.Code)
			}
			got := log.take(t)
			assert.WithinDuration(t, time.Now(), got.Time, time.Minute)
			got.Latency, got.Time = 0, time.Time{}
			assert.Equal(t, want, got)

			// The decision method returns the reason the Guard recorded.
			req = httptest.NewRequest("GET", "/reports?limit=5", nil)
			for k, vs := range tc.headers {
				req.Header[http.CanonicalHeaderKey(k)] = vs
			}
			_, err := tc.a.Authenticate(req)
			if tc.reason == audit.ReasonOK {
				assert.NoError(t, err)
				return
			}
			var e *rsguard.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.reason, e.Reason)
		})
	}
	// The audit log names keys by id, never the key itself.
	require.NotEmpty(t, logs.String())
	for name, k := range f.keys {
		assert.NotContains(t, logs.String(), k, name)
		assert.NotContains(t, logs.String(), k[len(k)-checksumLen-8:], name)
	}
}

func hdr(name, value string) map[string][]string { return map[string][]string{name: {value}} }

// Without OnDecision the Guard answers exactly as with it, and the handler
// sees the same request.
func TestDecisionHookDoesNotChangeAnswers(t *testing.T) {
	f := newFixture(t)
	a := mustNew(t, f.config())
	plain := newGuard(t, rsguard.Config{Authenticator: a})
	hooked := newGuard(t, rsguard.Config{Authenticator: a, OnDecision: func(context.Context, audit.Decision) {}})
	for _, h := range []map[string][]string{
		nil, hdr("X-API-Key", f.keys["valid"]), hdr("X-API-Key", f.keys["deprecated"]), hdr("X-API-Key", f.keys["blocked"]),
		hdr("Authorization", "Bearer "+f.jwt("tools:read")), hdr("Authorization", "Bearer x"),
	} {
		var got [2]*httptest.ResponseRecorder
		var seen [2]string
		for i, g := range []*rsguard.Guard{plain, hooked} {
			req := httptest.NewRequest("GET", "/", nil)
			for k, vs := range h {
				req.Header[http.CanonicalHeaderKey(k)] = vs
			}
			got[i] = httptest.NewRecorder()
			seen[i] = "not called"
			g.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				p, _ := rsguard.FromContext(r.Context())
				seen[i] = p.Subject + " " + r.Header.Get("X-API-Key")
			})).ServeHTTP(got[i], req)
		}
		assert.Equal(t, got[0].Code, got[1].Code)
		assert.Equal(t, got[0].Header(), got[1].Header())
		assert.Equal(t, got[0].Body.String(), got[1].Body.String())
		assert.Equal(t, seen[0], seen[1])
	}
}
