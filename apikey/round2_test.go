package apikey_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/internal/loopback/loopbacktest"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// looseStore stands for a store apikey does not control (a database): it
// returns records that Record.Validate would refuse.
type looseStore struct{ rec apikey.Record }

func (s looseStore) Lookup(_ context.Context, h apikey.Hash) (*apikey.Record, error) {
	if h != s.rec.Hash {
		return nil, apikey.ErrUnknown
	}
	r := s.rec
	return &r, nil
}

// TestRound2KeyGrant: an API key's grant follows the scope rule of JWTs (no
// element split, tokens outside RFC 6749 §3.3 dropped), its principal never
// equals a JWT principal with the same name, and a handler that changes its
// grant changes nothing for the next request.
func TestRound2KeyGrant(t *testing.T) {
	is := validatetest.NewIssuer(t, &validatetest.Options{Audience: []string{"https://api.example.com/mcp"}})
	v, err := validate.New(context.Background(), validate.Config{Issuer: is.URL(), Resource: "https://api.example.com/mcp", HTTPClient: is.Client()})
	require.NoError(t, err)
	key, rec, err := apikey.Generate("sk_test_", apikey.Record{Owner: "alice", Scopes: []string{"tools:read"}})
	require.NoError(t, err)
	rec.Scopes = []string{"tools:read", "tools:write admin", `"admin"`, "tools:read", "t\u00e9l\u00e9"}
	auth, err := apikey.New(apikey.Config{Store: looseStore{rec}, Prefix: "sk_test_", Validator: v})
	require.NoError(t, err)

	var grants []scopes.Grant
	srv := httptest.NewServer(auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, _ := scopes.FromContext(r.Context())
		c := *g
		c.Scopes = append([]string(nil), g.Scopes...)
		grants = append(grants, c)
		if len(g.Scopes) > 0 {
			g.Scopes[0] = "admin"
		}
		g.Scopes = append(g.Scopes, "admin")
		g.Subject = "root"
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
	require.Equal(t, http.StatusOK, do("Authorization", "Bearer "+is.Token(map[string]any{"sub": "alice", "client_id": "web"})))
	require.Equal(t, http.StatusOK, do("Authorization", "Bearer "+is.Token(map[string]any{"sub": nil, "client_id": "alice"})))
	require.Len(t, grants, 4)

	assert.Equal(t, []string{"tools:read"}, grants[0].Scopes, "only RFC 6749 scope tokens, never split")
	assert.Equal(t, "apikey:owner:alice", grants[0].Subject)
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
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: "sk_test_", ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource/mcp"})
	require.NoError(t, err)
	subject := func(key string) string {
		req := httptest.NewRequest(http.MethodGet, "https://api.example.com/mcp", nil)
		req.Header.Set("X-API-Key", key)
		var got string
		rec := httptest.NewRecorder()
		auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g, _ := scopes.FromContext(r.Context())
			got = g.Subject
		})).ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		return got
	}
	assert.Equal(t, "apikey:owner:alice", subject(byOwner))
	assert.Equal(t, "apikey:client:alice", subject(byClient))
}

// TestRound2ResourceMetadataLoopbackRule: without a Validator, the
// configured ResourceMetadata is https, or http on a loopback host only.
func TestRound2ResourceMetadataLoopbackRule(t *testing.T) {
	build := func(u string) error {
		_, err := apikey.New(apikey.Config{Store: new(apikey.MemoryStore), Prefix: "sk_test_", ResourceMetadata: u})
		return err
	}
	const path = "/.well-known/oauth-protected-resource/mcp"
	for _, h := range loopbacktest.Hostile() {
		assert.ErrorIs(t, build("http://"+h.Host+path), apikey.ErrInvalidConfig, "http://%s (%s)", h.Host, h.Why)
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
	for _, h := range loopbacktest.Hostile() {
		p := apikey.Policy{Link: "http://" + h.Host + "/migrate"}
		assert.ErrorIs(t, p.Validate(), apikey.ErrInvalidConfig, "http://%s (%s)", h.Host, h.Why)
	}
	for _, h := range loopbacktest.Genuine() {
		p := apikey.Policy{Link: "http://" + h.Host + "/migrate"}
		assert.NoError(t, p.Validate(), "http://%s", h.Host)
	}
	p := apikey.Policy{Link: "https://docs.example.com/migrate"}
	assert.NoError(t, p.Validate())
}
