package validatetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/internal/loopback"
	"github.com/rsguard/rsguard/rsmeta"
)

// ConformanceConfig describes a protected resource for [Conformance]: where
// it is, what it publishes, and which issuer it trusts.
type ConformanceConfig struct {
	// Issuer is the test issuer the server under test trusts: its issuer
	// identifier is Issuer.URL and it fetches keys with Issuer.Client().
	// The kit mints every token with it, and temporarily publishes a few
	// dubious keys in its JWK Set (a key marked "use":"enc", a 1024-bit RSA
	// key), retired when Conformance returns. Required.
	Issuer *Issuer

	// Handler is the server under test, as one http.Handler serving both
	// the protected endpoint (at the path of Resource) and its metadata (at
	// the path of MetadataURL): typically the mux of your server. The kit
	// serves it on 127.0.0.1 and sends requests with the Host of Resource.
	// Set exactly one of Handler and URL.
	Handler http.Handler

	// URL is the protected endpoint of a running server, such as
	// "http://127.0.0.1:8080/mcp". The metadata is fetched from the same
	// origin, at the path of MetadataURL. Set exactly one of Handler and URL.
	URL string

	// Resource is the resource identifier the server publishes as the
	// metadata's "resource" (RFC 9728 §2) and expects in its tokens' "aud"
	// (RFC 8707). Required with Handler; if empty, URL. It must use https,
	// or http on a loopback host (see package validate, "Plain http:
	// loopback hosts only").
	Resource string

	// MetadataURL is the URL of the protected resource metadata, which
	// every challenge must carry as resource_metadata (RFC 9728 §5.1). If
	// empty, the path-inserted well-known URL of Resource (RFC 9728 §3.1).
	MetadataURL string

	// Scopes, if non-nil, are the scopes the 401 challenge of a request
	// without a token must name in its scope auth-param (as a set, RFC 6750
	// §3). If nil, the scope auth-param is optional (MCP: SHOULD), but when
	// present it must be well-formed and never name offline_access.
	Scopes []string

	// MCP makes the kit speak MCP over Streamable HTTP: every request is a
	// POSTed JSON-RPC message with Accept "application/json,
	// text/event-stream"; a session is opened with initialize (its
	// Mcp-Session-Id and negotiated MCP-Protocol-Version are sent on later
	// requests); answers may be JSON or an SSE stream. If the server issues
	// session ids, the session subtests also send GET (the event stream,
	// read up to its headers only) and DELETE in a session, and end it.
	// If false, requests are plain HTTP requests (see Request).
	MCP bool

	// Tools maps MCP tools to the scopes a tools/call of each needs (MCP
	// only), for the step-up subtests (MCP authorization, "Scope Challenge
	// Handling"). For a tool with scopes: a token lacking one of them gets
	// 403 with a Bearer challenge error="insufficient_scope" whose scope,
	// granted, lets the call through; a token with exactly the listed
	// scopes gets through. For a tool with none, any valid token gets
	// through. "Gets through" means an HTTP 2xx answer: a JSON-RPC error
	// from the tool itself (bad arguments…) still counts. If nil, no
	// step-up subtests.
	Tools map[string][]string

	// ToolArguments holds the "arguments" of the tools/call of each tool.
	// If a tool has no entry, {} is sent.
	ToolArguments map[string]map[string]any

	// Claims are added to every token the kit mints, over the issuer's
	// defaults and the kit's own (for example a tenant claim your server
	// requires). A nil value removes a claim.
	Claims map[string]any

	// Request builds the request a valid token must get through (2xx) when
	// MCP is false, for the given endpoint URL; the kit adds the
	// Authorization header. If nil, a GET of the endpoint.
	Request func(ctx context.Context, endpoint string) (*http.Request, error)

	// HTTPClient sends the requests when URL is set. If nil, a client with
	// a 10 s timeout that does not follow redirects.
	HTTPClient *http.Client

	// Skip names subtests not to run, relative to the test that calls
	// Conformance ("cors", "attacks/request/token in the form body"): for a
	// deliberate deviation, with a comment saying why. A name also skips
	// the subtests under it.
	Skip []string
}

