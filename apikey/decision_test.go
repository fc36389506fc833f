package apikey

import (
	"bytes"
	"context"
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

type decisionLog struct {
	mu   sync.Mutex
	list []scopes.Decision
}

func (l *decisionLog) record(_ context.Context, d scopes.Decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, d)
}

func (l *decisionLog) take(t *testing.T) scopes.Decision {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Len(t, l.list, 1, "one decision per request")
	d := l.list[0]
	l.list = nil
	return d
}

// The audit event of the dual-mode middleware, field by field, for both
// credentials, allowed and refused for every reason.
func TestMiddlewareDecisions(t *testing.T) {
	f := newFixture(t)
	revocations, err := validate.NewDenyList(validate.DenyListConfig{Now: func() time.Time { return fixedNow }})
	require.NoError(t, err)
	require.NoError(t, revocations.RevokeToken(f.is.URL(), "jti-revoked", time.Time{}))
	v, err := validate.New(context.Background(), validate.Config{
		Issuer: f.is.URL(), Resource: resource, HTTPClient: f.is.Client(),
		Now: func() time.Time { return fixedNow }, Revocations: revocations,
	})
	require.NoError(t, err)

	var log decisionLog
	var logs bytes.Buffer
	hook := scopes.MultiDecisions(log.record, scopes.SlogDecisions(slog.New(slog.NewTextHandler(&logs, nil))))
	cfg := f.config()
	cfg.Validator = v
	cfg.OnDecision = hook
	dual := mustNew(t, cfg)
	cfg.AcceptBearerKeys = true
	bearerKeys := mustNew(t, cfg)
	cfg = f.config()
	cfg.Validator, cfg.ResourceMetadata, cfg.OnDecision = nil, resourceMetadata, hook
	keysOnly := mustNew(t, cfg)
	cfg = f.config()
	cfg.Store, cfg.OnDecision = failingStore{}, hook
	storeDown := mustNew(t, cfg)

	key := func(name string) scopes.Decision {
		rec := f.recs[name]
		return scopes.Decision{Credential: scopes.CredentialAPIKey, TokenID: rec.ID, Subject: rec.subject(),
			ClientID: rec.ClientID, Tenant: rec.Tenant, Granted: rec.Scopes}
	}
	jwt := func(jti string) scopes.Decision {
		return scopes.Decision{Credential: scopes.CredentialJWT, Issuer: f.is.URL(), Subject: "user:" + f.is.URL() + "#" + validatetest.DefaultSubject,
			ClientID: validatetest.DefaultClientID, TokenID: jti, Granted: []string{"tools:read"}}
	}
	mangled := f.keys["valid"][:len(f.keys["valid"])-1] + flipChar(f.keys["valid"][len(f.keys["valid"])-1])
	unknownID, _ := Parse(testPrefix, f.keys["unknown"])
	for _, tc := range []struct {
		name    string
		a       *Authenticator
		headers map[string][]string
		reason  scopes.Reason
		status  int
		who     scopes.Decision
	}{
		{"key", dual, hdr("X-API-Key", f.keys["valid"]), scopes.ReasonOK, 0, key("valid")},
		{"deprecated key", dual, hdr("X-API-Key", f.keys["deprecated"]), scopes.ReasonOK, 0, key("deprecated")},
		{"key as bearer, accepted", bearerKeys, hdr("Authorization", "Bearer "+f.keys["valid"]), scopes.ReasonOK, 0, key("valid")},
		{"jwt", dual, hdr("Authorization", "Bearer "+f.is.Token(map[string]any{"jti": "jti-1", "scope": "tools:read"})), scopes.ReasonOK, 0, jwt("jti-1")},
		{"no credential", dual, nil, scopes.ReasonNoCredential, 401, scopes.Decision{}},
		{"key and token", dual, map[string][]string{"X-Api-Key": {f.keys["valid"]}, "Authorization": {"Bearer " + f.jwt("")}},
			scopes.ReasonInvalidRequest, 400, scopes.Decision{Credential: scopes.CredentialAPIKey}},
		{"key twice", dual, map[string][]string{"X-Api-Key": {f.keys["valid"], f.keys["valid"]}},
			scopes.ReasonInvalidRequest, 400, scopes.Decision{Credential: scopes.CredentialAPIKey}},
		{"malformed key", dual, hdr("X-API-Key", "sk_test_nope"), scopes.ReasonMalformed, 401, scopes.Decision{Credential: scopes.CredentialAPIKey}},
		{"checksum mismatch", dual, hdr("X-API-Key", mangled), scopes.ReasonMalformed, 401, scopes.Decision{Credential: scopes.CredentialAPIKey}},
		{"unknown key", dual, hdr("X-API-Key", f.keys["unknown"]), scopes.ReasonUnknownAPIKey, 401,
			scopes.Decision{Credential: scopes.CredentialAPIKey, TokenID: unknownID}},
		{"expired key", dual, hdr("X-API-Key", f.keys["expired"]), scopes.ReasonExpired, 401, key("expired")},
		{"revoked key", dual, hdr("X-API-Key", f.keys["revoked"]), scopes.ReasonRevoked, 401, key("revoked")},
		{"blocked client", dual, hdr("X-API-Key", f.keys["blocked"]), scopes.ReasonAPIKeyBlocked, 401, key("blocked")},
		{"client past its cutoff", dual, hdr("X-API-Key", f.keys["cutoff"]), scopes.ReasonAPIKeyRetired, 401, key("cutoff")},
		{"key as bearer, refused", dual, hdr("Authorization", "Bearer "+f.keys["valid"]), scopes.ReasonAPIKeyAsBearer, 401,
			scopes.Decision{Credential: scopes.CredentialAPIKey}},
		{"bearer token, keys only", keysOnly, hdr("Authorization", "Bearer "+f.jwt("tools:read")), scopes.ReasonBearerNotAccepted, 401,
			scopes.Decision{Credential: scopes.CredentialJWT}},
		{"store down", storeDown, hdr("X-API-Key", f.keys["valid"]), scopes.ReasonStoreUnavailable, 503,
			scopes.Decision{Credential: scopes.CredentialAPIKey, TokenID: f.recs["valid"].ID}},
		{"expired jwt", dual, hdr("Authorization", "Bearer "+f.is.Token(map[string]any{"exp": fixedNow.Add(-time.Hour).Unix()})), scopes.ReasonExpired, 401,
			scopes.Decision{Credential: scopes.CredentialJWT}},
		{"revoked jwt", dual, hdr("Authorization", "Bearer "+f.is.Token(map[string]any{"jti": "jti-revoked", "scope": "tools:read"})), scopes.ReasonRevoked, 401,
			jwt("jti-revoked")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/reports?limit=5", nil)
			for k, vs := range tc.headers {
				req.Header[http.CanonicalHeaderKey(k)] = vs
			}
			w := httptest.NewRecorder()
			tc.a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, req)
			want := tc.who
			want.Stage, want.Allowed, want.Reason, want.Status = scopes.StageAuthenticate, tc.status == 0, tc.reason, tc.status
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
			_, err := tc.a.Authenticate(req)
			assert.Equal(t, tc.reason, ReasonCode(err))
		})
	}
	// The audit log names keys by id, never the key itself.
	require.NotEmpty(t, logs.String())
	for name, k := range f.keys {
		assert.NotContains(t, logs.String(), k, name)
		assert.NotContains(t, logs.String(), k[len(k)-ChecksumLen-8:], name)
	}
}

