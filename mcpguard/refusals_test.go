package mcpguard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/mcpguard"
)

// TestSessionsNotFoundIdentical: a session bound to someone else is
// answered byte for byte as an unknown one, echoing neither id nor
// principal.
func TestSessionsNotFoundIdentical(t *testing.T) {
	h := newHarness(t, mcpguard.SessionConfig{}, &fakeMCP{}, true)
	id := h.open("user.alice")
	unknown := h.do(http.MethodPost, "user.bob", strings.Replace(id, "session", "sessiom", 1))
	notOwned := h.do(http.MethodPost, "user.bob", id)
	assert.Equal(t, []audit.Reason{audit.ReasonUnknownSession, audit.ReasonSessionNotOwned}, h.reasons())
	for _, res := range []response{unknown, notOwned} {
		assert.Equal(t, http.StatusNotFound, res.status)
		assert.Equal(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"session not found"}}`+"\n", res.body)
		assert.Equal(t, "application/json", res.header.Get("Content-Type"))
		assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
		assert.NotContains(t, res.body, "session-")
		assert.NotContains(t, res.body, "bob")
	}
	for _, hdr := range []http.Header{unknown.header, notOwned.header} {
		hdr.Del("Date")
	}
	assert.Equal(t, unknown.header, notOwned.header)
}

// TestSessionsMalformed: two session headers are a bad request; an id that
// is not 1-256 visible ASCII characters is unknown. Neither reaches the
// server.
func TestSessionsMalformed(t *testing.T) {
	mcp := &fakeMCP{}
	h := newHarness(t, mcpguard.SessionConfig{}, mcp, true)
	id := h.open("user.alice")
	seen := mcp.requests()
	for _, tc := range []struct {
		name   string
		ids    []string
		status int
		reason audit.Reason
	}{
		{"two headers", []string{id, id}, http.StatusBadRequest, audit.ReasonInvalidRequest},
		{"two ids", []string{id, "other"}, http.StatusBadRequest, audit.ReasonInvalidRequest},
		{"space", []string{"a b"}, http.StatusNotFound, audit.ReasonUnknownSession},
		{"tab", []string{"a\tb"}, http.StatusNotFound, audit.ReasonUnknownSession},
		{"not ASCII", []string{"séance"}, http.StatusNotFound, audit.ReasonUnknownSession},
		{"too long", []string{strings.Repeat("s", 257)}, http.StatusNotFound, audit.ReasonUnknownSession},
		{"empty", []string{""}, http.StatusNotFound, audit.ReasonUnknownSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
				res := h.do(method, "user.alice", tc.ids...)
				assert.Equal(t, tc.status, res.status)
				assert.Equal(t, []audit.Reason{tc.reason}, h.reasons())
				if tc.status == http.StatusBadRequest {
					assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"more than one session id"}}`, res.body)
				}
			}
		})
	}
	assert.Equal(t, seen, mcp.requests())
	assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "user.alice", id).status)
}

