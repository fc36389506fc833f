package validate_test

// Helpers shared by the hardening tests (attack_test.go, failure_test.go,
// fuzz_test.go): a protected handler over real HTTP, requests that the
// standard client refuses to send, and the checks every refusal must pass.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
	"github.com/rsguard/rsguard/validate/validatetest"
)

const (
	// hardResource is the protected resource of the hardening tests.
	hardResource = "https://mcp.example.com/mcp"
	// hardMetadataURL is its RFC 9728 §3.1 path-inserted metadata URL, the
	// resource_metadata every challenge must carry.
	hardMetadataURL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
)

// hardNow is the fixed clock of the hardening tests: the issuer mints with it
// and the validators verify with it.
var hardNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// hardIssuer starts a test issuer whose tokens are for hardResource. algs
// chooses its keys (nil: the default RS256, PS256, ES256, EdDSA); now its
// clock (nil: hardNow).
func hardIssuer(t testing.TB, now func() time.Time, algs ...string) *validatetest.Issuer {
	t.Helper()
	if now == nil {
		now = func() time.Time { return hardNow }
	}
	return validatetest.NewIssuer(t, &validatetest.Options{
		Now:        now,
		Audience:   []string{hardResource},
		Algorithms: algs,
	})
}

// hardValidator builds a validator trusting is for hardResource, logging
// everything into logs (which may be nil), with mod applied to the config.
func hardValidator(t testing.TB, is *validatetest.Issuer, logs *logBuffer, mod func(*validate.Config)) *validate.Validator {
	t.Helper()
	cfg := validate.Config{
		Issuer:   is.URL,
		Resource: hardResource,
		Fetch:    validate.FetchOptions{HTTPClient: is.Client()},
		Now:      func() time.Time { return hardNow },
	}
	if logs != nil {
		cfg.Logger = logs.logger()
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := validate.New(ctx, cfg)
	require.NoError(t, err)
	return v
}

// logInto sets a Guard's Logger to log everything into logs, as
// hardValidator does.
func logInto(logs *logBuffer) func(*rsguard.Config) {
	return func(c *rsguard.Config) { c.Logger = logs.logger() }
}

// protectedOK is the handler behind the middleware: it answers 200 "ok" and
// checks that the middleware stored a grant.
var protectedOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, ok := rsguard.FromContext(r.Context()); !ok {
		http.Error(w, "no grant", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "ok")
})

// logBuffer collects slog output from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logger logs every level, as text and as JSON, so that neither encoding
// can hide a secret from the checks.
func (b *logBuffer) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	return slog.New(fanout{slog.NewTextHandler(b, opts), slog.NewJSONHandler(b, opts)})
}

// fanout sends each record to several handlers.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		errs = append(errs, h.Handle(ctx, r.Clone()))
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// hardRequest is a request to the protected handler, described rather than
// built, so that it can carry what net/http's client refuses to send.
type hardRequest struct {
	method  string      // "" is GET
	target  string      // path and query; "" is "/mcp"
	headers [][2]string // in order; repeated names allowed
	body    string
	ctype   string // Content-Type of body
	host    string // the Host header, if not the server's
}

// bearer is the request shape of most cases: one Authorization header.
func bearer(tok string) hardRequest {
	return hardRequest{headers: [][2]string{{"Authorization", "Bearer " + tok}}}
}

// hardResponse is what came back.
type hardResponse struct {
	status int
	header http.Header
	body   []byte
	wire   bool // sent over a real connection (else served in process)
}

// hardServer serves a handler over HTTP on 127.0.0.1.
type hardServer struct {
	h   http.Handler
	srv *httptest.Server
}

func newHardServer(t testing.TB, h http.Handler) *hardServer {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &hardServer{h: h, srv: srv}
}

// do sends r over the wire when net/http's client can send it, and serves it
// in process otherwise (control characters in a header value, a header
// beyond the server's header limit). It stops the test if the request
// cannot be sent: call it from the test goroutine only, and [hardServer.send]
// from any other.
func (s *hardServer) do(t testing.TB, r hardRequest) hardResponse {
	t.Helper()
	resp, err := s.send(r)
	require.NoError(t, err)
	return resp
}