func hdr(name, value string) map[string][]string { return map[string][]string{name: {value}} }

// Without OnDecision the middleware answers exactly as with it.
func TestDecisionHookDoesNotChangeAnswers(t *testing.T) {
	f := newFixture(t)
	plain := mustNew(t, f.config())
	cfg := f.config()
	cfg.OnDecision = func(context.Context, scopes.Decision) {}
	hooked := mustNew(t, cfg)
	for _, h := range []map[string][]string{
		nil, hdr("X-API-Key", f.keys["valid"]), hdr("X-API-Key", f.keys["deprecated"]), hdr("X-API-Key", f.keys["blocked"]),
		hdr("Authorization", "Bearer "+f.jwt("tools:read")), hdr("Authorization", "Bearer x"),
	} {
		var got [2]*httptest.ResponseRecorder
		var seen [2]string
		for i, a := range []*Authenticator{plain, hooked} {
			req := httptest.NewRequest("GET", "/", nil)
			for k, vs := range h {
				req.Header[http.CanonicalHeaderKey(k)] = vs
			}
			got[i] = httptest.NewRecorder()
			a.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				g, _ := scopes.FromContext(r.Context())
				seen[i] = g.Subject + " " + r.Header.Get("X-API-Key")
			})).ServeHTTP(got[i], req)
		}
		assert.Equal(t, got[0].Code, got[1].Code)
		assert.Equal(t, got[0].Header(), got[1].Header())
		assert.Equal(t, got[0].Body.String(), got[1].Body.String())
		assert.Equal(t, seen[0], seen[1])
	}
}
