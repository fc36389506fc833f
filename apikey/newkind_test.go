package apikey_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
)

// A credential kind that no library package defines, written here: a
// session cookie "sid=<id>.<hex HMAC-SHA256 of id>" signed by this server.
// It plugs into the apikey Authenticator as its Bearer, and into the Guard,
// without editing any library package.

// credentialSession names the kind in audit decisions.
const credentialSession audit.Credential = "session"

var errBadSession = errors.New("session: invalid session cookie")

// session is the kind's Details: what its principals carry beyond the
// common fields.
type session struct{ ID string }

type sessionKind struct {
	secret []byte
	users  map[string]string // session id -> user
	calls  atomic.Int64
}

func (s *sessionKind) sign(id string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(id))
	return id + "." + hex.EncodeToString(m.Sum(nil))
}

// Authenticate implements rsguard.Authenticator.
func (s *sessionKind) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	s.calls.Add(1)
	c, err := r.Cookie("sid")
	if err != nil {
		return nil, &rsguard.Error{Status: http.StatusUnauthorized, Err: audit.ReasonNoCredential, Reason: audit.ReasonNoCredential}
	}
	refuse := &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: "the session is not valid",
		Err: errBadSession, Reason: audit.ReasonBadSignature, Credential: credentialSession}
	id, _, _ := strings.Cut(c.Value, ".")
	if !hmac.Equal([]byte(c.Value), []byte(s.sign(id))) {
		return nil, refuse
	}
	user, ok := s.users[id]
	if !ok {
		return nil, refuse
	}
	return &rsguard.Principal{Subject: "session:" + user, Credential: credentialSession, Scopes: []string{"tools:read"},
		TokenID: id, Details: &session{ID: id}}, nil
}

// TestNewCredentialKind: the session kind above, composed as the Bearer of
// an apikey Authenticator and run by a Guard, authenticates its requests
// with its own principal and its own refusals (and the key challenge when
// keys are advertised), while API keys keep working beside it and never
// reach it; decisions name the new kind.
func TestNewCredentialKind(t *testing.T) {
	sessions := &sessionKind{secret: []byte("test secret"), users: map[string]string{"s1": "alice"}}
	key, rec, err := apikey.Generate("sk_test_", apikey.Record{Owner: "bob", Scopes: []string{"tools:write"}})
	require.NoError(t, err)
	store, err := apikey.NewMemoryStore(rec)
	require.NoError(t, err)
	auth, err := apikey.New(apikey.Config{Store: store, Prefix: "sk_test_", Bearer: sessions, AdvertiseKeyChallenge: true})
	require.NoError(t, err)

	var mu sync.Mutex
	var decisions []audit.Decision
	guard, err := rsguard.New(rsguard.Config{
		Authenticator:    auth,
		ResourceMetadata: metadataURL,
		OnDecision: func(_ context.Context, d audit.Decision) {
			mu.Lock()
			defer mu.Unlock()
			decisions = append(decisions, d)
		},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rsguard.FromContext(r.Context())
		_, isKey := apikey.FromContext(r.Context())
		s, isSession := p.Details.(*session)
		id := ""
		if isSession {
			id = s.ID
		}
		w.Header().Set("X-Seen", strings.Join([]string{p.Subject, string(p.Credential), strings.Join(p.Scopes, " "), id,
			map[bool]string{true: "key", false: "no key"}[isKey], r.Header.Get("X-API-Key")}, "|"))
	})))
	defer srv.Close()

	const keyChallenge = `APIKey header="X-API-Key"`
	bearer := func(desc string) string {
		s := `Bearer resource_metadata="` + metadataURL + `"`
		if desc != "" {
			s += `, error="invalid_token", error_description="` + desc + `"`
		}
		return s
	}
	for _, tc := range []struct {
		name       string
		cookie     string
		key        string
		status     int
		seen       string
		challenges []string
		reason     audit.Reason
		credential audit.Credential
		sessions   int64 // calls to the session kind
	}{
		{name: "session", cookie: sessions.sign("s1"), status: 200, seen: "session:alice|session|tools:read|s1|no key|",
			reason: audit.ReasonOK, credential: credentialSession, sessions: 1},
		{name: "forged session", cookie: "s1.00", status: 401, challenges: []string{bearer("the session is not valid"), keyChallenge},
			reason: audit.ReasonBadSignature, credential: credentialSession, sessions: 1},
		{name: "unknown session", cookie: sessions.sign("s2"), status: 401, challenges: []string{bearer("the session is not valid"), keyChallenge},
			reason: audit.ReasonBadSignature, credential: credentialSession, sessions: 1},
		{name: "no credential", status: 401, challenges: []string{bearer(""), keyChallenge}, reason: audit.ReasonNoCredential, sessions: 1},
		{name: "key", key: key, status: 200, seen: "apikey:owner:bob|apikey|tools:write||key|", reason: audit.ReasonOK, credential: audit.CredentialAPIKey},
		{name: "key and session: the key decides", key: key, cookie: "s1.00", status: 200, seen: "apikey:owner:bob|apikey|tools:write||key|",
			reason: audit.ReasonOK, credential: audit.CredentialAPIKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			decisions = nil
			mu.Unlock()
			calls := sessions.calls.Load()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "sid", Value: tc.cookie})
			}
			if tc.key != "" {
				req.Header.Set("X-API-Key", tc.key)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, tc.seen, resp.Header.Get("X-Seen"))
			assert.Equal(t, tc.challenges, resp.Header.Values("WWW-Authenticate"))
			assert.Equal(t, tc.sessions, sessions.calls.Load()-calls, "calls to the session kind")
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, decisions, 1)
			assert.Equal(t, tc.reason, decisions[0].Reason)
			assert.Equal(t, tc.credential, decisions[0].Credential)
		})
	}
	u := auth.Usage()
	assert.Equal(t, apikey.Counts{Accepted: 1, Rejected: 2}, u.Bearer, "sessions, counted as the bearer side")
	assert.Equal(t, apikey.Counts{Accepted: 2}, u.APIKey)
	assert.Equal(t, uint64(1), u.Anonymous)
}
