package checker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// guard is the RoundTripper under every request of a run: it lets through
// only requests to the origins allowed so far (the endpoint's, then those of
// the authorization servers the metadata names and of the JWK Set and token
// endpoint of the one whose metadata matches), counts them and refuses
// those beyond the budget, and ends each at the run's deadline. Redirects
// are the client's to refuse (conformance.NoRedirects).
type guard struct {
	base   http.RoundTripper
	runCtx context.Context
	max    int
	onHalt func(reason string)

	mu      sync.Mutex
	origins map[string]bool
	count   int
	halt    string
}

// errRefused marks a request to an origin the run may not reach.
var errRefused = errors.New("refused")

func newGuard(base http.RoundTripper, runCtx context.Context, max int, onHalt func(string)) *guard {
	return &guard{base: base, runCtx: runCtx, max: max, onHalt: onHalt, origins: map[string]bool{}}
}

// originOf is u's origin in the form the guard compares: scheme and host
// lower-cased, the default port dropped.
func originOf(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}

// allow lets requests to raw's origin through; false for a URL that is not
// absolute.
func (g *guard) allow(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return false
	}
	g.mu.Lock()
	g.origins[originOf(u)] = true
	g.mu.Unlock()
	return true
}

// requests returns how many requests went out.
func (g *guard) requests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.count
}

// halted returns why the guard refuses every request, or "".
func (g *guard) halted() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.halt
}

// stop refuses every request from now on, for reason.
func (g *guard) stop(reason string) {
	g.mu.Lock()
	first := g.halt == ""
	if first {
		g.halt = reason
	}
	g.mu.Unlock()
	if first && g.onHalt != nil {
		g.onHalt(reason)
	}
}

// admit counts req, or says why it may not go.
func (g *guard) admit(req *http.Request) error {
	o := originOf(req.URL)
	g.mu.Lock()
	switch {
	case g.halt != "":
		reason := g.halt
		g.mu.Unlock()
		return errors.New(reason)
	case !g.origins[o]:
		g.mu.Unlock()
		return fmt.Errorf("%w: mcpcheck sends nothing to %s, which is neither the endpoint's origin nor that of an authorization server its metadata names (or of its JWK Set or token endpoint)", errRefused, o)
	case g.count >= g.max:
		g.mu.Unlock()
		reason := fmt.Sprintf("the run was cut short: it had sent its %d requests (-max-requests)", g.max)
		g.stop(reason)
		return errors.New(reason)
	}
	g.count++
	g.mu.Unlock()
	return nil
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.admit(req); err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even of a request it refuses
		}
		return nil, err
	}

	ctx, cancel := context.WithCancelCause(req.Context())
	stopAfter := context.AfterFunc(g.runCtx, func() { cancel(context.Cause(g.runCtx)) })
	done := func() { stopAfter(); cancel(nil) }
	resp, err := g.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		done()
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && g.runCtx.Err() != nil {
			return nil, cause
		}
		return nil, err
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// doneBody calls done once, when the body is closed.
type doneBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