// Conformance checks, as subtests of t, that a server is a correctly wired
// OAuth 2.1 resource server in the sense of RFC 6750, RFC 9728, RFC 8707 and
// the MCP authorization specification, by sending it requests with tokens
// minted by cfg.Issuer. It is independent of how the server is built:
// an rsguard.Guard, another library, or hand-written code.
//
// The subtests:
//
//   - metadata: the RFC 9728 document at MetadataURL: 200, JSON, "resource"
//     identical to Resource (RFC 9728 §3.3), "authorization_servers"
//     naming the issuer, each of them https or http on a loopback host
//     (RFC 8414 §2), no "query" bearer method for MCP;
//   - cors: the metadata can be fetched and preflighted from a browser, and
//     refusals expose WWW-Authenticate (Access-Control-Expose-Headers) — to
//     the origin https://client.example, unless the endpoint refuses that
//     origin with 403 (MCP transport: Origin validation), which passes;
//   - challenge: a request without a token gets 401 with exactly one Bearer
//     challenge carrying resource_metadata, no error code (RFC 6750 §3.1),
//     and the configured scope;
//   - accept: a valid token gets through (MCP: initialize succeeds);
//   - session/… (MCP, when the server issues an Mcp-Session-Id; a
//     stateless server has nothing to check): a session belongs to the
//     principal that opened it (MCP security best practices, session
//     hijacking), and its id presented by anyone else is answered as one
//     never issued (404), so that ids cannot be probed. The owner opens a
//     session with a valid token; the intruders are "another user",
//     "client named after the user" and "client named after the user (sub
//     = client_id)". Then:
//   - session/unknown session: a made-up id (never issued) with the
//     owner's token gets 404 (to a GET or DELETE, 405 will do);
//   - session/<intruder>/POST, …/GET stream, …/DELETE: in the owner's
//     session, another user's token, and a client-credentials token (no
//     sub, or sub equal to client_id) whose client_id is the owner's sub,
//     get 404 — a 403 fails, for it tells a prober the session exists; the
//     GET is never served a stream (the kit reads its answer up to the
//     headers, then closes it); after an intruder's DELETE the owner is
//     still served;
//   - session/<intruder>/same answer as an unknown session: each of those
//     requests gets the status the made-up id got;
//   - session/renewed token: the owner with a freshly issued token (same
//     sub and client_id, new jti, later exp) is served in its session;
//   - session/owner ends the session: once the owner's DELETE is answered
//     2xx, the session's id gets 404; a DELETE answered 405 (a server that
//     does not let clients end sessions, as MCP allows) skips the subtest;
//   - stepup/<tool>: see ConformanceConfig.Tools;
//   - attacks/<class>/<case>: over seventy tokens and requests that must be
//     refused, in five classes: algorithm (none, HMAC keyed with the public
//     key, foreign keys under known and unknown kids, keys from jku/jwk/x5u
//     headers, alg/key mismatches, stripped and transplanted signatures,
//     crit, keys not meant for signing), claims (expired, not yet valid,
//     wrongly typed, missing, issuer and audience look-alikes, wrong typ,
//     a sender-constrained "cnf" token presented as Bearer, an "auth_time"
//     in the future), malformed (segments, JWE, base64url, JSON, size, and
//     JSON that readers disagree on: duplicate member names, plain,
//     escaped or nested, a lone UTF-16 surrogate, a number out of float64
//     range), request (no or several Authorization headers, other schemes,
//     tokens in the query or the body, a spoofed Host) and, for MCP, method
//     (PUT, PATCH and a lowercase "post" carrying a tools/call the token
//     may not make). A refused token gets 401 with a Bearer challenge
//     error="invalid_token" and resource_metadata; a malformed request 400
//     invalid_request (or 401); a method other than POST, GET, DELETE and
//     OPTIONS 405 with an Allow header listing POST, even in a session the
//     same user opened; and no response echoes any part of the token.
//
// Failures are reported with t.Errorf in the subtest concerned, with what
// was sent and received, never a token or part of one, and end with one
// sentence saying what to change in the server. Conformance calls t.Fatal
// only for a configuration it cannot use.
func Conformance(t *testing.T, cfg ConformanceConfig) {
	t.Helper()
	runConformance(tRunner{t}, cfg)
}