// TestSessionsFull: a full default store refuses new sessions with 503 —
// up front for a POST without a session, at binding otherwise, dropping
// the server's answer — and never evicts a live binding; expired ones make
// room.
func TestSessionsFull(t *testing.T) {
	mcp := &fakeMCP{}
	h := newHarness(t, mcpguard.SessionConfig{MaxSessions: 1, IdleTimeout: time.Minute}, mcp, true)
	id := h.open("user.alice")

	seen := mcp.requests()
	res := h.do(http.MethodPost, "user.bob")
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Equal(t, "30", res.header.Get("Retry-After"))
	assert.Empty(t, res.header.Values("Mcp-Session-Id"))
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"too many sessions"}}`, res.body)
	assert.Equal(t, seen, mcp.requests(), "refused up front")

	// The server replaces alice's session by a new one: no room to bind it.
	res = h.doWith(http.MethodPost, "user.alice", http.Header{"X-Rotate": {"1"}}, id)
	assert.Equal(t, seen+1, mcp.requests())
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Equal(t, "30", res.header.Get("Retry-After"))
	assert.Empty(t, res.header.Values("Mcp-Session-Id"), "the new id is dropped")
	assert.Empty(t, res.header.Get("X-Server"), "so are the server's other headers")
	assert.Equal(t, "kept", res.header.Get("X-Outer"), "not those set before the server ran")
	assert.NotContains(t, res.body, serverBody)
	assert.Equal(t, []audit.Reason{audit.ReasonTooManySessions, audit.ReasonTooManySessions}, h.reasons())

	for range 3 {
		h.clock.Add(59 * time.Second)
		assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "user.alice", id).status, "the live binding stays")
		assert.Equal(t, http.StatusServiceUnavailable, h.do(http.MethodPost, "user.bob").status)
	}
	h.clock.Add(time.Minute)
	bob := h.open("user.bob")
	assert.Equal(t, http.StatusOK, h.do(http.MethodGet, "user.bob", bob).status, "an expired binding made room")
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodGet, "user.alice", id).status)
}

// TestSessionsPerOwner: a caller holding MaxSessionsPerOwner live sessions
// is refused a new one with 503 — up front for a POST without a session,
// at binding when the server rotates one — while other callers still open
// sessions; her deleted or expired sessions give her room again.
func TestSessionsPerOwner(t *testing.T) {
	mcp := &fakeMCP{}
	h := newHarness(t, mcpguard.SessionConfig{MaxSessionsPerOwner: 2, IdleTimeout: time.Minute}, mcp, true)
	first := h.open("user.mallory")
	h.clock.Add(30 * time.Second)
	second := h.open("user.mallory")

	seen := mcp.requests()
	res := h.do(http.MethodPost, "user.mallory")
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Equal(t, "30", res.header.Get("Retry-After"))
	assert.Empty(t, res.header.Values("Mcp-Session-Id"))
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"too many sessions"}}`, res.body)
	assert.Equal(t, seen, mcp.requests(), "refused up front")
	res = h.doWith(http.MethodPost, "user.mallory", http.Header{"X-Rotate": {"1"}}, first)
	assert.Equal(t, http.StatusServiceUnavailable, res.status, "a rotated session is a new one")
	assert.Empty(t, res.header.Values("Mcp-Session-Id"))
	assert.Equal(t, []audit.Reason{audit.ReasonTooManySessions, audit.ReasonTooManySessions}, h.reasons())

	for _, id := range []string{first, second} {
		assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "user.mallory", id).status, "her live sessions stay")
	}
	for _, token := range []string{"user.alice", "user.alice", "client.mallory", "key.mallory"} {
		assert.NotEmpty(t, h.open(token), "%s is unaffected", token)
	}

	assert.Equal(t, http.StatusNoContent, h.do(http.MethodDelete, "user.mallory", first).status)
	third := h.open("user.mallory")
	assert.Equal(t, http.StatusServiceUnavailable, h.do(http.MethodPost, "user.mallory").status)
	h.clock.Add(30 * time.Second)
	assert.Equal(t, http.StatusOK, h.do(http.MethodGet, "user.mallory", third).status)
	assert.Equal(t, http.StatusServiceUnavailable, h.do(http.MethodPost, "user.mallory").status)
	h.clock.Add(30 * time.Second) // second expires, a minute after its last use
	assert.NotEmpty(t, h.open("user.mallory"), "an expired session gives room")
	assert.Equal(t, http.StatusOK, h.do(http.MethodGet, "user.mallory", third).status)
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodGet, "user.mallory", second).status)
}

