package mcpguard_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/mcpguard"
)

func TestNewSessions(t *testing.T) {
	var typedNil *failingStore
	for _, tc := range []struct {
		name    string
		config  mcpguard.SessionConfig
		wantErr bool
	}{
		{name: "zero", config: mcpguard.SessionConfig{}},
		{name: "store", config: mcpguard.SessionConfig{Store: &failingStore{}, IdleTimeout: time.Minute}},
		{name: "max sessions", config: mcpguard.SessionConfig{MaxSessions: 3}},
		{name: "typed nil store", config: mcpguard.SessionConfig{Store: typedNil}, wantErr: true},
		{name: "max sessions with a store", config: mcpguard.SessionConfig{Store: &failingStore{}, MaxSessions: 3}, wantErr: true},
		{name: "negative max sessions", config: mcpguard.SessionConfig{MaxSessions: -1}, wantErr: true},
		{name: "max sessions per owner", config: mcpguard.SessionConfig{MaxSessionsPerOwner: 1}},
		{name: "max sessions per owner with a store", config: mcpguard.SessionConfig{Store: &failingStore{}, MaxSessionsPerOwner: 3}, wantErr: true},
		{name: "negative max sessions per owner", config: mcpguard.SessionConfig{MaxSessionsPerOwner: -1}, wantErr: true},
		{name: "negative idle timeout", config: mcpguard.SessionConfig{IdleTimeout: -time.Second}, wantErr: true},
		{name: "logger without handler", config: mcpguard.SessionConfig{Logger: &slog.Logger{}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := mcpguard.NewSessions(tc.config)
			if tc.wantErr {
				assert.ErrorIs(t, err, rsguard.ErrInvalidConfig)
				assert.Nil(t, s)
				return
			}
			assert.NoError(t, err)
			assert.NotNil(t, s)
		})
	}
}

// TestSessionsOwner: a session is its creator's, across token refreshes,
// for POST, GET and DELETE; any other principal — another user, a client
// or an API key with the same name — gets 404 and the server never sees
// the request.
func TestSessionsOwner(t *testing.T) {
	mcp := &fakeMCP{}
	h := newHarness(t, mcpguard.SessionConfig{}, mcp, true)
	id := h.open("user.alice")
	assert.Empty(t, h.reasons(), "nothing is decided when a request passes")

	for _, method := range []string{http.MethodPost, http.MethodGet} {
		for _, token := range []string{"user.alice", "alice-renewed"} {
			res := h.do(method, token, id)
			assert.Equal(t, http.StatusOK, res.status, "%s as %s", method, token)
		}
	}
	assert.Equal(t, "data: one\n\ndata: two\n\n", h.do(http.MethodGet, "user.alice", id).body)

	seen := mcp.requests()
	for _, token := range []string{"user.bob", "client.alice", "key.alice"} {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
			res := h.do(method, token, id)
			assert.Equal(t, http.StatusNotFound, res.status, "%s as %s", method, token)
			assert.Empty(t, res.header.Values("Mcp-Session-Id"))
			d := h.lastDecision()
			assert.Equal(t, audit.ReasonSessionNotOwned, d.Reason)
			assert.Equal(t, audit.StageAuthorize, d.Stage)
			assert.False(t, d.Allowed)
			assert.Equal(t, http.StatusNotFound, d.Status)
			assert.Equal(t, check.SessionTag(id), d.MCPSession)
			assert.Equal(t, method, d.Method)
			assert.NotEmpty(t, d.Subject)
			assert.NotEqual(t, alice, d.Subject)
			assert.False(t, d.Time.IsZero())
			assert.GreaterOrEqual(t, d.Latency, time.Duration(0))
		}
	}
	assert.Equal(t, seen, mcp.requests(), "the server never saw another principal's requests")
	assert.Len(t, h.reasons(), 9)

	res := h.do(http.MethodDelete, "alice-renewed", id)
	assert.Equal(t, http.StatusNoContent, res.status)
	for _, token := range []string{"user.alice", "user.bob"} {
		assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, token, id).status, "after DELETE, as %s", token)
	}
	assert.Equal(t, []audit.Reason{audit.ReasonUnknownSession, audit.ReasonUnknownSession}, h.reasons())
	assert.Equal(t, seen+1, mcp.requests(), "only the DELETE reached the server")
}