// runner is the part of *testing.T the kit uses, so that its own tests can
// run it against broken servers and watch it fail.
type runner interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	Name() string
	Cleanup(func())
	Run(name string, f func(runner)) bool
}

type tRunner struct{ *testing.T }

func (r tRunner) Run(name string, f func(runner)) bool {
	return r.T.Run(name, func(t *testing.T) { f(tRunner{t}) })
}

// conformance is one run of the kit.
type conformance struct {
	cfg         ConformanceConfig
	is          *Issuer
	client      *http.Client
	endpoint    string // where requests go
	host        string // the Host header, "" for the endpoint's own
	resource    string
	metadataURL string // the expected resource_metadata
	metadataGet string // where the metadata is fetched
	base        string // the name of the test that called Conformance
	skip        []string

	attackerRSA *rsa.PrivateKey
	attackerEC  *ecdsa.PrivateKey
	attackerEd  ed25519.PrivateKey

	// MCP session state.
	session    string
	protocol   string
	nextID     int
	streamWait time.Duration // for the headers of a GET; streamTimeout
}

func runConformance(r runner, cfg ConformanceConfig) {
	r.Helper()
	c, err := newConformance(r, cfg)
	if err != nil {
		r.Fatalf("validatetest.Conformance: %v", err)
		return
	}
	c.run(r, "metadata", c.checkMetadata)
	c.run(r, "cors", c.checkCORS)
	c.run(r, "challenge", c.checkChallenge)
	c.run(r, "accept", c.checkAccept)
	if cfg.MCP {
		c.run(r, "session", c.checkSession)
	}
	if cfg.MCP && len(cfg.Tools) > 0 {
		c.run(r, "stepup", func(r runner) {
			tools := make([]string, 0, len(cfg.Tools))
			for tool := range cfg.Tools {
				tools = append(tools, tool)
			}
			slices.Sort(tools)
			for _, tool := range tools {
				c.run(r, tool, func(r runner) { c.checkStepUp(r, tool) })
			}
		})
	}
	c.run(r, "attacks", func(r runner) {
		for _, class := range c.attacks(r) {
			c.run(r, class.name, func(r runner) {
				for _, a := range class.cases {
					c.run(r, a.name, func(r runner) { c.checkAttack(r, a) })
				}
			})
		}
	})
}

