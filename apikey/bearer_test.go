package apikey

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/scopes"
)

// TestBearerPathUnchanged: a request without an API key is answered exactly
// as the Bearer authenticator alone answers it, in the same Guard, and its
// handler sees the same principal.
func TestBearerPathUnchanged(t *testing.T) {
	f := newFixture(t)
	a := mustNew(t, f.config())
	var viaKeys, viaBearer seen
	dual := serve(t, a, echo(&viaKeys))
	plain := serve(t, f.bearer, echo(&viaBearer))
	cases := map[string]struct {
		h     http.Header
		query string
	}{
		"valid":          {h: http.Header{"Authorization": {"Bearer " + f.jwt("tools:read")}}},
		"none":           {h: http.Header{}},
		"garbage":        {h: http.Header{"Authorization": {"Bearer not.a.jwt"}}},
		"bad syntax":     {h: http.Header{"Authorization": {"Bearer a b"}}},
		"two headers":    {h: http.Header{"Authorization": {"Bearer x", "Bearer y"}}},
		"expired":        {h: http.Header{"Authorization": {"Bearer " + f.bearer.refused(expiredToken)}}},
		"basic":          {h: http.Header{"Authorization": {"Basic YTpi"}}},
		"token in query": {h: http.Header{}, query: "?access_token=x"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			viaKeys, viaBearer = seen{}, seen{}
			r1 := httptest.NewRequest(http.MethodPost, "/mcp"+tc.query, nil)
			r1.Header = tc.h.Clone()
			r2 := httptest.NewRequest(http.MethodPost, "/mcp"+tc.query, nil)
			r2.Header = tc.h.Clone()
			w1, w2 := httptest.NewRecorder(), httptest.NewRecorder()
			dual.ServeHTTP(w1, r1)
			plain.ServeHTTP(w2, r2)
			assert.Equal(t, w2.Code, w1.Code, "dual vs plain: status")
			assert.Equal(t, w2.Body.String(), w1.Body.String(), "dual vs plain: body")
			assert.Equal(t, fmt.Sprint(w2.Header()), fmt.Sprint(w1.Header()), "dual vs plain: header")
			assert.Equal(t, viaBearer.p, viaKeys.p, "context differs")
			assert.False(t, viaKeys.hasUse, "context differs: hasUse")
		})
	}
}

// TestScopesThroughKey: scope checks work unchanged for keys: package
// scopes reads the key's Principal, and answers with the Guard's
// resource_metadata.
func TestScopesThroughKey(t *testing.T) {
	f := newFixture(t)
	a := mustNew(t, f.config())
	h := serve(t, a, scopes.Middleware("tools:write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.NoError(t, scopes.Require(r.Context(), "tools:read", "tools:write"), "Require in handler")
		_, _ = io.WriteString(w, "written")
	})))
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"key with tools:write", http.Header{"X-Api-Key": {f.keys["writer"]}}, 200},
		{"key without tools:write", http.Header{"X-Api-Key": {f.keys["valid"]}}, 403},
		{"bearer with tools:write", http.Header{"Authorization": {"Bearer " + f.jwt("tools:read tools:write")}}, 200},
		{"bearer without tools:write", http.Header{"Authorization": {"Bearer " + f.jwt("tools:read")}}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Header = tc.header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tc.status, w.Code, "status (%s)", w.Header().Get("WWW-Authenticate"))
			if tc.status == 403 {
				want := `Bearer resource_metadata="` + resourceMetadata + `", scope="tools:write", error="insufficient_scope"`
				g := w.Header().Get("WWW-Authenticate")
				assert.True(t, strings.HasPrefix(g, want), "403 challenge = %q, want prefix %q", g, want)
			}
		})
	}
}