// TestSessionsDeleteRefused: a DELETE the server does not answer 2xx
// leaves the binding in place.
func TestSessionsDeleteRefused(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusInternalServerError} {
		h := newHarness(t, mcpguard.SessionConfig{}, &fakeMCP{deleteStatus: status}, true)
		id := h.open("user.alice")
		assert.Equal(t, status, h.do(http.MethodDelete, "user.alice", id).status)
		assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "user.alice", id).status, "kept after a DELETE answered %d", status)
		assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "user.bob", id).status)
	}
}

// TestSessionsIdleTimeout: each use extends the binding; a binding unused
// for IdleTimeout ends.
func TestSessionsIdleTimeout(t *testing.T) {
	h := newHarness(t, mcpguard.SessionConfig{IdleTimeout: 10 * time.Minute}, &fakeMCP{}, true)
	id := h.open("user.alice")
	h.clock.Add(10*time.Minute - time.Nanosecond)
	assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "user.alice", id).status, "just before the timeout")
	h.clock.Add(10*time.Minute - time.Nanosecond)
	assert.Equal(t, http.StatusOK, h.do(http.MethodGet, "user.alice", id).status, "extended by the last use")
	h.clock.Add(10 * time.Minute)
	res := h.do(http.MethodPost, "user.alice", id)
	assert.Equal(t, http.StatusNotFound, res.status, "idle for the timeout")
	assert.Equal(t, []audit.Reason{audit.ReasonUnknownSession}, h.reasons())
	assert.NotEmpty(t, h.open("user.alice"), "the client starts a new session")
}

// TestSessionsIntruderDoesNotExtend: another principal's refused uses
// never keep the owner's binding alive: it ends IdleTimeout after the
// owner's last use, however late the intruder tried.
func TestSessionsIntruderDoesNotExtend(t *testing.T) {
	mcp := &fakeMCP{}
	h := newHarness(t, mcpguard.SessionConfig{IdleTimeout: 10 * time.Minute}, mcp, true)
	id := h.open("user.alice")
	seen := mcp.requests()
	for _, step := range []time.Duration{5 * time.Minute, 5*time.Minute - time.Nanosecond} {
		h.clock.Add(step)
		assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "user.bob", id).status)
		assert.Equal(t, http.StatusNotFound, h.do(http.MethodGet, "key.alice", id).status)
	}
	assert.Equal(t, []audit.Reason{audit.ReasonSessionNotOwned, audit.ReasonSessionNotOwned,
		audit.ReasonSessionNotOwned, audit.ReasonSessionNotOwned}, h.reasons())
	h.clock.Add(time.Nanosecond) // IdleTimeout after alice's last use
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "user.alice", id).status, "expired despite the intruder")
	assert.Equal(t, []audit.Reason{audit.ReasonUnknownSession}, h.reasons())
	assert.Equal(t, seen, mcp.requests())
}

// TestSessionsStateless: a server that never issues a session id gets
// every request, and nothing is bound.
func TestSessionsStateless(t *testing.T) {
	var served atomic.Int32
	stateless := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.WriteHeader(http.StatusAccepted)
	})
	h := newHarness(t, mcpguard.SessionConfig{MaxSessions: 1}, stateless, true)
	for range 5 {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
			assert.Equal(t, http.StatusAccepted, h.do(method, "user.alice").status)
			assert.Equal(t, http.StatusAccepted, h.do(method, "user.bob").status)
		}
	}
	assert.Equal(t, int32(30), served.Load())
	assert.Empty(t, h.reasons())
}

