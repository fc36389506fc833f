package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// testEnv is the example server on 127.0.0.1:0 in front of a validatetest
// issuer, as run starts them.
type testEnv struct {
	iss *validatetest.Issuer
	srv *server
	url string // the MCP endpoint, = srv.Resource
	log *syncBuffer
}

// newTestEnv starts an issuer (by default with the demo client) and the
// example server.
func newTestEnv(t *testing.T, opts *validatetest.Options) *testEnv {
	t.Helper()
	return newTestEnvAudience(t, opts, false)
}

// newTestEnvAudience is newTestEnv; with defaultAudience, the issuer's token
// endpoint gives tokens requested without a resource indicator the example
// server as audience, as the development issuer of run does.
func newTestEnvAudience(t *testing.T, opts *validatetest.Options, defaultAudience bool) *testEnv {
	t.Helper()
	if opts == nil {
		opts = &validatetest.Options{}
	}
	opts.PlainHTTP = true
	if opts.Algorithms == nil {
		opts.Algorithms = []string{"ES256"} // fast key generation
	}
	if opts.Clients == nil {
		opts.Clients = []validatetest.Client{{ID: devClientID, Secret: devClientSecret, Scopes: supportedScopes}}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	resource := "http://" + ln.Addr().String() + "/mcp"
	if defaultAudience {
		opts.Audience = []string{resource}
	}
	iss := validatetest.NewIssuer(t, opts)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := &syncBuffer{}
	srv, err := newServer(ctx, serverConfig{
		Issuer:   iss.URL,
		Resource: resource,
		Logger:   slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler}}
	ts.Start()
	t.Cleanup(ts.Close)
	return &testEnv{iss: iss, srv: srv, url: resource, log: log}
}

// token mints an access token for the example server with the given scope
// claim ("" for none) and extra claims.
func (e *testEnv) token(scope string, claims map[string]any) string {
	c := map[string]any{"aud": e.url}
	if scope != "" {
		c["scope"] = scope
	}
	for k, v := range claims {
		c[k] = v
	}
	return e.iss.Token(c)
}

// bearer is an http.RoundTripper that adds a bearer token and records the
// status and WWW-Authenticate of every response, for the SDK client.
type bearer struct {
	token string

	mu    sync.Mutex
	resps []recorded
}

type recorded struct {
	method string
	body   string // the request body (JSON-RPC), for finding the call
	status int
	authn  []string // WWW-Authenticate field lines
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.resps = append(b.resps, recorded{r.Method, string(body), resp.StatusCode, resp.Header.Values("WWW-Authenticate")})
	b.mu.Unlock()
	return resp, nil
}

// matching returns the recorded responses whose request body contains s,
// oldest first.
func (b *bearer) matching(s string) []recorded {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []recorded
	for _, r := range b.resps {
		if strings.Contains(r.body, s) {
			out = append(out, r)
		}
	}
	return out
}

// method returns the recorded responses to requests of method, oldest
// first.
func (b *bearer) method(method string) []recorded {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []recorded
	for _, r := range b.resps {
		if r.method == method {
			out = append(out, r)
		}
	}
	return out
}

// first returns the first recorded response, if any.
func (b *bearer) first() (recorded, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.resps) == 0 {
		return recorded{}, false
	}
	return b.resps[0], true
}

// challenge parses the single WWW-Authenticate challenge of a response.
func challenge(t *testing.T, lines []string) rsmeta.Challenge {
	t.Helper()
	if len(lines) != 1 {
		t.Fatalf("WWW-Authenticate: got %d field lines %q, want 1", len(lines), lines)
	}
	cs, err := rsmeta.ParseChallenges(lines[0])
	if err != nil || len(cs) != 1 {
		t.Fatalf("ParseChallenges(%q) = %v, %v; want one challenge", lines[0], cs, err)
	}
	return cs[0]
}

// syncBuffer is a bytes.Buffer safe for concurrent use; waitFor
// waits for what a writer prints.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // closed by the next Write; nil while nobody waits
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		close(s.wrote)
		s.wrote = nil
	}
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor returns the content once it contains substr, with ok true; it
// gives up, returning what there is and whether it contains substr, when
// stop is closed, and after timeout. It sleeps until a Write, never polls.
func (s *syncBuffer) waitFor(substr string, timeout time.Duration, stop <-chan struct{}) (text string, ok bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		text = s.buf.String()
		if strings.Contains(text, substr) {
			s.mu.Unlock()
			return text, true
		}
		if s.wrote == nil {
			s.wrote = make(chan struct{})
		}
		wrote := s.wrote
		s.mu.Unlock()
		select {
		case <-wrote:
		case <-stop:
			text = s.String()
			return text, strings.Contains(text, substr)
		case <-timer.C:
			return text, false
		}
	}
}
