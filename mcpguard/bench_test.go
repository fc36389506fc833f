package mcpguard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/mcpguard"
)

// benchWriter is an http.ResponseWriter that keeps the status and discards
// the body; reset clears it without allocating.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

// BenchmarkSessions measures Sessions.Middleware on a request of a bound
// session (the path of every call after initialize), around an MCP server
// that answers as the SDK does (Content-Type, then a small JSON body):
// "bare" is that server alone, "sessions" the same behind the middleware,
// with no response header set before it ("plain", a client that is not a
// browser) and with the CORS headers Endpoint.Handler sets for an allowed
// Origin ("cors").
func BenchmarkSessions(b *testing.B) {
	const id = "3f6c1e2a9b8d4c7e5f0a1b2c3d4e5f60"
	server := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Session-Id") == "" {
			w.Header().Set("Mcp-Session-Id", id)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, serverBody)
	})
	s, err := mcpguard.NewSessions(mcpguard.SessionConfig{})
	if err != nil {
		b.Fatal(err)
	}
	guarded := s.Middleware(server)
	p := &rsguard.Principal{Subject: alice, Credential: audit.CredentialJWT}
	ctx := rsguard.NewContext(context.Background(), p)

	// Bind the session: an initialize without Mcp-Session-Id.
	w := &benchWriter{h: http.Header{}}
	guarded.ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodPost, "/mcp", nil))
	if w.status != http.StatusOK || w.h.Get("Mcp-Session-Id") != id {
		b.Fatalf("initialize: status %d, session %q", w.status, w.h.Get("Mcp-Session-Id"))
	}

	cors := http.Header{
		"Vary":                          {"Origin"},
		"Access-Control-Allow-Origin":   {"https://app.example"},
		"Access-Control-Expose-Headers": {"Mcp-Session-Id, WWW-Authenticate, DPoP-Nonce"},
	}
	for _, tc := range []struct {
		name   string
		h      http.Handler
		before http.Header
	}{
		{"bare", server, nil},
		{"sessions/plain", guarded, nil},
		{"sessions/cors", guarded, cors},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/mcp", nil)
			r.Header.Set("Mcp-Session-Id", id)
			w := &benchWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				clear(w.h)
				for k, v := range tc.before {
					w.h[k] = v
				}
				w.status = 0
				tc.h.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
