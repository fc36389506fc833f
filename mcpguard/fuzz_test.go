package mcpguard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/mcpguard"
)

// FuzzSessionHeader: whatever the method and session header, the
// middleware never panics; every method, OPTIONS included, passes (2xx)
// with alice's session and is otherwise answered 400 or 404 without
// reaching the server.
func FuzzSessionHeader(f *testing.F) {
	const known = "known-session"
	for _, seed := range []struct {
		method, id string
		twice      bool
	}{
		{"POST", known, false}, {"GET", known, false}, {"DELETE", known, false}, {"POST", known, true},
		{"POST", "unknown", false}, {"GET", "", false}, {"DELETE", "a b", false}, {"POST", "\x00", false},
		{"OPTIONS", "anything", true}, {"post", known, false}, {"PUT", "", false}, {"HEAD", "unknown", false},
		{"options", "unknown", false}, {"", known, false}, {"PATCH", known, true},
	} {
		f.Add(seed.method, seed.id, seed.twice)
	}
	s, err := mcpguard.NewSessions(mcpguard.SessionConfig{})
	require.NoError(f, err)
	var reached atomic.Int64
	handler := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		if r.Header.Get("X-Open") != "" {
			w.Header().Set("Mcp-Session-Id", known)
		}
		w.WriteHeader(http.StatusOK)
	}))
	ctx := rsguard.NewContext(context.Background(), &rsguard.Principal{Subject: alice})
	serve := func(method string, header http.Header) *httptest.ResponseRecorder {
		r := (&http.Request{Method: method, URL: &url.URL{Path: "/mcp"}, Header: header, Body: http.NoBody}).WithContext(ctx)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w
	}
	f.Fuzz(func(t *testing.T, method, id string, twice bool) {
		// (Re)open alice's session: a DELETE of it may have ended it.
		if w := serve(http.MethodPost, http.Header{"X-Open": {"1"}}); w.Code != http.StatusOK || w.Header().Get("Mcp-Session-Id") != known {
			t.Fatalf("open: %d", w.Code)
		}
		header := http.Header{"Mcp-Session-Id": {id}}
		if twice {
			header["Mcp-Session-Id"] = append(header["Mcp-Session-Id"], id)
		}
		before := reached.Load()
		w := serve(method, header)
		passed := reached.Load() != before
		switch {
		case twice:
			if passed || w.Code != http.StatusBadRequest {
				t.Fatalf("%q twice: %d, reached %v", id, w.Code, passed)
			}
		case id == known:
			if !passed || w.Code != http.StatusOK {
				t.Fatalf("alice's session: %d, reached %v", w.Code, passed)
			}
		default:
			if passed || w.Code != http.StatusNotFound {
				t.Fatalf("%q: %d, reached %v", id, w.Code, passed)
			}
		}
	})
}
