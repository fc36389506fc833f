package mcpguard_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/mcpguard"
)

// TestSessionsStreaming: an SSE answer flushes through the middleware —
// through http.ResponseController and through http.Flusher: the client
// reads the first event before the server writes the second.
func TestSessionsStreaming(t *testing.T) {
	for _, viaFlusher := range []bool{false, true} {
		t.Run(fmt.Sprint("flusher=", viaFlusher), func(t *testing.T) {
			release := make(chan struct{})
			mcp := &fakeMCP{release: release}
			handler := http.Handler(mcp)
			if viaFlusher {
				handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method != http.MethodGet {
						mcp.ServeHTTP(w, r)
						return
					}
					assert.NoError(t, http.NewResponseController(w).SetWriteDeadline(time.Time{}), "Unwrap reaches the connection")
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = io.WriteString(w, "data: one\n\n")
					w.(http.Flusher).Flush()
					select {
					case <-release:
					case <-r.Context().Done():
						return
					}
					_, _ = io.WriteString(w, "data: two\n\n")
				})
			}
			h := newHarness(t, mcpguard.SessionConfig{}, handler, true)
			id := h.open("user.alice")

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/mcp", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer user.alice")
			req.Header.Set("Mcp-Session-Id", id)
			res, err := h.srv.Client().Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
			body := bufio.NewReader(res.Body)
			line, err := body.ReadString('\n')
			require.NoError(t, err, "the first event arrives while the server waits")
			assert.Equal(t, "data: one\n", line)
			close(release)
			rest, err := io.ReadAll(body)
			require.NoError(t, err)
			assert.Equal(t, "\ndata: two\n\n", string(rest))
		})
	}
}

// TestSessionsInformational: a 1xx answer does not carry a session id that
// is not bound yet.
func TestSessionsInformational(t *testing.T) {
	early := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Mcp-Session-Id", "early-session")
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = io.WriteString(w, serverBody)
	})
	h := newHarness(t, mcpguard.SessionConfig{}, early, true)
	var mu sync.Mutex
	var hints []textproto.MIMEHeader
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
			mu.Lock()
			hints = append(hints, header)
			mu.Unlock()
			return nil
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/mcp", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer user.alice")
	res, err := h.srv.Client().Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, "early-session", res.Header.Get("Mcp-Session-Id"))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, hints, 1)
	assert.Empty(t, hints[0].Get("Mcp-Session-Id"))
	assert.NotEmpty(t, hints[0].Get("Link"))
}

// TestSessionsConcurrent: many callers start and use sessions at once; in
// the end each owns exactly its session, and the store holds them all.
func TestSessionsConcurrent(t *testing.T) {
	const callers, uses = 24, 8
	h := newHarness(t, mcpguard.SessionConfig{MaxSessions: callers}, &fakeMCP{}, true)
	send := func(method, token, id string) (int, string, error) {
		req, err := http.NewRequest(method, h.srv.URL+"/mcp", nil)
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if id != "" {
			req.Header.Set("Mcp-Session-Id", id)
		}
		res, err := h.srv.Client().Do(req)
		if err != nil {
			return 0, "", err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res.StatusCode, res.Header.Get("Mcp-Session-Id"), nil
	}
	ids := make([]string, callers)
	errs := make(chan error, callers*(uses+2))
	var opened, wg sync.WaitGroup
	opened.Add(callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := fmt.Sprintf("user.u%d", i)
			status, id, err := send(http.MethodPost, token, "")
			if err != nil || status != http.StatusOK || id == "" {
				errs <- fmt.Errorf("%s: open: %d %v", token, status, err)
				opened.Done()
				return
			}
			ids[i] = id
			opened.Done()
			for range uses {
				if status, _, err := send(http.MethodPost, token, id); err != nil || status != http.StatusOK {
					errs <- fmt.Errorf("%s: use: %d %v", token, status, err)
				}
			}
			opened.Wait() // every session exists: try a neighbour's
			if status, _, err := send(http.MethodGet, token, ids[(i+1)%callers]); err != nil || status != http.StatusNotFound {
				errs <- fmt.Errorf("%s: neighbour's session: %d %v", token, status, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, id := range ids {
		status, _, err := send(http.MethodGet, fmt.Sprintf("user.u%d", i), id)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
	}
	status, _, err := send(http.MethodPost, "user.late", "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, status, "the store holds exactly the callers' sessions")
}

// TestSessionsInvalidStatus: a server writing an invalid status gets
// net/http's panic, and the session id its answer sets is never bound.
func TestSessionsInvalidStatus(t *testing.T) {
	for _, code := range []int{0, 42, 1000} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s, err := mcpguard.NewSessions(mcpguard.SessionConfig{})
			require.NoError(t, err)
			handler := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Mcp-Session-Id") == "" {
					w.Header().Set("Mcp-Session-Id", "invalid-status-session")
					w.WriteHeader(code)
				}
			}))
			ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{Subject: alice})
			assert.Panics(t, func() {
				handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodPost, "/mcp", nil))
			})
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/mcp", nil)
			r.Header.Set("Mcp-Session-Id", "invalid-status-session")
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			assert.Equal(t, http.StatusNotFound, w.Code, "not bound")
		})
	}
}

// TestSessionsHijack: the writer the server gets refuses to be hijacked,
// directly and through http.ResponseController (which Unwrap would
// otherwise lead to the connection), and still flushes.
func TestSessionsHijack(t *testing.T) {
	type result struct {
		isHijacker                   bool
		hijack, controller, flushErr error
	}
	results := make(chan result, 1)
	server := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Session-Id") != "" {
			return
		}
		var got result
		defer func() { results <- got }() // even if writing to a hijacked connection panics
		var hj http.Hijacker
		if hj, got.isHijacker = w.(http.Hijacker); got.isHijacker {
			_, _, got.hijack = hj.Hijack()
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if got.controller = err; err == nil {
			_ = conn.Close() // hijacked: the client gets no answer
		}
		w.Header().Set("Mcp-Session-Id", "hijack-session")
		_, _ = io.WriteString(w, "data: one\n\n")
		got.flushErr = http.NewResponseController(w).Flush()
	})
	h := newHarness(t, mcpguard.SessionConfig{}, server, true)
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/mcp", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer user.alice")
	res, err := h.srv.Client().Do(req)
	got := <-results
	assert.True(t, got.isHijacker)
	assert.ErrorIs(t, got.hijack, http.ErrNotSupported)
	assert.ErrorIs(t, got.controller, http.ErrNotSupported)
	require.NoError(t, err, "not hijacked")
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "data: one\n\n", string(body))
	assert.NoError(t, got.flushErr)
	assert.Equal(t, http.StatusOK, h.do(http.MethodGet, "user.alice", "hijack-session").status, "bound")
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodGet, "user.bob", "hijack-session").status)
}
