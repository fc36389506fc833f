package apikey_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/loopback/loopbacktest"
)

const metadataURL = "https://api.example.com/.well-known/oauth-protected-resource/mcp"

// guarded returns next behind a Guard running auth.
func guarded(t *testing.T, auth rsguard.Authenticator, next http.Handler) http.Handler {
	t.Helper()
	g, err := rsguard.New(rsguard.Config{Authenticator: auth, ResourceMetadata: metadataURL})
	require.NoError(t, err)
	return g.Middleware(next)
}

// looseStore stands for a store apikey does not control (a database): it
// returns records that Record.Validate would refuse.
type looseStore struct{ rec apikey.Record }

func (s looseStore) Lookup(_ context.Context, h apikey.Hash) (*apikey.Record, error) {
	if h != s.rec.Hash {
		return nil, audit.ReasonUnknownAPIKey
	}
	r := s.rec
	return &r, nil
}

// TestRound2KeyGrant: an API key's principal follows the scope rule of JWTs
// (no element split, tokens outside RFC 6749 §3.3 dropped), its subject
// never equals a JWT principal's with the same name (the forms
// validate.Claims.Principal gives, here from a stand-in bearer
// authenticator), and a handler that changes its principal changes nothing
// for the next request.
func TestRound2KeyGrant(t *testing.T) {
	const iss = "https://auth.example.com"
	tokens := oauthTokens{ // example_test.go
		"user.alice":   {Subject: "user:" + iss + "#alice", Credential: audit.CredentialJWT, Issuer: iss, ClientID: "web"},
		"client.alice": {Subject: "client:" + iss + "#alice", Credential: audit.CredentialJWT, Issuer: iss, ClientID: "alice"},
	}
	key, rec, err := apikey.Generate("sk_test_", apikey.Record{Owner: "alice", Scopes: []string{"tools:read"}})
	require.NoError(t, err)
	rec.Scopes = []string{"tools:read", "tools:write admin", `"admin"`, "tools:read", "t\u00e9l\u00e9"}
	auth, err := apikey.New(apikey.Config{Store: looseStore{rec}, Prefix: "sk_test_", Bearer: tokens})
	require.NoError(t, err)

	var mu sync.Mutex
	var grants []rsguard.Principal
	srv := httptest.NewServer(guarded(t, auth, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rsguard.FromContext(r.Context())
		c := *p
		c.Scopes = append([]string(nil), p.Scopes...)
		c.Details = nil
		mu.Lock()
		grants = append(grants, c)
		mu.Unlock()
		if len(p.Scopes) > 0 {
			p.Scopes[0] = "admin"
		}
		p.Scopes = append(p.Scopes, "admin")
		p.Subject = "root"
	})))
	t.Cleanup(srv.Close)
	do := func(h, val string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set(h, val)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, do("X-API-Key", key))
	require.Equal(t, http.StatusOK, do("X-API-Key", key))
	require.Equal(t, http.StatusOK, do("Authorization", "Bearer user.alice"))
	require.Equal(t, http.StatusOK, do("Authorization", "Bearer client.alice"))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, grants, 4)

	assert.Equal(t, []string{"tools:read"}, grants[0].Scopes, "only RFC 6749 scope tokens, never split")
	assert.Equal(t, "apikey:owner:alice", grants[0].Subject)
	assert.Equal(t, audit.CredentialAPIKey, grants[0].Credential)
	assert.Equal(t, grants[0], grants[1], "the first handler's changes are not seen by the second request")
	assert.Equal(t, []string{"tools:read", "tools:write admin", `"admin"`, "tools:read", "t\u00e9l\u00e9"}, rec.Scopes, "the store's record is untouched")
	principals := map[string]bool{}
	for _, g := range grants[1:] {
		principals[g.Subject] = true
	}
	assert.Len(t, principals, 3, "API key, user and client principals named alice all differ: %v", principals)
}

// TestRound2KeyPrincipals: an owner's key and a client-only key of the same
// name are different principals.
func TestRound2KeyPrincipals(t *testing.T) {
	store := new(apikey.MemoryStore)
	byOwner, rec, err := apikey.Generate("sk_test_", apikey.Record{Owner: "alice", ClientID: "reporting"})
	require.NoError(t, err)
	require.NoError(t, store.Put(rec))
	byClient, rec, err := apikey.Generate("sk_test_", apikey.Record{ClientID: "alice"})
	require.NoError(t, err)
	require.NoError(t, store.Put(rec))
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: "sk_test_"})
	require.NoError(t, err)
	subject := func(key string) string {
		req := httptest.NewRequest(http.MethodGet, "https://api.example.com/mcp", nil)
		req.Header.Set("X-API-Key", key)
		var got string
		rec := httptest.NewRecorder()
		guarded(t, auth, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := rsguard.FromContext(r.Context())
			got = p.Subject
		})).ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		return got
	}
	assert.Equal(t, "apikey:owner:alice", subject(byOwner))
	assert.Equal(t, "apikey:client:alice", subject(byClient))
}

// TestRound2ResourceMetadataLoopbackRule: the ResourceMetadata of the keys'
// answers, configured on the Guard that runs the Authenticator (keys only
// here), is https, or http on a loopback host only.
func TestRound2ResourceMetadataLoopbackRule(t *testing.T) {
	auth, err := apikey.New(apikey.Config{Store: new(apikey.MemoryStore), Prefix: "sk_test_"})
	require.NoError(t, err)
	build := func(u string) error {
		_, err := rsguard.New(rsguard.Config{Authenticator: auth, ResourceMetadata: u})
		return err
	}
	const path = "/.well-known/oauth-protected-resource/mcp"
	for _, h := range loopbacktest.Hostile() {
		assert.ErrorIs(t, build("http://"+h.Host+path), rsguard.ErrInvalidConfig, "http://%s (%s)", h.Host, h.Why)
		if !strings.Contains(h.Host, "%") {
			assert.NoError(t, build("https://"+h.Host+path), "https://%s", h.Host)
		}
	}
	for _, h := range loopbacktest.Genuine() {
		assert.NoError(t, build("http://"+h.Host+path), "http://%s", h.Host)
	}
}

// TestRound2PolicyLinkLoopbackRule: the migration Link follows the same rule.
func TestRound2PolicyLinkLoopbackRule(t *testing.T) {
	a, err := apikey.New(apikey.Config{Store: new(apikey.MemoryStore), Prefix: "sk_test_"})
	require.NoError(t, err)
	for _, h := range loopbacktest.Hostile() {
		p := apikey.Policy{Link: "http://" + h.Host + "/migrate"}
		assert.ErrorIs(t, a.SetPolicy(p), rsguard.ErrInvalidConfig, "http://%s (%s)", h.Host, h.Why)
	}
	for _, h := range loopbacktest.Genuine() {
		p := apikey.Policy{Link: "http://" + h.Host + "/migrate"}
		assert.NoError(t, a.SetPolicy(p), "http://%s", h.Host)
	}
	p := apikey.Policy{Link: "https://docs.example.com/migrate"}
	assert.NoError(t, a.SetPolicy(p))
}