// TestSessionsServerForgot: the server answering 404 to its owner's
// request with a session (restarted, or timed the session out) ends the
// binding; any other status, or another caller's 404, keeps it.
func TestSessionsServerForgot(t *testing.T) {
	var forgotten atomic.Bool
	mcp := &fakeMCP{}
	server := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Session-Id") != "" && forgotten.Load() {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		mcp.ServeHTTP(w, r)
	})
	h := newHarness(t, mcpguard.SessionConfig{MaxSessionsPerOwner: 1}, server, true)
	id := h.open("user.alice")
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "user.bob", id).status, "not bob's")
	assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "user.alice", id).status, "bob's refusal kept it")
	h.reasons()

	forgotten.Store(true)
	seen := mcp.requests()
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodGet, "user.alice", id).status, "the server's 404")
	assert.Empty(t, h.reasons(), "the server's answer, not a refusal")
	forgotten.Store(false)
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "user.alice", id).status, "unbound")
	assert.Equal(t, []audit.Reason{audit.ReasonUnknownSession}, h.reasons())
	assert.Equal(t, seen, mcp.requests(), "the server never saw the id again")
	assert.NotEmpty(t, h.open("user.alice"), "her slot is free again")
}

// failingStore is a SessionStore whose operations fail while their flag
// is set, and otherwise bind to one owner, forever.
type failingStore struct {
	mu                         sync.Mutex
	bound                      map[string]string
	failBind, failUse, failDel bool
	calls                      int
}

var errBroken = errors.New("store: connection refused")

func (s *failingStore) Bind(_ context.Context, id, owner string, _, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failBind {
		return errBroken
	}
	if s.bound == nil {
		s.bound = map[string]string{}
	}
	if bound, ok := s.bound[id]; ok && bound != owner {
		return audit.ReasonSessionNotOwned
	}
	s.bound[id] = owner
	return nil
}

func (s *failingStore) Use(_ context.Context, id, owner string, _, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failUse {
		return errBroken
	}
	switch bound, ok := s.bound[id]; {
	case !ok:
		return audit.ReasonUnknownSession
	case bound != owner:
		return audit.ReasonSessionNotOwned
	}
	return nil
}

func (s *failingStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failDel {
		return errBroken
	}
	delete(s.bound, id)
	return nil
}

func (s *failingStore) set(bind, use, del bool) {
	s.mu.Lock()
	s.failBind, s.failUse, s.failDel = bind, use, del
	s.mu.Unlock()
}

