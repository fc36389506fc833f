package validate_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/validate"
)

func newDenyList(t testing.TB, clk *clock, lifetime time.Duration) *validate.DenyList {
	t.Helper()
	d, err := validate.NewDenyList(validate.DenyListConfig{MaxTokenLifetime: lifetime, Now: clk.Now})
	require.NoError(t, err)
	return d
}

func TestDenyList(t *testing.T) {
	const iss, other = "https://as.example", "https://other.example"
	t0 := fixedNow
	token := func(mod func(*validate.Claims)) *validate.Claims {
		c := &validate.Claims{Issuer: iss, Subject: "alice", ClientID: "agent", SessionID: "s-1", ID: "jti-1",
			IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if mod != nil {
			mod(c)
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		revoke func(*validate.DenyList) error
		claims *validate.Claims
		want   bool
	}{
		{"empty list", func(*validate.DenyList) error { return nil }, token(nil), false},
		{"token id", func(d *validate.DenyList) error { return d.RevokeToken(iss, "jti-1", t0.Add(time.Hour)) }, token(nil), true},
		{"another token id", func(d *validate.DenyList) error { return d.RevokeToken(iss, "jti-2", time.Time{}) }, token(nil), false},
		{"token id of another issuer", func(d *validate.DenyList) error { return d.RevokeToken(other, "jti-1", t0.Add(time.Hour)) }, token(nil), false},
		{"token id whatever iat", func(d *validate.DenyList) error { return d.RevokeToken(iss, "jti-1", time.Time{}) },
			token(func(c *validate.Claims) { c.IssuedAt = t0.Add(time.Hour) }), true},
		{"subject, issued before", func(d *validate.DenyList) error { return d.RevokeSubject(iss, "alice", t0.Add(time.Second)) }, token(nil), true},
		{"subject, issued at the cut-off", func(d *validate.DenyList) error { return d.RevokeSubject(iss, "alice", t0) }, token(nil), false},
		{"subject, issued after", func(d *validate.DenyList) error { return d.RevokeSubject(iss, "alice", t0.Add(-time.Minute)) }, token(nil), false},
		{"subject, no iat", func(d *validate.DenyList) error { return d.RevokeSubject(iss, "alice", t0.Add(-time.Minute)) },
			token(func(c *validate.Claims) { c.IssuedAt = time.Time{} }), true},
		{"subject of another issuer", func(d *validate.DenyList) error { return d.RevokeSubject(other, "alice", t0.Add(time.Hour)) }, token(nil), false},
		{"same subject at another issuer", func(d *validate.DenyList) error { return d.RevokeSubject(iss, "alice", t0.Add(time.Hour)) },
			token(func(c *validate.Claims) { c.Issuer = other }), false},
		{"client", func(d *validate.DenyList) error { return d.RevokeClient(iss, "agent", t0.Add(time.Second)) }, token(nil), true},
		{"another client", func(d *validate.DenyList) error { return d.RevokeClient(iss, "cron", t0.Add(time.Second)) }, token(nil), false},
		{"session", func(d *validate.DenyList) error { return d.RevokeSession(iss, "s-1", t0.Add(time.Second)) }, token(nil), true},
		{"session, token without sid", func(d *validate.DenyList) error { return d.RevokeSession(iss, "s-1", t0.Add(time.Second)) },
			token(func(c *validate.Claims) { c.SessionID = "" }), false},
		{"later cut-off wins", func(d *validate.DenyList) error {
			return errors.Join(d.RevokeSubject(iss, "alice", t0.Add(time.Second)), d.RevokeSubject(iss, "alice", t0.Add(-time.Hour)))
		}, token(nil), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDenyList(t, newClock(t0), 0)
			require.NoError(t, tc.revoke(d))
			got, err := d.Revoked(context.Background(), tc.claims)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// sharedStore is what a team writes over Redis or SQL: the interface, backed
// here by a map that several Validators (as several replicas would) share.
type sharedStore struct {
	mu      sync.Mutex
	subject map[string]time.Time // issuer + "\x00" + sub -> revoked before
	calls   atomic.Int64
	down    atomic.Bool
}

func (s *sharedStore) revokeSubject(issuer, sub string, before time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subject[issuer+"\x00"+sub] = before
}

func (s *sharedStore) Revoked(_ context.Context, c *validate.Claims) (bool, error) {
	s.calls.Add(1)
	if s.down.Load() {
		return false, errors.New("dial tcp 10.0.0.7:6379: connection refused")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before, ok := s.subject[c.Issuer+"\x00"+c.Subject]
	return ok && (c.IssuedAt.IsZero() || c.IssuedAt.Before(before)), nil
}

// Two Guards over two Validators (each with its own verified-token cache, as
// two replicas have) share one revocation store: a revocation made
// through one is refused by both, at once, cached tokens included.
func TestRevocationAcrossMiddlewares(t *testing.T) {
	for _, kind := range []string{"DenyList", "shared store"} {
		t.Run(kind, func(t *testing.T) {
			is := newIssuer(t, nil)
			clk := newClock(fixedNow)
			var (
				store  validate.Revocations
				revoke func(issuer, sub string, before time.Time) error // called by the /logout handler
			)
			if kind == "DenyList" {
				d := newDenyList(t, clk, time.Hour)
				store = d
				revoke = d.RevokeSubject
			} else {
				s := &sharedStore{subject: map[string]time.Time{}}
				store = s
				revoke = func(issuer, sub string, before time.Time) error { s.revokeSubject(issuer, sub, before); return nil }
			}
			var servers [2]*httptest.Server
			for i := range servers {
				v := newValidator(t, is, func(c *validate.Config) {
					c.Now = clk.Now
					c.Revocations = store
				})
				mux := http.NewServeMux()
				mux.Handle("/mcp", guarded(t, v, whoami, nil))
				// The admin endpoint of instance 0 revokes the caller's subject
				// ("log out everywhere").
				mux.Handle("POST /logout", guarded(t, v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					c, _ := validate.ClaimsFromContext(r.Context())
					// On the server's goroutine: a failure is the answer's
					// status, which the test goroutine checks.
					if err := revoke(c.Issuer, c.Subject, clk.Now()); err != nil {
						http.Error(w, err.Error(), http.StatusInternalServerError)
						return
					}
					w.WriteHeader(http.StatusNoContent)
				}), nil))
				servers[i] = httptest.NewServer(mux)
				t.Cleanup(servers[i].Close)
			}
			alice := is.Token(map[string]any{"sub": "alice", "scope": "tools:read"})
			bob := is.Token(map[string]any{"sub": "bob", "scope": "tools:read"})
			get := func(srv *httptest.Server, method, path, tok string) *http.Response {
				req, err := http.NewRequest(method, srv.URL+path, nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := srv.Client().Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res
			}
			for _, srv := range servers {
				for range 2 { // the second request is a cache hit
					require.Equal(t, http.StatusOK, get(srv, "GET", "/mcp", alice).StatusCode)
				}
			}

			clk.Advance(time.Minute)
			require.Equal(t, http.StatusNoContent, get(servers[0], "POST", "/logout", alice).StatusCode)

			for i, srv := range servers {
				res := get(srv, "GET", "/mcp", alice)
				assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "instance %d", i)
				assert.Equal(t, `Bearer resource_metadata="`+metadataURL+`", error="invalid_token", error_description="the access token was revoked"`,
					res.Header.Get("WWW-Authenticate"), "instance %d", i)
				assert.Equal(t, http.StatusOK, get(srv, "GET", "/mcp", bob).StatusCode, "another subject is unaffected (instance %d)", i)
			}

			// A token the authorization server issues after the revocation works.
			clk.Advance(time.Minute)
			fresh := is.Token(map[string]any{"sub": "alice", "iat": clk.Now().Unix(), "exp": clk.Now().Add(5 * time.Minute).Unix()})
			for _, srv := range servers {
				assert.Equal(t, http.StatusOK, get(srv, "GET", "/mcp", fresh).StatusCode)
			}
		})
	}
}

func TestRevocationStoreFailure(t *testing.T) {
	is := newIssuer(t, nil)
	tok := is.Token(nil)
	for _, tc := range []struct {
		name     string
		failOpen bool
		status   int
		header   string
		logged   string
	}{
		{"fail closed (default)", false, http.StatusServiceUnavailable,
			`Bearer resource_metadata="` + metadataURL + `"`, "request refused"},
		{"fail open", true, http.StatusOK, "", "token accepted (RevocationFailOpen)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &sharedStore{subject: map[string]time.Time{}}
			store.down.Store(true)
			var logs bytes.Buffer
			v := newValidator(t, is, func(c *validate.Config) {
				c.Revocations = store
				c.RevocationFailOpen = tc.failOpen
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			for range 2 { // first sight, then the cache (on success)
				w := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/mcp", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				guarded(t, v, whoami, nil).ServeHTTP(w, req)
				assert.Equal(t, tc.status, w.Code)
				assert.Equal(t, tc.header, w.Header().Get("WWW-Authenticate"))
				if !tc.failOpen {
					assert.Equal(t, "5", w.Header().Get("Retry-After"))
				}
			}
			assert.Contains(t, logs.String(), tc.logged)
			assert.Contains(t, logs.String(), "connection refused", "the store's error is logged")
			assert.NotContains(t, logs.String(), tok)
			assert.Equal(t, int64(2), store.calls.Load())

			_, err := v.Verify(context.Background(), tok)
			if tc.failOpen {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, audit.ReasonRevocationUnavailable)
			}
		})
	}
}

// Revocations runs before Check, on cache hits too, and Check still runs.
func TestRevocationsAndCheck(t *testing.T) {
	is := newIssuer(t, nil)
	d := newDenyList(t, newClock(fixedNow), 0)
	var checks atomic.Int64
	v := newValidator(t, is, func(c *validate.Config) {
		c.Revocations = d
		c.Check = func(context.Context, *validate.Claims) error { checks.Add(1); return nil }
	})
	tok := is.Token(map[string]any{"jti": "t-1"})
	for range 2 {
		_, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(2), checks.Load())
	require.NoError(t, d.RevokeToken(is.URL, "t-1", fixedNow.Add(time.Hour)))
	_, err := v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, audit.ReasonRevoked)
	var e *rsguard.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "the access token was revoked", e.Description)
	assert.Equal(t, int64(2), checks.Load(), "a revoked token does not reach Check")
}