func TestBearerKeysOptIn(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.AcceptBearerKeys = true
	a := mustNew(t, cfg)
	var got seen
	h := serve(t, a, echo(&got))
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
		sent   error
	}{
		{"key as bearer", http.Header{"Authorization": {"Bearer " + f.keys["valid"]}}, 200, nil},
		{"scheme case-insensitive", http.Header{"Authorization": {"bearer " + f.keys["valid"]}}, 200, nil},
		{"unknown key as bearer", http.Header{"Authorization": {"Bearer " + f.keys["unknown"]}}, 401, audit.ReasonUnknownAPIKey},
		{"bearer token still works", http.Header{"Authorization": {"Bearer " + f.jwt("a")}}, 200, nil},
		{"bearer key and header key", http.Header{"Authorization": {"Bearer " + f.keys["valid"]}, "X-Api-Key": {f.keys["valid"]}}, 400, audit.ReasonInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = seen{}
			calls := f.bearer.calls.Load()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.header.Clone()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tc.status, w.Code, "status (%s)", w.Header().Get("WWW-Authenticate"))
			isKey := strings.HasPrefix(strings.ToLower(tc.header.Get("Authorization")), "bearer "+testPrefix)
			if isKey {
				assert.Equal(t, calls, f.bearer.calls.Load(), "a bearer key reached the bearer authenticator")
			}
			if tc.status == 200 && isKey {
				assert.Empty(t, got.header.Get("Authorization"), "bearer key: header forwarded: %+v", got.use)
				assert.Equal(t, "Authorization", got.use.Header, "bearer key: wrong use: %+v", got.use)
				assert.Equal(t, audit.CredentialAPIKey, got.p.Credential, "bearer key: wrong credential: %+v", got.use)
			}
			if tc.sent != nil {
				r.Header = tc.header.Clone()
				_, err := a.Authenticate(r)
				assert.ErrorIs(t, err, tc.sent, "Authenticate")
				if tc.sent == audit.ReasonInvalidRequest {
					assert.ErrorIs(t, err, refusedBoth.Err, "Authenticate: two credentials")
				}
			}
		})
	}
}

func TestKeysOnly(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.Bearer = nil
	cfg.Header = "X-Legacy-Token"
	a := mustNew(t, cfg)
	var got seen
	h := serve(t, a, echo(&got))
	for _, tc := range []struct {
		name      string
		header    http.Header
		status    int
		challenge string
		reason    audit.Reason
	}{
		{"key", http.Header{"X-Legacy-Token": {f.keys["valid"]}}, 200, "", ""},
		{"key in default header is not read", http.Header{"X-Api-Key": {f.keys["valid"]}}, 401, challenge("", ""), audit.ReasonNoCredential},
		{"none", http.Header{}, 401, challenge("", ""), audit.ReasonNoCredential},
		{"bearer token", http.Header{"Authorization": {"Bearer " + f.jwt("a")}}, 401, challenge("invalid_token", "this resource does not accept bearer tokens"), audit.ReasonBearerNotAccepted},
		{"malformed authorization", http.Header{"Authorization": {"Bearer a b"}}, 400, challenge("invalid_request", "malformed Authorization header"), audit.ReasonInvalidRequest},
		{"revoked", http.Header{"X-Legacy-Token": {f.keys["revoked"]}}, 401, challenge("invalid_token", "the API key has been revoked"), audit.ReasonRevoked},
		{"two", http.Header{"X-Legacy-Token": {f.keys["valid"]}, "Authorization": {"Bearer x"}}, 400, challenge("invalid_request", "send either an API key or a bearer token, not both"), audit.ReasonInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = seen{}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.header.Clone()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tc.status, w.Code, "status")
			assert.Equal(t, tc.challenge, w.Header().Get("WWW-Authenticate"), "challenge")
			if tc.status == 200 {
				assert.Empty(t, got.header.Get("X-Legacy-Token"), "key header forwarded")
				assert.Equal(t, audit.CredentialAPIKey, got.p.Credential, "principal %+v", got.p)
			}
			r.Header = tc.header.Clone()
			_, err := a.Authenticate(r)
			var e *rsguard.Error
			if tc.reason == "" {
				assert.NoError(t, err, "Authenticate")
			} else if assert.ErrorAs(t, err, &e, "Authenticate, want reason %q", tc.reason) {
				assert.Equal(t, tc.reason, e.Reason, "Authenticate = %v (%+v): reason", err, e)
			}
		})
	}
	assert.Zero(t, f.bearer.calls.Load(), "keys only, and the bearer authenticator was called")
}