// TestSessionsStoreFailure: a failing store is answered 503 with
// Retry-After, and logged once a minute without any session id.
func TestSessionsStoreFailure(t *testing.T) {
	store := &failingStore{}
	mcp := &fakeMCP{}
	h := newHarness(t, mcpguard.SessionConfig{Store: store}, mcp, true)
	id := h.open("user.alice")

	store.set(true, true, false)
	seen := mcp.requests()
	for range 10 {
		res := h.do(http.MethodPost, "user.alice", id)
		assert.Equal(t, http.StatusServiceUnavailable, res.status)
		assert.Equal(t, "5", res.header.Get("Retry-After"))
		assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"session store unavailable"}}`, res.body)
	}
	assert.Equal(t, seen, mcp.requests())
	res := h.do(http.MethodPost, "user.bob")
	assert.Equal(t, http.StatusServiceUnavailable, res.status, "binding failed")
	assert.Equal(t, "5", res.header.Get("Retry-After"))
	assert.Empty(t, res.header.Values("Mcp-Session-Id"))
	assert.Equal(t, seen+1, mcp.requests())
	for _, r := range h.reasons() {
		assert.Equal(t, audit.ReasonStoreUnavailable, r)
	}
	logs := h.logs.String()
	assert.Equal(t, 1, strings.Count(logs, "session store failed"), logs)
	assert.Contains(t, logs, "connection refused")
	assert.NotContains(t, logs, "session-")

	h.clock.Add(time.Minute)
	assert.Equal(t, http.StatusServiceUnavailable, h.do(http.MethodGet, "user.alice", id).status)
	logs = h.logs.String()
	assert.Equal(t, 2, strings.Count(logs, "session store failed"), logs)
	assert.Contains(t, logs, "suppressed=10")

	// A DELETE the server accepted stands when the binding cannot be deleted.
	store.set(false, false, true)
	h.clock.Add(time.Minute)
	assert.Equal(t, http.StatusNoContent, h.do(http.MethodDelete, "user.alice", id).status)
	assert.Contains(t, h.logs.String(), "op=delete")
}

// errStore is a SessionStore that binds and deletes anything and answers
// every Use with err.
type errStore struct{ err error }

func (errStore) Bind(context.Context, string, string, time.Time, time.Time) error { return nil }
func (s errStore) Use(context.Context, string, string, time.Time, time.Time) error {
	return s.err
}
func (errStore) Delete(context.Context, string) error { return nil }

// TestSessionsStoreOtherErrors: only errors wrapping the unknown and
// not-owned reasons are answered 404; any other error from Use, bare or
// wrapping an unrelated reason, is the store's failure: 503, logged.
func TestSessionsStoreOtherErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"bare", errors.New("store: i/o timeout")},
		{"context", context.DeadlineExceeded},
		{"another reason", fmt.Errorf("store: %w", audit.ReasonTooManySessions)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mcp := &fakeMCP{}
			h := newHarness(t, mcpguard.SessionConfig{Store: errStore{tc.err}}, mcp, true)
			id := h.open("user.alice")
			seen := mcp.requests()
			res := h.do(http.MethodPost, "user.alice", id)
			assert.Equal(t, http.StatusServiceUnavailable, res.status)
			assert.Equal(t, "5", res.header.Get("Retry-After"))
			assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"session store unavailable"}}`, res.body)
			assert.Equal(t, seen, mcp.requests(), "the server never saw it")
			assert.Equal(t, []audit.Reason{audit.ReasonStoreUnavailable}, h.reasons())
			logs := h.logs.String()
			assert.Contains(t, logs, "session store failed")
			assert.Contains(t, logs, "op=use")
			assert.NotContains(t, logs, id)
		})
	}
}

// TestSessionsServerIDs: a server issuing an id bound to another principal,
// or an id no client could send back, gets its answer replaced by a 500.
func TestSessionsServerIDs(t *testing.T) {
	h := newHarness(t, mcpguard.SessionConfig{}, &fakeMCP{fixedID: "the-one-session"}, true)
	assert.Equal(t, "the-one-session", h.open("user.alice"))
	assert.Equal(t, "the-one-session", h.open("user.alice"), "the same owner: extended")
	res := h.do(http.MethodPost, "user.bob")
	assert.Equal(t, http.StatusInternalServerError, res.status)
	assert.Empty(t, res.header.Values("Mcp-Session-Id"))
	assert.Equal(t, []audit.Reason{audit.ReasonSessionNotOwned}, h.reasons())
	assert.Contains(t, h.logs.String(), "bound to another principal")

	for _, bad := range []string{"has space", strings.Repeat("x", 257)} {
		h := newHarness(t, mcpguard.SessionConfig{}, &fakeMCP{fixedID: bad}, true)
		res := h.do(http.MethodPost, "user.alice")
		assert.Equal(t, http.StatusInternalServerError, res.status)
		assert.Empty(t, res.header.Values("Mcp-Session-Id"))
		assert.Equal(t, []audit.Reason{audit.ReasonInternalError}, h.reasons())
	}

	// Set without a write: net/http would send it with a 200, so it is bound.
	silent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Session-Id") == "" {
			w.Header().Set("Mcp-Session-Id", "silent-session")
		}
	})
	h = newHarness(t, mcpguard.SessionConfig{}, silent, true)
	res = h.do(http.MethodPost, "user.alice")
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "silent-session", res.header.Get("Mcp-Session-Id"))
	assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "user.alice", "silent-session").status)
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "user.bob", "silent-session").status)
}