func newConformance(r runner, cfg ConformanceConfig) (*conformance, error) {
	if cfg.Issuer == nil {
		return nil, errors.New("Issuer is required")
	}
	if (cfg.Handler == nil) == (cfg.URL == "") {
		return nil, errors.New("set exactly one of Handler and URL")
	}
	c := &conformance{cfg: cfg, is: cfg.Issuer, resource: cfg.Resource, skip: cfg.Skip, nextID: 1, base: r.Name(), streamWait: streamTimeout}
	if c.resource == "" {
		if cfg.URL == "" {
			return nil, errors.New("validatetest: Resource is required with Handler")
		}
		c.resource = cfg.URL
	}
	ru, err := url.Parse(c.resource)
	if err != nil || !ru.IsAbs() || ru.Host == "" {
		return nil, fmt.Errorf("validatetest: Resource %q is not an absolute URL", c.resource)
	}
	if !loopback.AllowsScheme(ru) {
		return nil, fmt.Errorf("validatetest: Resource %q must use https (http only on loopback hosts; RFC 9728 §1.2)", c.resource)
	}
	c.metadataURL = cfg.MetadataURL
	if c.metadataURL == "" {
		if c.metadataURL, err = rsmeta.WellKnownURL(c.resource); err != nil {
			return nil, fmt.Errorf("cannot derive MetadataURL: %w", err)
		}
	}
	mu, err := url.Parse(c.metadataURL)
	if err != nil || !mu.IsAbs() {
		return nil, fmt.Errorf("MetadataURL %q is not an absolute URL", c.metadataURL)
	}
	var origin string
	if cfg.Handler != nil {
		srv := httptest.NewServer(cfg.Handler)
		r.Cleanup(srv.Close)
		c.client = srv.Client()
		c.client.CheckRedirect = noRedirects
		origin = srv.URL
		c.endpoint = srv.URL + ru.EscapedPath()
		if ru.RawQuery != "" {
			c.endpoint += "?" + ru.RawQuery
		}
		c.host = ru.Host
	} else {
		eu, err := url.Parse(cfg.URL)
		if err != nil || !eu.IsAbs() || eu.Host == "" {
			return nil, fmt.Errorf("URL %q is not an absolute URL", cfg.URL)
		}
		c.client = cfg.HTTPClient
		if c.client == nil {
			c.client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirects}
		}
		origin = eu.Scheme + "://" + eu.Host
		c.endpoint = cfg.URL
	}
	c.metadataGet = origin + mu.EscapedPath()
	if mu.RawQuery != "" {
		c.metadataGet += "?" + mu.RawQuery
	}
	return c, nil
}

// attackerKeys generates the attacker's keys, when the attacks subtest
// first needs them (a run that skips it does without).
func (c *conformance) attackerKeys() (err error) {
	if c.attackerRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return err
	}
	if c.attackerEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	_, c.attackerEd, err = ed25519.GenerateKey(rand.Reader)
	return err
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// run runs f as the subtest name, unless Skip names it.
func (c *conformance) run(r runner, name string, f func(runner)) {
	r.Run(name, func(r runner) {
		// t.Run writes spaces as underscores; Skip entries may use either.
		path := strings.ReplaceAll(strings.TrimPrefix(r.Name(), c.base+"/"), " ", "_")
		for _, s := range c.skip {
			s = strings.ReplaceAll(s, " ", "_")
			if path == s || strings.HasPrefix(path, s+"/") {
				r.Skipf("skipped by ConformanceConfig.Skip")
				return
			}
		}
		f(r)
	})
}

// response is what the kit keeps of an answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *conformance) send(req *http.Request) (*response, error) {
	return c.sendHost(req, c.host)
}