func TestAdvertiseKeyChallenge(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.AdvertiseKeyChallenge = true
	h := serve(t, mustNew(t, cfg), echo(new(seen)))
	cfg.Bearer = nil
	keysOnly := serve(t, mustNew(t, cfg), echo(new(seen)))
	cfg = f.config()
	cfg.AdvertiseKeyChallenge, cfg.Store = true, failingStore{}
	storeDown := serve(t, mustNew(t, cfg), echo(new(seen)))
	const keyChallenge = `APIKey header="X-API-Key"`
	for _, tc := range []struct {
		name   string
		h      http.Handler
		header http.Header
		status int
		want   []string
	}{
		{"none", h, http.Header{}, 401, []string{challenge("", ""), keyChallenge}},
		{"none, keys only", keysOnly, http.Header{}, 401, []string{challenge("", ""), keyChallenge}},
		{"unknown", h, http.Header{"X-Api-Key": {f.keys["unknown"]}}, 401, []string{challenge("invalid_token", "the API key is not recognised"), keyChallenge}},
		{"expired bearer token", h, http.Header{"Authorization": {"Bearer " + f.bearer.refused(expiredToken)}}, 401,
			[]string{challenge("invalid_token", "the access token expired"), keyChallenge}},
		{"bearer token, keys only", keysOnly, http.Header{"Authorization": {"Bearer " + f.jwt("a")}}, 401,
			[]string{challenge("invalid_token", descNoBearer), keyChallenge}},
		{"blocked: keys not advertised", h, http.Header{"X-Api-Key": {f.keys["blocked"]}}, 401, []string{challenge("invalid_token", descBlocked)}},
		{"retired: keys not advertised", h, http.Header{"X-Api-Key": {f.keys["cutoff"]}}, 401,
			[]string{challenge("invalid_token", "API keys were retired for this client on 2026-05-31: get an OAuth access token (see resource_metadata)")}},
		{"400: no key challenge", h, http.Header{"X-Api-Key": {"a", "b"}}, 400, []string{challenge("invalid_request", "the X-API-Key header must appear once")}},
		{"503: no key challenge", storeDown, http.Header{"X-Api-Key": {f.keys["valid"]}}, 503, []string{challenge("", "")}},
		{"accepted: no challenge", h, http.Header{"X-Api-Key": {f.keys["valid"]}}, 200, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.header
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, r)
			assert.Equal(t, tc.status, w.Code, "status")
			assert.Equal(t, strings.Join(tc.want, "\n"), strings.Join(w.Header().Values("WWW-Authenticate"), "\n"), "WWW-Authenticate")
		})
	}
}

// TestAdvertiseCopiesBearerErrors: the key challenge is added to a copy of
// the bearer authenticator's error, never to the error itself (which may be
// shared, as here), and an error that is not an *rsguard.Error is answered
// as the Guard would answer it, with the key challenge.
func TestAdvertiseCopiesBearerErrors(t *testing.T) {
	f := newFixture(t)
	shared := &rsguard.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "shared refusal", Err: errFakeToken,
		Reason: audit.ReasonBadSignature, Credential: audit.CredentialJWT, Header: http.Header{"X-Bearer": {"kept"}}}
	plain := errors.New("fake: plain failure")
	var next error
	cfg := f.config()
	cfg.AdvertiseKeyChallenge = true
	cfg.Bearer = bearerFunc(func(*http.Request) (*rsguard.Principal, error) { return nil, next })
	a := mustNew(t, cfg)
	h := serve(t, a, echo(new(seen)))
	const keyChallenge = `APIKey header="X-API-Key"`
	for _, tc := range []struct {
		name    string
		err     error
		wantErr error
		want    []string
	}{
		{"shared *rsguard.Error", shared, errFakeToken, []string{challenge("invalid_token", "shared refusal"), keyChallenge}},
		{"wrapped *rsguard.Error", fmt.Errorf("wrapped: %w", shared), errFakeToken, []string{challenge("invalid_token", "shared refusal"), keyChallenge}},
		{"plain error", plain, plain, []string{challenge("invalid_token", "the credential was rejected"), keyChallenge}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next = tc.err
			for range 2 { // the second answer is the same as the first
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				assert.Equal(t, 401, w.Code, "status")
				assert.Equal(t, strings.Join(tc.want, "\n"), strings.Join(w.Header().Values("WWW-Authenticate"), "\n"), "WWW-Authenticate")
			}
			_, err := a.Authenticate(httptest.NewRequest(http.MethodGet, "/", nil))
			var e *rsguard.Error
			assert.ErrorIs(t, err, tc.wantErr, "Authenticate")
			if assert.ErrorAs(t, err, &e, "Authenticate") {
				assert.NotSame(t, shared, e, "Authenticate returned the shared error itself")
				if tc.err != plain {
					assert.Equal(t, shared.Header.Get("X-Bearer"), e.Header.Get("X-Bearer"), "Authenticate = %v (%+v)", err, e)
				}
			}
			if tc.err == plain && assert.ErrorIs(t, err, audit.ReasonRejected, "plain error answered as %+v", e) {
				assert.Equal(t, audit.ReasonRejected, e.Reason, "plain error answered as %+v", e)
				assert.ErrorIs(t, e.Err, audit.ReasonRejected, "plain error answered as %+v: Err", e)
			}
		})
	}
	assert.Len(t, shared.Header, 1, "the bearer's error was modified: %v", shared.Header)
	assert.Equal(t, "kept", shared.Header.Get("X-Bearer"), "the bearer's error was modified: %v", shared.Header)
	assert.Empty(t, shared.Header.Values("Www-Authenticate"), "the bearer's error was modified: %v", shared.Header)
}
