package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rsguard/rsguard/examples/internal/mcpmain/mcpmaintest"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// testEnv is the example server on 127.0.0.1:0 in front of a validatetest
// issuer, as run starts them, and the inventory behind its tools.
type testEnv struct {
	*mcpmaintest.Env
	inv *inventory
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
	inv := newInventory()
	cfg := mcpmaintest.EnvConfig{Options: opts, Scopes: supportedScopes, DefaultAudience: defaultAudience}
	return &testEnv{mcpmaintest.NewEnv(t, cfg, inv, newServer), inv}
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
