package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

const resource = "https://mcp.example.com/mcp"

// logBuffer is a slog handler's output, safe for concurrent use, to count
// log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the lines logged at level (slog's text form, "ERROR",
// "INFO").
func (l *logBuffer) lines(level string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(line, "level="+level+" ") {
			out = append(out, line)
		}
	}
	return out
}

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// replica is one replica of a protected resource: a Validator over the
// issuer with rev as its revocation store, behind an rsguard.Guard, served
// over loopback HTTP.
type replica struct {
	url string
	srv *httptest.Server
}

func newReplica(t *testing.T, is *validatetest.Issuer, edit func(*validate.Config)) *replica {
	t.Helper()
	cfg := validate.Config{Issuer: is.URL, Resource: resource, Fetch: validate.FetchOptions{HTTPClient: is.Client()}}
	if edit != nil {
		edit(&cfg)
	}
	v, err := validate.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	guard, err := rsguard.New(rsguard.Config{Authenticator: v, ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})))
	t.Cleanup(srv.Close)
	return &replica{url: srv.URL + "/mcp", srv: srv}
}

// answer is what a request got.
type answer struct {
	status     int
	retryAfter string
	challenge  string
	took       time.Duration
}

// get sends one request with the given Authorization header value.
func (r *replica) get(t *testing.T, authz string) answer {
	t.Helper()
	return do(t, r.srv.Client(), http.MethodPost, r.url, map[string]string{"Authorization": authz})
}

func do(t *testing.T, c *http.Client, method, url string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return answer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"),
		challenge: res.Header.Get("WWW-Authenticate"), took: time.Since(start)}
}

// eventually polls cond every 5 ms until it holds or within passes, and
// returns how long it took; it fails t if cond never held.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond) // a poll interval, not a synchronisation
	}
}

// newIssuerT returns a test issuer whose tokens are for resource.
func newIssuerT(t *testing.T) *validatetest.Issuer {
	t.Helper()
	return validatetest.NewIssuer(t, &validatetest.Options{Audience: []string{resource}})
}
