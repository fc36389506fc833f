package gosdk_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/gosdk"
)

// discardWriter is an http.ResponseWriter that keeps the status and
// discards the body, reset without allocating between requests.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// BenchmarkHandler measures what gosdk.Handler adds to the SDK's Streamable
// HTTP handler per request: "sdk" is the SDK's handler alone, "gosdk" the
// same behind Handler, for a request the Guard accepted with a bearer token
// (an ES256 access token's length) and for one with a principal from an API
// key (no Authorization header). The SDK's handler is stateless and the
// request a GET, which it answers 405 at once, so that the SDK's own work
// (which a tools/call multiplies) stays small and the difference is the
// adapter's.
func BenchmarkHandler(b *testing.B) {
	server := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1.0.0"}, nil)
	opts := &mcp.StreamableHTTPOptions{Stateless: true}
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"sdk", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, opts)},
		{"gosdk", gosdk.Handler(server, opts)},
	}
	// The context of a request as net/http and a Guard leave it.
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	base = context.WithValue(base, http.ServerContextKey, &http.Server{})
	base = context.WithValue(base, http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080})
	token := "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0." + strings.Repeat("eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xIn0", 12) + "." + strings.Repeat("MEUCIQ", 14)
	callers := []struct {
		name, authorization string
		p                   *rsguard.Principal
	}{
		{"bearer", "Bearer " + token, &rsguard.Principal{Subject: "user:https://as.example#alice", Credential: audit.CredentialJWT, Scopes: []string{"inventory:read"}}},
		{"apikey", "", &rsguard.Principal{Subject: "apikey:owner:carol", Credential: audit.CredentialAPIKey, Scopes: []string{"inventory:read"}}},
	}
	for _, c := range callers {
		for _, h := range handlers {
			b.Run(c.name+"/"+h.name, func(b *testing.B) {
				r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/mcp", nil)
				r = r.WithContext(rsguard.NewContext(base, c.p))
				if c.authorization != "" {
					r.Header.Set("Authorization", c.authorization)
				}
				r.Header.Set("Accept", "application/json, text/event-stream")
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					w.status = 0
					h.h.ServeHTTP(w, r)
					if w.status != http.StatusMethodNotAllowed {
						b.Fatalf("status %d", w.status)
					}
				}
				if got := r.Header.Get("Authorization"); got != c.authorization {
					b.Fatalf("the request's Authorization is now %q", got)
				}
			})
		}
	}
}