// TestSessionsPassThrough: an OPTIONS without a session (a CORS preflight)
// reaches the server unchanged, even without a principal; no other request
// does, an OPTIONS that names a session included, however it is spelt.
func TestSessionsPassThrough(t *testing.T) {
	mcp := &fakeMCP{}
	h := newHarness(t, mcpguard.SessionConfig{}, mcp, false)
	res := h.do(http.MethodOptions, "user.bob")
	assert.Equal(t, http.StatusTeapot, res.status, "OPTIONS without a session")
	assert.Equal(t, 1, mcp.requests())
	assert.Empty(t, h.reasons())
	for _, ids := range [][]string{{"unknown"}, {"a", "b"}} {
		res := h.do(http.MethodOptions, "user.bob", ids...)
		assert.Equal(t, http.StatusInternalServerError, res.status, "OPTIONS %q", ids)
	}
	for _, method := range []string{http.MethodHead, http.MethodPut, http.MethodPatch, "get", "options", "PROPFIND"} {
		for _, ids := range [][]string{nil, {"unknown"}, {"a", "b"}} {
			res := h.do(method, "user.bob", ids...)
			assert.Equal(t, http.StatusInternalServerError, res.status, "%s %q", method, ids)
		}
	}
	assert.Equal(t, 1, mcp.requests())
	assert.Len(t, h.reasons(), 20)
}

// TestSessionsEveryMethod: a session is checked whatever the request's
// method: HEAD, PUT, PATCH, OPTIONS (which passes unchecked only without a
// session: a CORS preflight), lowercase or unknown methods with another
// principal's session, an unknown one or two are refused before the
// server; with the owner's session, or none, they pass.
func TestSessionsEveryMethod(t *testing.T) {
	mcp := &fakeMCP{}
	h := newHarness(t, mcpguard.SessionConfig{}, mcp, true)
	id := h.open("user.alice")
	for _, method := range []string{http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodOptions, "get", "post", "delete", "PROPFIND"} {
		seen := mcp.requests()
		for _, tc := range []struct {
			token  string
			ids    []string
			status int
		}{
			{"user.bob", []string{id}, http.StatusNotFound},
			{"user.alice", []string{"unknown"}, http.StatusNotFound},
			{"user.alice", []string{id, id}, http.StatusBadRequest},
		} {
			assert.Equal(t, tc.status, h.do(method, tc.token, tc.ids...).status, "%s as %s with %q", method, tc.token, tc.ids)
		}
		assert.Equal(t, seen, mcp.requests(), "%s: refused before the server", method)
		assert.Equal(t, []audit.Reason{audit.ReasonSessionNotOwned, audit.ReasonUnknownSession, audit.ReasonInvalidRequest}, h.reasons(), method)
		assert.Equal(t, http.StatusTeapot, h.do(method, "user.alice", id).status, "%s: the owner's session", method)
		assert.Equal(t, http.StatusTeapot, h.do(method, "user.bob").status, "%s: no session", method)
		assert.Empty(t, h.reasons())
	}
}

