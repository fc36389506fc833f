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

	"github.com/rsguard/rsguard/internal/conformance"
	"github.com/rsguard/rsguard/internal/loopback"
)

// guard is the RoundTripper under every request of a run: it lets through
// only requests to the origins allowed so far (the endpoint's, then those of
// the authorization servers the metadata names and of the JWK Set and token
// endpoint of the issuer), over https (http only to a loopback host, when
// the endpoint is on loopback), counts them and refuses those beyond the
// budget, and ends each at the run's deadline. Redirects are the client's
// to refuse (conformance.NoRedirects); the addresses it connects to are
// the dialer's to check (dial.go).
type guard struct {
	base   http.RoundTripper
	runCtx context.Context
	max    int
	onHalt func(reason string)
	// plainHTTP: the endpoint is on loopback, so http URLs on loopback
	// hosts may be fetched; otherwise no http URL is.
	plainHTTP bool

	mu      sync.Mutex
	origins map[string]bool
	count   int
	halt    string
}

// errRefused marks a request the run may not send: to an origin it may
// not reach, over plain http, or to an address the dial-time policy
// refuses (see dial.go).
var errRefused = errors.New("refused")

// cutShortPrefix begins every reason a run is cut short for, and so the
// error of every request the cut stopped.
const cutShortPrefix = "the run was cut short"

// cutShort is the error of a request the run's end stopped or did not
// send: its reason begins with cutShortPrefix.
type cutShort struct{ reason string }

func (e *cutShort) Error() string { return e.reason }

// refusal is the guard's error for a request it does not send by choice:
// it wraps errRefused and conformance.ErrNotFetched (the authorization
// servers check then notes the server as not checked, not failed).
type refusal struct{ msg string }

func (e *refusal) Error() string { return e.msg }

func (e *refusal) Is(target error) bool {
	return target == errRefused || target == conformance.ErrNotFetched
}

func newGuard(base http.RoundTripper, runCtx context.Context, max int, plainHTTP bool, onHalt func(string)) *guard {
	return &guard{base: base, runCtx: runCtx, max: max, plainHTTP: plainHTTP, onHalt: onHalt, origins: map[string]bool{}}
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

// cutReason says why the run's context ended: its deadline (-timeout), or
// an interrupt.
func (g *guard) cutReason() string {
	var cs *cutShort
	if errors.As(context.Cause(g.runCtx), &cs) {
		return cs.reason
	}
	return cutShortPrefix + ": it was interrupted"
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
		return &cutShort{reason}
	case strings.EqualFold(req.URL.Scheme, "http") && !(g.plainHTTP && loopback.IsHost(req.URL.Hostname())):
		g.mu.Unlock()
		return &refusal{fmt.Sprintf("refused: mcpcheck sends nothing over plain http to %s: http only to a loopback host, and only when the endpoint is on loopback", o)}
	case !g.origins[o]:
		g.mu.Unlock()
		return &refusal{fmt.Sprintf("refused: mcpcheck sends nothing to %s, which is neither the endpoint's origin nor that of an authorization server its metadata names (or of its JWK Set or token endpoint)", o)}
	case g.count >= g.max:
		g.mu.Unlock()
		reason := fmt.Sprintf("%s: it had sent its %d requests (-max-requests)", cutShortPrefix, g.max)
		g.stop(reason)
		return &cutShort{reason}
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
		if g.runCtx.Err() != nil {
			return nil, &cutShort{g.cutReason()}
		}
		return nil, err
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, done: done, g: g}
	return resp, nil
}

// doneBody calls done once, when the body is closed; a read the run's end
// stopped fails as cut short.
type doneBody struct {
	io.ReadCloser
	once sync.Once
	done func()
	g    *guard
}

func (b *doneBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.g.runCtx.Err() != nil {
		err = &cutShort{b.g.cutReason()}
	}
	return n, err
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