// send is [hardServer.do] for any goroutine: a request that cannot be sent
// is an error, for the caller to report with t.Error or assert.
func (s *hardServer) send(r hardRequest) (hardResponse, error) {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	target := r.target
	if target == "" {
		target = "/mcp"
	}
	wire := true
	for _, h := range r.headers {
		if !sendable(h[1]) {
			wire = false
		}
	}
	if !wire {
		return s.serveLocal(r), nil
	}
	req, err := http.NewRequest(method, s.srv.URL+target, strings.NewReader(r.body))
	if err != nil {
		return hardResponse{}, err
	}
	for _, h := range r.headers {
		req.Header.Add(h[0], h[1])
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if r.host != "" {
		req.Host = r.host
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		return hardResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return hardResponse{}, err
	}
	return hardResponse{status: resp.StatusCode, header: resp.Header, body: body, wire: true}, nil
}

// local serves r in process, without a connection: any bytes can be sent.
func (s *hardServer) local(t testing.TB, r hardRequest) hardResponse {
	t.Helper()
	return s.serveLocal(r)
}

// serveLocal is [hardServer.local] for any goroutine.
func (s *hardServer) serveLocal(r hardRequest) hardResponse {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	target := r.target
	if target == "" {
		target = "/mcp"
	}
	req := httptest.NewRequest(method, "http://mcp.example.com"+target, strings.NewReader(r.body))
	for _, h := range r.headers {
		req.Header.Add(h[0], h[1])
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if r.host != "" {
		req.Host = r.host
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return hardResponse{status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
}

// sendable reports whether net/http's client sends v as a header value and
// the server reads it back unchanged: no control characters but HTAB, no
// leading or trailing white space, and well under the server's header limit.
func sendable(v string) bool {
	if len(v) > 64<<10 || strings.TrimSpace(v) != v {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// refusal is what a refused request must look like.
type refusal struct {
	status int    // 401 unless set
	code   string // the RFC 6750 error code; "" for none (no credentials)
}

// bodyCode is the "error" of the refusal's JSON body: its code, or, for a
// refusal whose challenge carries none (no credential, RFC 6750 §3.1; an
// outage), the one rsmeta.WriteError chooses by status.
func (r refusal) bodyCode() string {
	switch {
	case r.code != "":
		return r.code
	case r.status == http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	}
	return "unauthorized"
}

var (
	refuseToken   = refusal{status: http.StatusUnauthorized, code: rsmeta.ErrorInvalidToken}
	refuseRequest = refusal{status: http.StatusBadRequest, code: rsmeta.ErrorInvalidRequest}
	refuseNoCreds = refusal{status: http.StatusUnauthorized}
)

// checkRefusal asserts that resp is the refusal want, with a well-formed
// Bearer challenge pointing at the metadata, the CORS and caching headers of
// an error, a JSON body naming the same error, and none of secrets (the
// token, a hostile kid…) echoed anywhere in the headers or the body.
func checkRefusal(t testing.TB, resp hardResponse, want refusal, secrets ...string) {
	t.Helper()
	assert.Equal(t, want.status, resp.status, "status (body %q)", resp.body)
	lines := resp.header.Values("WWW-Authenticate")
	if assert.Len(t, lines, 1, "one WWW-Authenticate field line") {
		cs, err := rsmeta.ParseChallenges(lines[0])
		if assert.NoError(t, err, "challenge %q must parse", lines[0]) && assert.Len(t, cs, 1, "one challenge in %q", lines[0]) {
			c := cs[0]
			assert.True(t, strings.EqualFold(c.Scheme, "Bearer"), "scheme %q", c.Scheme)
			assert.Equal(t, hardMetadataURL, c.ResourceMetadata, "resource_metadata")
			assert.Equal(t, want.code, c.Error, "error code in %q", lines[0])
			if want.code != "" {
				assert.NotEmpty(t, c.ErrorDescription, "error_description")
			}
			assert.NotContains(t, c.Scope, "offline_access")
		}
	}
	assert.True(t, listsToken(resp.header.Values("Access-Control-Expose-Headers"), "WWW-Authenticate"),
		"Access-Control-Expose-Headers must name WWW-Authenticate")
	assert.Equal(t, "no-store", resp.header.Get("Cache-Control"))
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	var body map[string]any
	if assert.NoError(t, json.Unmarshal(resp.body, &body), "JSON body %q", resp.body) {
		assert.Equal(t, want.bodyCode(), body["error"])
	}
	assertNotEchoed(t, resp, secrets...)
}

// assertNotEchoed checks that no secret, and no dot-separated part of one
// eight bytes or longer (a token's header, payload or signature), appears in
// resp's header values or body.
func assertNotEchoed(t testing.TB, resp hardResponse, secrets ...string) {
	t.Helper()
	var hay strings.Builder
	hay.Write(resp.body)
	for name, vs := range resp.header {
		for _, v := range vs {
			hay.WriteString("\n" + name + ": " + v)
		}
	}
	for _, p := range secretParts(secrets...) {
		assert.NotContains(t, hay.String(), p, "response echoes %.40q… of a secret", p)
	}
}

// secretParts splits secrets into the pieces that must never be echoed or
// logged: each secret, and each of its dot-separated parts of eight bytes or
// more.
func secretParts(secrets ...string) []string {
	var out []string
	for _, s := range secrets {
		if len(s) >= 8 {
			out = append(out, s)
		}
		for _, p := range strings.Split(s, ".") {
			if len(p) >= 8 && p != s {
				out = append(out, p)
			}
		}
	}
	return out
}

// listsToken reports whether a comma-separated header list names tok.
func listsToken(values []string, tok string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(item), tok) {
				return true
			}
		}
	}
	return false
}

// checkVerify asserts that Verify refuses tok with one of the reasons in
// want, as an *Error that does not quote the token.
func checkVerify(t testing.TB, v *validate.Validator, tok string, want ...error) {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if !assert.Error(t, err, "Verify must refuse") {
		return
	}
	assert.Nil(t, c)
	var e *rsguard.Error
	if assert.True(t, errors.As(err, &e), "error %T is not a *rsguard.Error", err) {
		for _, p := range secretParts(tok) {
			assert.NotContains(t, e.Error(), p, "the error quotes the token")
			assert.NotContains(t, e.Description, p, "the description quotes the token")
		}
	}
	if len(want) == 0 {
		return
	}
	assert.True(t, slices.ContainsFunc(want, func(w error) bool { return errors.Is(err, w) }),
		"Verify error %q wraps none of %q", err, want)
}

// eachNotIn asserts that no part of any secret appears in text (logs).
func eachNotIn(t testing.TB, text, what string, secrets ...string) {
	t.Helper()
	for _, p := range secretParts(secrets...) {
		if !assert.NotContains(t, text, p, "%s contain %.40q… of a secret", what, p) {
			return
		}
	}
}