// TestSessionsNoPrincipal: behind no Guard, the middleware fails closed.
func TestSessionsNoPrincipal(t *testing.T) {
	mcp := &fakeMCP{}
	h := newHarness(t, mcpguard.SessionConfig{}, mcp, false)
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		res := h.do(method, "user.alice")
		assert.Equal(t, http.StatusInternalServerError, res.status)
		assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}`, res.body)
		assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	}
	assert.Zero(t, mcp.requests())
	assert.Equal(t, []audit.Reason{audit.ReasonInternalError, audit.ReasonInternalError, audit.ReasonInternalError}, h.reasons())
	assert.Contains(t, h.logs.String(), "no principal")
}

// TestSessionsEmptySubject: a principal with an empty Subject is refused
// like no principal, so that empty subjects never share a session.
func TestSessionsEmptySubject(t *testing.T) {
	logs := &lockedBuffer{}
	var reasons []audit.Reason
	s, err := mcpguard.NewSessions(mcpguard.SessionConfig{
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		OnDecision: func(_ context.Context, d audit.Decision) { reasons = append(reasons, d.Reason) },
	})
	require.NoError(t, err)
	mcp := &fakeMCP{}
	handler := s.Middleware(mcp)
	serve := func(method, id string) *httptest.ResponseRecorder {
		ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{Credential: audit.CredentialAPIKey})
		r := httptest.NewRequestWithContext(ctx, method, "http://127.0.0.1/mcp", nil)
		if id != "" {
			r.Header.Set("Mcp-Session-Id", id)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w
	}
	w := serve(http.MethodPost, "")
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Empty(t, w.Header().Get("Mcp-Session-Id"), "no session opened")
	assert.Equal(t, http.StatusInternalServerError, serve(http.MethodGet, "session-1-xxxxxxxxxxxxxxxx").Code)
	assert.Equal(t, http.StatusTeapot, serve(http.MethodOptions, "").Code, "a preflight passes")
	assert.Equal(t, 1, mcp.requests(), "only the preflight reached the server")
	assert.Equal(t, []audit.Reason{audit.ReasonInternalError, audit.ReasonInternalError}, reasons)
	assert.Contains(t, logs.String(), "empty Subject")
}

// TestSessionsDecisionSubject: a refused principal is named in the
// decision, from rsguard.NewDecision.
func TestSessionsDecisionSubject(t *testing.T) {
	h := newHarness(t, mcpguard.SessionConfig{}, &fakeMCP{}, true)
	h.do(http.MethodPost, "user.bob", "no-such-session")
	d := h.lastDecision()
	assert.Equal(t, "user:"+issuer+"#bob", d.Subject)
	assert.Equal(t, issuer, d.Issuer)
	assert.Equal(t, audit.CredentialJWT, d.Credential)
	assert.Equal(t, audit.ReasonUnknownSession, d.Reason)
	assert.Equal(t, "/mcp", d.Path)
}

// TestSessionsContextPrincipal: a principal stored with rsguard.NewContext
// works as the Guard's.
func TestSessionsContextPrincipal(t *testing.T) {
	s, err := mcpguard.NewSessions(mcpguard.SessionConfig{})
	require.NoError(t, err)
	mcp := &fakeMCP{}
	handler := s.Middleware(mcp)
	req := func(subject string, id string) *http.Request {
		r, err := http.NewRequestWithContext(rsguard.NewContext(context.Background(), &rsguard.Principal{Subject: subject}),
			http.MethodPost, "http://127.0.0.1/mcp", nil)
		require.NoError(t, err)
		if id != "" {
			r.Header.Set("Mcp-Session-Id", id)
		}
		return r
	}
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req("apikey:owner:alice", ""))
	id := w.Header().Get("Mcp-Session-Id")
	require.NotEmpty(t, id)
	w = httptest.NewRecorder()
	handler.ServeHTTP(w, req("apikey:owner:alice", id))
	assert.Equal(t, http.StatusOK, w.Code)
	w = httptest.NewRecorder()
	handler.ServeHTTP(w, req("apikey:client:alice", id))
	assert.Equal(t, http.StatusNotFound, w.Code)
}

// TestSessionsReplacedWithNoHeadersBefore: an answer replaced when nothing
// in front of Sessions set a header keeps none of the server's: only the
// refusal's own.
func TestSessionsReplacedWithNoHeadersBefore(t *testing.T) {
	s, err := mcpguard.NewSessions(mcpguard.SessionConfig{MaxSessions: 1})
	require.NoError(t, err)
	var n atomic.Int32
	h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// A new session on every request: the second cannot be bound.
		w.Header().Set("Mcp-Session-Id", fmt.Sprintf("session-%d", n.Add(1)))
		w.Header().Set("X-Server", "dropped")
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, serverBody)
	}))
	ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{Subject: alice, Credential: audit.CredentialJWT})

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodPost, "/mcp", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "session-1", rec.Header().Get("Mcp-Session-Id"))

	rec = httptest.NewRecorder()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/mcp", nil)
	r.Header.Set("Mcp-Session-Id", "session-1")
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, http.Header{
		"Cache-Control": {"no-store"},
		"Content-Type":  {"application/json"},
		"Retry-After":   {"30"},
	}, rec.Header())
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"too many sessions"}}`, rec.Body.String())
}
