package mcpguard_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/rsmeta"
)

const (
	metadataURL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	issuer      = "https://issuer.example.com"
	alice       = "user:" + issuer + "#alice"
	initBody    = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`
	serverBody  = `{"jsonrpc":"2.0","id":1,"result":{}}`
)

// bearers is the test's Authenticator: the bearer token "user.NAME" proves
// the user NAME ("alice-renewed" is alice's refreshed token), "client.NAME"
// the client NAME acting for itself, "key.NAME" an API key of NAME.
type bearers struct{}

func (bearers) Authenticate(r *http.Request) (*rsguard.Principal, error) {
	tok, err := rsguard.BearerToken(r)
	if err != nil {
		return nil, err
	}
	kind, name, _ := strings.Cut(tok, ".")
	switch {
	case tok == "alice-renewed":
		return &rsguard.Principal{Subject: alice, Credential: audit.CredentialJWT, Issuer: issuer}, nil
	case name == "":
	case kind == "user" || kind == "client":
		return &rsguard.Principal{Subject: kind + ":" + issuer + "#" + name, Credential: audit.CredentialJWT, Issuer: issuer}, nil
	case kind == "key":
		return &rsguard.Principal{Subject: "apikey:owner:" + name, Credential: audit.CredentialAPIKey}, nil
	}
	return nil, &rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Reason: audit.ReasonRejected, Err: audit.ReasonRejected}
}

// fakeMCP is an MCP server on the Streamable HTTP transport: a POST without
// a session (or with X-Rotate) starts one, DELETE answers deleteStatus, GET
// streams two SSE events, the second after release is closed.
type fakeMCP struct {
	release      chan struct{} // nil: no wait
	deleteStatus int           // 0: 204
	fixedID      string        // if set, the id of every new session

	mu   sync.Mutex
	seen []string // "METHOD id" of every request
	n    int
}

func (f *fakeMCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("Mcp-Session-Id")
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+id)
	f.n++
	newID := fmt.Sprintf("session-%d-%s", f.n, strings.Repeat("x", 16))
	f.mu.Unlock()
	if f.fixedID != "" {
		newID = f.fixedID
	}
	switch r.Method {
	case http.MethodPost:
		if id == "" || r.Header.Get("X-Rotate") != "" {
			w.Header().Set("Mcp-Session-Id", newID)
			w.Header().Set("X-Server", "fake")
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, serverBody) // no WriteHeader: 200
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		_ = http.NewResponseController(w).Flush()
		if f.release != nil {
			select {
			case <-f.release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = io.WriteString(w, "data: two\n\n")
	case http.MethodDelete:
		status := f.deleteStatus
		if status == 0 {
			status = http.StatusNoContent
		}
		w.WriteHeader(status)
	default:
		w.WriteHeader(http.StatusTeapot)
	}
}

// requests returns how many requests the server has seen.
func (f *fakeMCP) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// clock is an injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a Guard, Sessions and an MCP server behind a real HTTP
// server on 127.0.0.1.
type harness struct {
	t     *testing.T
	srv   *httptest.Server
	mcp   *fakeMCP
	clock *clock
	logs  *lockedBuffer

	mu        sync.Mutex
	decisions []audit.Decision
}

// newHarness serves mcp behind Sessions configured by cfg (its Now,
// OnDecision and Logger are the harness's) and a Guard; guard false leaves
// the Guard out.
func newHarness(t *testing.T, cfg mcpguard.SessionConfig, mcp http.Handler, guard bool) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock(), logs: &lockedBuffer{}}
	if f, ok := mcp.(*fakeMCP); ok {
		h.mcp = f
	}
	cfg.Now = h.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, nil))
	cfg.OnDecision = func(_ context.Context, d audit.Decision) {
		h.mu.Lock()
		h.decisions = append(h.decisions, d)
		h.mu.Unlock()
	}
	s, err := mcpguard.NewSessions(cfg)
	require.NoError(t, err)
	handler := s.Middleware(mcp)
	if guard {
		g, err := rsguard.New(rsguard.Config{Authenticator: bearers{}, ResourceMetadata: metadataURL})
		require.NoError(t, err)
		handler = g.Middleware(handler)
	}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Outer", "kept") // set by a middleware in front: never dropped
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// response is what a client got.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends method as the caller token, with an Mcp-Session-Id header per
// id, and returns the full response.
func (h *harness) do(method, token string, ids ...string) response {
	h.t.Helper()
	return h.doWith(method, token, nil, ids...)
}

func (h *harness) doWith(method, token string, extra http.Header, ids ...string) response {
	h.t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(initBody)
	}
	req, err := http.NewRequest(method, h.srv.URL+"/mcp", body)
	require.NoError(h.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for _, id := range ids {
		req.Header.Add("Mcp-Session-Id", id)
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	res, err := h.srv.Client().Do(req)
	require.NoError(h.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(h.t, err)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// open starts a session as token and returns its id.
func (h *harness) open(token string) string {
	h.t.Helper()
	res := h.do(http.MethodPost, token)
	require.Equal(h.t, http.StatusOK, res.status, res.body)
	id := res.header.Get("Mcp-Session-Id")
	require.NotEmpty(h.t, id)
	return id
}

// reasons returns the reasons of the decisions made so far, and forgets them.
func (h *harness) reasons() []audit.Reason {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []audit.Reason
	for _, d := range h.decisions {
		out = append(out, d.Reason)
	}
	h.decisions = nil
	return out
}

// lastDecision returns the last decision made.
func (h *harness) lastDecision() audit.Decision {
	h.mu.Lock()
	defer h.mu.Unlock()
	require.NotEmpty(h.t, h.decisions)
	return h.decisions[len(h.decisions)-1]
}