// sendHost sends req with the given Host header ("" for its URL's).
func (c *conformance) sendHost(req *http.Request, host string) (*response, error) {
	if host != "" {
		req.Host = host
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// token mints a token for the resource with the given scopes (nil: no scope
// claim) and claims.
func (c *conformance) token(scopes []string, claims map[string]any) string {
	return c.tokenWith(TokenOptions{}, scopes, claims)
}

func (c *conformance) tokenWith(opts TokenOptions, scopes []string, claims map[string]any) string {
	m := map[string]any{"aud": c.resource}
	if scopes != nil {
		m["scope"] = strings.Join(scopes, " ")
	}
	for k, v := range c.cfg.Claims {
		m[k] = v
	}
	for k, v := range claims {
		m[k] = v
	}
	return c.is.TokenWith(opts, m)
}

// allScopes is the union of Scopes and every tool's scopes: what the kit's
// valid token carries.
func (c *conformance) allScopes() []string {
	out := slices.Clone(c.cfg.Scopes)
	for _, ss := range c.cfg.Tools {
		for _, s := range ss {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// probe sends the request that a valid token gets through, with the given
// Authorization header values (none for nil), query and body tweaks.
type probe struct {
	authorization []string
	query         string // appended to the endpoint's query
	formToken     string // sent as access_token in a form body instead
	headers       [][2]string
	host          string // the Host header, instead of the resource's
}

// request builds the probe: in MCP mode a POSTed initialize (before any
// session) or tools/list; else ConformanceConfig.Request.
func (c *conformance) request(p probe) (*http.Request, error) {
	endpoint := c.endpoint
	if p.query != "" {
		if strings.Contains(endpoint, "?") {
			endpoint += "&" + p.query
		} else {
			endpoint += "?" + p.query
		}
	}
	var req *http.Request
	var err error
	switch {
	case p.formToken != "":
		req, err = http.NewRequest(http.MethodPost, endpoint, strings.NewReader(url.Values{"access_token": {p.formToken}}.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case c.cfg.MCP:
		req, err = c.rpcRequest(endpoint, "initialize", initializeParams, false)
	case c.cfg.Request != nil:
		req, err = c.cfg.Request(context.Background(), endpoint)
	default:
		req, err = http.NewRequest(http.MethodGet, endpoint, nil)
	}
	if err != nil {
		return nil, err
	}
	for _, a := range p.authorization {
		req.Header.Add("Authorization", a)
	}
	for _, h := range p.headers {
		req.Header.Add(h[0], h[1])
	}
	return req, nil
}

var initializeParams = map[string]any{
	"protocolVersion": "2025-06-18",
	"capabilities":    map[string]any{},
	"clientInfo":      map[string]any{"name": "rsguard-conformance", "version": "1"},
}

// rpcRequest builds a Streamable HTTP POST of one JSON-RPC message.
func (c *conformance) rpcRequest(endpoint, method string, params any, notification bool) (*http.Request, error) {
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		msg["params"] = params
	}
	if !notification {
		msg["id"] = c.nextID
		c.nextID++
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.session != "" && method != "initialize" {
		req.Header.Set("Mcp-Session-Id", c.session)
	}
	if c.protocol != "" && method != "initialize" {
		req.Header.Set("MCP-Protocol-Version", c.protocol)
	}
	return req, nil
}

// rpc sends one JSON-RPC message with the token and returns the HTTP
// response and, for a request answered with 2xx, its JSON-RPC response.
func (c *conformance) rpc(token, method string, params any) (*response, *rpcResponse, error) {
	notification := strings.HasPrefix(method, "notifications/")
	req, err := c.rpcRequest(c.endpoint, method, params, notification)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.send(req)
	if err != nil {
		return nil, nil, err
	}
	if notification || resp.status/100 != 2 {
		return resp, nil, nil
	}
	msg, err := readRPC(resp)
	return resp, msg, err
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// readRPC reads the JSON-RPC response of a 2xx answer, sent as JSON or as
// an SSE stream (the first event with a result or error).
func readRPC(resp *response) (*rpcResponse, error) {
	ct, _, _ := mime.ParseMediaType(resp.header.Get("Content-Type"))
	if ct != "text/event-stream" {
		var m rpcResponse
		if err := json.Unmarshal(resp.body, &m); err != nil {
			return nil, fmt.Errorf("the answer is not a JSON-RPC response (Content-Type %q): %v", ct, err)
		}
		return &m, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(resp.body))
	sc.Buffer(nil, 1<<20)
	var data strings.Builder
	flush := func() (*rpcResponse, bool) {
		defer data.Reset()
		var m rpcResponse
		if json.Unmarshal([]byte(data.String()), &m) == nil && (m.Result != nil || m.Error != nil) {
			return &m, true
		}
		return nil, false
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if m, ok := flush(); ok {
				return m, nil
			}
		case strings.HasPrefix(line, "data:"):
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if m, ok := flush(); ok {
		return m, nil
	}
	return nil, errors.New("the SSE stream carries no JSON-RPC response")
}
