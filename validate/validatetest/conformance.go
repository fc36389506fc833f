package validatetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
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
	// identifier is Issuer.URL() and it fetches keys with Issuer.Client().
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
	// requests); answers may be JSON or an SSE stream. If false, requests
	// are plain HTTP requests (see Request).
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
// rsguard's middleware, another library, or hand-written code.
//
// The subtests:
//
//   - metadata: the RFC 9728 document at MetadataURL: 200, JSON, "resource"
//     identical to Resource (RFC 9728 §3.3), "authorization_servers"
//     naming the issuer, each of them https or http on a loopback host
//     (RFC 8414 §2), no "query" bearer method for MCP;
//   - cors: the metadata can be fetched and preflighted from a browser, and
//     refusals expose WWW-Authenticate (Access-Control-Expose-Headers);
//   - challenge: a request without a token gets 401 with exactly one Bearer
//     challenge carrying resource_metadata, no error code (RFC 6750 §3.1),
//     and the configured scope;
//   - accept: a valid token gets through (MCP: initialize succeeds);
//   - session/<intruder> (MCP): a session opened with one user's token
//     serves neither another user's token nor a client-credentials token
//     (no sub, or sub equal to client_id) whose client_id is that user's
//     sub (MCP security best practices, session hijacking);
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
// was sent and received, never the whole token. Conformance calls t.Fatal
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
	session  string
	protocol string
	nextID   int
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
	c := &conformance{cfg: cfg, is: cfg.Issuer, resource: cfg.Resource, skip: cfg.Skip, nextID: 1, base: r.Name()}
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

// checkMetadata: RFC 9728 §3.
func (c *conformance) checkMetadata(r runner) {
	req, err := http.NewRequest(http.MethodGet, c.metadataGet, nil)
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	resp, err := c.send(req)
	if err != nil {
		r.Errorf("GET %s: %v", c.metadataURL, err)
		return
	}
	if resp.status != http.StatusOK {
		r.Errorf("GET %s: status %d, want 200 (RFC 9728 §3.2)", c.metadataURL, resp.status)
		return
	}
	if ct, _, _ := mime.ParseMediaType(resp.header.Get("Content-Type")); ct != "application/json" {
		r.Errorf("metadata Content-Type %q, want application/json (RFC 9728 §3.2)", resp.header.Get("Content-Type"))
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(resp.body, &doc); err != nil || doc == nil {
		r.Errorf("metadata is not a JSON object: %q", truncate(resp.body))
		return
	}
	var res string
	if err := json.Unmarshal(doc["resource"], &res); err != nil {
		r.Errorf(`metadata "resource" missing or not a string (RFC 9728 §2)`)
	} else if res != c.resource {
		r.Errorf(`metadata "resource" is %q, want %q: a client compares it with the URL it started from and stops (RFC 9728 §3.3)`, res, c.resource)
	}
	var servers []string
	if err := json.Unmarshal(doc["authorization_servers"], &servers); err != nil {
		r.Errorf(`metadata "authorization_servers" missing or not an array of strings: MCP clients need it`)
	} else if !slices.Contains(servers, c.is.URL()) {
		r.Errorf(`metadata "authorization_servers" %q does not name the issuer %q`, servers, c.is.URL())
	}
	for _, as := range servers {
		if u, err := url.Parse(as); err != nil || !u.IsAbs() || !loopback.AllowsScheme(u) {
			r.Errorf(`metadata "authorization_servers" names %q: an issuer must use https, http only on loopback hosts (RFC 8414 §2)`, as)
		}
	}
	if raw, ok := doc["bearer_methods_supported"]; ok {
		var methods []string
		if err := json.Unmarshal(raw, &methods); err != nil {
			r.Errorf(`metadata "bearer_methods_supported" is not an array of strings`)
		} else if c.cfg.MCP && slices.Contains(methods, "query") {
			r.Errorf(`metadata "bearer_methods_supported" lists "query": MCP forbids tokens in the query string`)
		}
	}
	if raw, ok := doc["scopes_supported"]; ok {
		var scopes []string
		if err := json.Unmarshal(raw, &scopes); err != nil {
			r.Errorf(`metadata "scopes_supported" is not an array of strings`)
		}
		for _, s := range c.cfg.Scopes {
			if !slices.Contains(scopes, s) {
				r.Errorf(`metadata "scopes_supported" %q lacks %q, a scope the challenge names`, scopes, s)
			}
		}
	}
}

// checkCORS: browser-based clients must be able to read the metadata and
// the challenge.
func (c *conformance) checkCORS(r runner) {
	req, _ := http.NewRequest(http.MethodGet, c.metadataGet, nil)
	req.Header.Set("Origin", "https://client.example")
	if resp, err := c.send(req); err != nil {
		r.Errorf("GET metadata: %v", err)
	} else if resp.header.Get("Access-Control-Allow-Origin") == "" {
		r.Errorf("the metadata answer has no Access-Control-Allow-Origin: browser-based MCP clients cannot read it")
	}
	req, _ = http.NewRequest(http.MethodOptions, c.metadataGet, nil)
	req.Header.Set("Origin", "https://client.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "mcp-protocol-version")
	if resp, err := c.send(req); err != nil {
		r.Errorf("OPTIONS metadata: %v", err)
	} else if resp.status/100 != 2 || resp.header.Get("Access-Control-Allow-Origin") == "" {
		r.Errorf("the metadata's CORS preflight got %d without Access-Control-Allow-Origin", resp.status)
	}
	req, err := c.request(probe{})
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	req.Header.Set("Origin", "https://client.example")
	if resp, err := c.send(req); err != nil {
		r.Errorf("request without a token: %v", err)
	} else if !listsToken(resp.header.Values("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		r.Errorf("the 401 does not list WWW-Authenticate in Access-Control-Expose-Headers: a browser-based client cannot read the challenge")
	}
}

// checkChallenge: RFC 6750 §3, RFC 9728 §5.1.
func (c *conformance) checkChallenge(r runner) {
	req, err := c.request(probe{})
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	resp, err := c.send(req)
	if err != nil {
		r.Errorf("request without a token: %v", err)
		return
	}
	if resp.status != http.StatusUnauthorized {
		r.Errorf("request without a token: status %d, want 401", resp.status)
		return
	}
	ch, ok := c.bearerChallenge(r, resp)
	if !ok {
		return
	}
	if ch.Error != "" {
		r.Errorf("the challenge to a request without credentials carries error=%q: RFC 6750 §3.1 says it should not", ch.Error)
	}
	if c.cfg.Scopes != nil && !sameSet(ch.Scope, c.cfg.Scopes) {
		r.Errorf("challenge scope %q, want %q", ch.Scope, c.cfg.Scopes)
	}
}

// bearerChallenge returns the single Bearer challenge of a refusal, checked
// for resource_metadata and scope.
func (c *conformance) bearerChallenge(r runner, resp *response) (rsmeta.Challenge, bool) {
	r.Helper()
	lines := resp.header.Values("WWW-Authenticate")
	if len(lines) == 0 {
		r.Errorf("status %d without WWW-Authenticate: an MCP client cannot discover the authorization server (RFC 9728 §5.1, RFC 9110 §15.5.2)", resp.status)
		return rsmeta.Challenge{}, false
	}
	var bearer []rsmeta.Challenge
	for _, l := range lines {
		cs, err := rsmeta.ParseChallenges(l)
		if err != nil {
			r.Errorf("WWW-Authenticate %q does not parse: %v", l, err)
			return rsmeta.Challenge{}, false
		}
		for _, ch := range cs {
			if strings.EqualFold(ch.Scheme, "Bearer") {
				bearer = append(bearer, ch)
			}
		}
	}
	if len(bearer) != 1 {
		r.Errorf("WWW-Authenticate %q: %d Bearer challenges, want 1", lines, len(bearer))
		return rsmeta.Challenge{}, false
	}
	ch := bearer[0]
	if ch.ResourceMetadata != c.metadataURL {
		r.Errorf("challenge resource_metadata %q, want %q (RFC 9728 §5.1)", ch.ResourceMetadata, c.metadataURL)
	}
	if slices.Contains(ch.Scope, "offline_access") {
		r.Errorf("the challenge names offline_access: MCP says a server never asks for it")
	}
	return ch, true
}

// checkAccept: a valid token gets through.
func (c *conformance) checkAccept(r runner) {
	tok := c.token(c.allScopes(), nil)
	if c.cfg.MCP {
		if !c.initialize(r, tok) {
			return
		}
		resp, msg, err := c.rpc(tok, "tools/list", map[string]any{})
		if err != nil {
			r.Errorf("tools/list: %v", err)
		} else if resp.status/100 != 2 || msg == nil || msg.Error != nil {
			r.Errorf("tools/list with a valid token: status %d, %s", resp.status, describeRPC(msg, resp))
		}
		return
	}
	req, err := c.request(probe{authorization: []string{"Bearer " + tok}})
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	resp, err := c.send(req)
	if err != nil {
		r.Errorf("request with a valid token: %v", err)
	} else if resp.status/100 != 2 {
		r.Errorf("request with a valid token: status %d (WWW-Authenticate %q, body %q)", resp.status, resp.header.Values("WWW-Authenticate"), truncate(resp.body))
	}
}

// initialize opens an MCP session with tok.
func (c *conformance) initialize(r runner, tok string) bool {
	r.Helper()
	c.session, c.protocol = "", ""
	resp, msg, err := c.rpc(tok, "initialize", initializeParams)
	if err != nil {
		r.Errorf("initialize: %v", err)
		return false
	}
	if resp.status/100 != 2 || msg == nil || msg.Error != nil {
		r.Errorf("initialize with a valid token: status %d, %s", resp.status, describeRPC(msg, resp))
		return false
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	_ = json.Unmarshal(msg.Result, &res)
	c.session = resp.header.Get("Mcp-Session-Id")
	c.protocol = res.ProtocolVersion
	if resp, _, err := c.rpc(tok, "notifications/initialized", nil); err != nil || resp.status/100 != 2 {
		r.Errorf("notifications/initialized: %v %v", err, statusOf(resp))
		return false
	}
	return true
}

// checkSession: an MCP session belongs to the principal that opened it
// (MCP security best practices, session hijacking: bind the session ID to
// the user). With its Mcp-Session-Id, none of these valid tokens may be
// served (any status but 2xx will do; 404 or 403 are usual):
//
//   - another user's (another sub and client_id);
//   - a token a client holds for itself (client credentials, RFC 9068
//     §2.2: no sub, or sub equal to client_id) whose client_id is the sub
//     of the user who opened the session — a client id may be chosen by whoever
//     registers the client (RFC 7591), so a principal built as "sub, else
//     client_id" lets a client named after a user take over her sessions.
func (c *conformance) checkSession(r runner) {
	if !c.initialize(r, c.token(c.allScopes(), nil)) {
		return
	}
	if c.session == "" {
		r.Logf("the server issued no Mcp-Session-Id (stateless): nothing to check")
		return
	}
	own := c.is.claims(c.cfg.Claims)
	owner, _ := own["sub"].(string)
	ownerClient, _ := own["client_id"].(string)
	intruders := []struct {
		name, who string
		claims    map[string]any
	}{
		{"another user", "another user's token", map[string]any{"sub": "rsguard-conformance-other-user", "client_id": "rsguard-conformance-other-client"}},
		{"client named after the user", fmt.Sprintf("a client-credentials token without sub whose client_id is the owner's sub %q", owner), map[string]any{"sub": nil, "client_id": owner}},
		{"client named after the user (sub = client_id)", fmt.Sprintf("a client-credentials token whose sub and client_id are the owner's sub %q", owner), map[string]any{"sub": owner, "client_id": owner}},
	}
	if owner == "" || owner == ownerClient {
		r.Logf("the kit's tokens carry no user sub (see ConformanceConfig.Claims): the session owner is a client, and no other client can be named after it")
		intruders = intruders[:1]
	}
	for _, in := range intruders {
		c.run(r, in.name, func(r runner) {
			resp, _, err := c.rpc(c.token(c.allScopes(), in.claims), "tools/list", map[string]any{})
			if err != nil {
				r.Errorf("tools/list with %s: %v", in.who, err)
				return
			}
			if resp.status/100 == 2 {
				r.Errorf("%s was served in a session it did not open (status %d): bind Mcp-Session-Id to the token's principal, users and clients apart", in.who, resp.status)
			}
		})
	}
}

// checkStepUp: MCP authorization, scope challenge handling (403
// insufficient_scope, then success with the scopes it names).
func (c *conformance) checkStepUp(r runner, tool string) {
	need := c.cfg.Tools[tool]
	args := c.cfg.ToolArguments[tool]
	if args == nil {
		args = map[string]any{}
	}
	params := map[string]any{"name": tool, "arguments": args}
	if !c.initialize(r, c.token(c.allScopes(), nil)) {
		return
	}
	call := func(scopes []string) (*response, *rpcResponse, bool) {
		r.Helper()
		resp, msg, err := c.rpc(c.token(scopes, nil), "tools/call", params)
		if err != nil {
			r.Errorf("tools/call %s with scopes %q: %v", tool, scopes, err)
			return nil, nil, false
		}
		return resp, msg, true
	}
	if len(need) == 0 {
		if resp, msg, ok := call([]string{}); ok && resp.status/100 != 2 {
			r.Errorf("tools/call %s (needs no scope) with a scope-less token: status %d, %s", tool, resp.status, describeRPC(msg, resp))
		}
		return
	}
	// Lacking one scope: 403 insufficient_scope.
	lacking := need[:len(need)-1]
	resp, _, ok := call(lacking)
	if !ok {
		return
	}
	if resp.status != http.StatusForbidden {
		r.Errorf("tools/call %s with scopes %q (lacking %q): status %d, want 403 insufficient_scope", tool, lacking, need[len(need)-1], resp.status)
		return
	}
	ch, ok := c.bearerChallenge(r, resp)
	if !ok {
		return
	}
	if ch.Error != rsmeta.ErrorInsufficientScope {
		r.Errorf("403 challenge error=%q, want insufficient_scope (RFC 6750 §3.1)", ch.Error)
	}
	if len(ch.Scope) == 0 {
		r.Errorf("the 403 challenge names no scope: the client cannot know what to ask for")
		return
	}
	for _, s := range need {
		if !slices.Contains(ch.Scope, s) {
			r.Logf("the 403 challenge scope %q does not list %q: fine only if a scope it lists implies it", ch.Scope, s)
		}
	}
	// The scopes the challenge names, granted, let the call through.
	if resp, msg, ok := call(ch.Scope); ok && resp.status/100 != 2 {
		r.Errorf("tools/call %s with the scopes the 403 named (%q): status %d, %s: step-up cannot succeed", tool, ch.Scope, resp.status, describeRPC(msg, resp))
	}
	// So do exactly the scopes the tool is configured with.
	if resp, msg, ok := call(need); ok && resp.status/100 != 2 {
		r.Errorf("tools/call %s with its scopes %q: status %d, %s", tool, need, resp.status, describeRPC(msg, resp))
	}
}

// attack is one request that must be refused.
type attack struct {
	name  string
	token string // sent as "Bearer " + token unless probe or method is set
	probe *probe
	// method, if set, makes the attack an MCP tools/call sent with this
	// HTTP method in a session the same user opened (see checkMethod); want
	// is then "method".
	method string
	call   map[string]any // the params of that tools/call; nil: tools/list
	// want: "token" (401 invalid_token), "request" (400 invalid_request,
	// or 401), "none" (401 without an error code, or 400), "method" (405
	// with an Allow header that lists POST).
	want string
}

type attackClass struct {
	name  string
	cases []attack
}

// attacks builds the attack corpus for the issuer and resource under test.
func (c *conformance) attacks(r runner) []attackClass {
	if err := c.attackerKeys(); err != nil {
		r.Fatalf("validatetest.Conformance: %v", err)
		return nil
	}
	is := c.is
	now := is.now()
	tok := func(opts TokenOptions, claims map[string]any) string { return c.tokenWith(opts, c.allScopes(), claims) }
	good := tok(TokenOptions{}, nil)
	kid := is.Kid("")
	defaultAlg := is.defaultAlg
	h, p, s := splitToken(good)

	// Dubious keys, published for this run only.
	encKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	weakKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	encKid := is.AddKey(Key{Signer: encKey, JWK: map[string]any{"use": "enc"}})
	weakKid := is.AddKey(Key{Signer: weakKey})
	r.Cleanup(func() { is.Retire(encKid); is.Retire(weakKid) })

	var foreign crypto.Signer = c.attackerRSA
	var otherFamily crypto.Signer = c.attackerEC
	switch algFamily(defaultAlg) {
	case "EC":
		foreign, otherFamily = c.attackerEC, c.attackerRSA
	case "OKP":
		foreign, otherFamily = c.attackerEd, c.attackerRSA
	}
	attackerJWK, _ := publicJWK(c.attackerRSA.Public())
	attackerJWK["kid"] = "rsguard-conformance-attacker"
	aud := c.resource
	u, _ := url.Parse(aud)
	origin := u.Scheme + "://" + u.Host
	iss := is.URL()

	algorithm := []attack{
		{name: "alg none", token: tok(TokenOptions{Alg: "none"}, nil)},
		{name: "alg None", token: tok(TokenOptions{Alg: "None"}, nil)},
		{name: "alg NONE with a signature", token: tok(TokenOptions{Alg: "NONE"}, nil) + s},
		{name: "HS256 keyed with the public key PEM", token: tok(TokenOptions{Alg: "HS256", Key: kid, Secret: is.PublicKeyPEM(kid)}, nil)},
		{name: "HS256 keyed with the public key DER", token: tok(TokenOptions{Alg: "HS256", Key: kid, Secret: is.PublicKeyDER(kid)}, nil)},
		{name: "HS256 keyed with the JWK", token: tok(TokenOptions{Alg: "HS256", Key: kid, Secret: is.PublicJWK(kid)}, nil)},
		{name: "HS512 keyed with the public key PEM", token: tok(TokenOptions{Alg: "HS512", Key: kid, Secret: is.PublicKeyPEM(kid)}, nil)},
		{name: "foreign key under the issuer's kid", token: tok(TokenOptions{Signer: foreign, Key: kid}, nil)},
		{name: "foreign key under an unknown kid", token: tok(TokenOptions{Signer: foreign, Header: map[string]any{"kid": "rsguard-conformance-unknown"}}, nil)},
		{name: "foreign key without kid", token: tok(TokenOptions{Signer: foreign, Header: map[string]any{"kid": nil}}, nil)},
		{name: "foreign key of another type under the issuer's kid", token: tok(TokenOptions{Signer: otherFamily, Key: kid}, nil)},
		{name: "foreign key in a jwk header", token: tok(TokenOptions{Signer: c.attackerRSA, Header: map[string]any{"jwk": attackerJWK, "kid": attackerJWK["kid"]}}, nil)},
		{name: "foreign key in a jku header", token: tok(TokenOptions{Signer: c.attackerRSA, Header: map[string]any{"jku": "https://attacker.invalid/jwks", "kid": attackerJWK["kid"]}}, nil)},
		{name: "foreign key in an x5u header", token: tok(TokenOptions{Signer: c.attackerRSA, Header: map[string]any{"x5u": "https://attacker.invalid/cert.pem", "kid": attackerJWK["kid"]}}, nil)},
		{name: "stripped signature", token: tok(TokenOptions{NoSignature: true}, nil)},
		{name: "signature of another token", token: joinToken(splitFirst2(tok(TokenOptions{}, map[string]any{"sub": "mallory"})), s)},
		{name: "payload tampered", token: h + "." + rawURL64(mustJSON(map[string]any{"iss": iss, "aud": aud, "exp": now.Add(time.Hour).Unix(), "scope": "admin"})) + "." + s},
		{name: "crit header", token: tok(TokenOptions{Header: map[string]any{"crit": []string{"exp"}, "exp": now.Unix()}}, nil)},
		{name: "crit b64", token: tok(TokenOptions{Header: map[string]any{"crit": []string{"b64"}, "b64": false}}, nil)},
		{name: "key published with use enc", token: tok(TokenOptions{Key: encKid}, nil)},
		{name: "RSA key of 1024 bits", token: tok(TokenOptions{Key: weakKid}, nil)},
		{name: "hostile kid", token: tok(TokenOptions{Key: kid, Header: map[string]any{"kid": "../../../../etc/passwd' OR '1'='1"}}, nil)},
	}
	if k := is.Kid("RS256"); k != "" {
		algorithm = append(algorithm,
			attack{name: "PS256 signature by the RS256 key", token: tok(TokenOptions{Key: k, Alg: "PS256"}, nil)},
			attack{name: "header ES256 on the RS256 key", token: tok(TokenOptions{Signer: c.attackerEC, Key: k}, nil)})
	}
	for i := range algorithm {
		algorithm[i].want = "token"
	}

	claims := []attack{
		{name: "expired", token: tok(TokenOptions{}, map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})},
		{name: "not yet valid", token: tok(TokenOptions{}, map[string]any{"nbf": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})},
		{name: "issued in the future", token: tok(TokenOptions{}, map[string]any{"iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})},
		{name: "no exp", token: tok(TokenOptions{}, map[string]any{"exp": nil})},
		{name: "exp as a string", token: tok(TokenOptions{}, map[string]any{"exp": fmt.Sprint(now.Add(time.Hour).Unix())})},
		{name: "no iss", token: tok(TokenOptions{}, map[string]any{"iss": nil})},
		{name: "other issuer", token: tok(TokenOptions{}, map[string]any{"iss": "https://attacker.invalid"})},
		{name: "issuer with a trailing slash", token: tok(TokenOptions{}, map[string]any{"iss": iss + "/"})},
		{name: "issuer upper-cased", token: tok(TokenOptions{}, map[string]any{"iss": strings.ToUpper(iss)})},
		{name: "no aud", token: tok(TokenOptions{}, map[string]any{"aud": nil})},
		{name: "aud as a number", token: tok(TokenOptions{}, map[string]any{"aud": 42})},
		{name: "aud another resource", token: tok(TokenOptions{}, map[string]any{"aud": "https://other.invalid/mcp"})},
		{name: "aud the origin only", token: tok(TokenOptions{}, map[string]any{"aud": origin})},
		{name: "aud a sibling path", token: tok(TokenOptions{}, map[string]any{"aud": origin + "/other"})},
		{name: "aud a prefix", token: tok(TokenOptions{}, map[string]any{"aud": strings.TrimSuffix(aud, "/")[:len(strings.TrimSuffix(aud, "/"))-1]})},
		{name: "aud an extension", token: tok(TokenOptions{}, map[string]any{"aud": strings.TrimSuffix(aud, "/") + "x"})},
		{name: "aud array without the resource", token: tok(TokenOptions{}, map[string]any{"aud": []string{"https://a.invalid", origin + "/other"}})},
		{name: "aud the issuer", token: tok(TokenOptions{}, map[string]any{"aud": iss})},
		{name: "typ dpop+jwt", token: tok(TokenOptions{Header: map[string]any{"typ": "dpop+jwt"}}, nil)},
		{name: "typ id_token+jwt", token: tok(TokenOptions{Header: map[string]any{"typ": "id_token+jwt"}}, nil)},
		{name: "typ logout+jwt", token: tok(TokenOptions{Header: map[string]any{"typ": "logout+jwt"}}, nil)},
		// A token bound to a key of its client (RFC 7800 cnf: DPoP RFC 9449
		// §6, mTLS RFC 8705 §3) presented as a bearer token, without the
		// proof: a stolen bound token must not work.
		{name: "cnf jkt (DPoP-bound) as Bearer", token: tok(TokenOptions{}, map[string]any{"cnf": map[string]any{"jkt": c.thumbprint()}})},
		{name: "cnf x5t#S256 (mTLS-bound) as Bearer", token: tok(TokenOptions{}, map[string]any{"cnf": map[string]any{"x5t#S256": rawURL64(sha256Of("rsguard-conformance-certificate"))}})},
		// A future auth_time satisfies every RFC 9470 max_age; whether or
		// not the server checks max_age, no user authenticated a year from
		// now.
		{name: "auth_time a year ahead", token: tok(TokenOptions{}, map[string]any{"auth_time": now.AddDate(1, 0, 0).Unix()})},
	}
	if strings.HasPrefix(aud, "https://") {
		claims = append(claims, attack{name: "aud over http", token: tok(TokenOptions{}, map[string]any{"aud": "http://" + strings.TrimPrefix(aud, "https://")})})
	}
	for i := range claims {
		claims[i].want = "token"
	}

	// JSON that a map cannot express, spliced into the valid token's claims:
	// each payload has one more trap than the good one.
	sub := DefaultSubject
	if v, ok := c.cfg.Claims["sub"].(string); ok {
		sub = v
	}
	custom, customValue := "tid", any("tenant-a")
	for _, k := range slices.Sorted(maps.Keys(c.cfg.Claims)) {
		if v := c.cfg.Claims[k]; v != nil && !registeredClaims[k] {
			custom, customValue = k, v
			break
		}
	}
	customJSON, err := marshalJSON(customValue)
	if err != nil {
		r.Fatalf("validatetest.Conformance: encode claim %q: %v", custom, err)
		return nil
	}
	raw := func(drop string, members string) []byte {
		b, err := c.rawClaims(drop, members)
		if err != nil {
			r.Fatalf("validatetest.Conformance: encode claims: %v", err)
		}
		return b
	}
	q := func(s string) string { return string(mustJSON(s)) }
	other := q("rsguard-conformance-other")
	jsonTraps := []attack{
		// The value a last-wins reader (encoding/json, and so golang-jwt)
		// keeps comes last: the one a server that reads it would accept.
		{name: "duplicate sub", token: tok(TokenOptions{Payload: raw("sub", `"sub":`+other+`,"sub":`+q(sub))}, nil)},
		{name: "duplicate sub spelled with an escape", token: tok(TokenOptions{Payload: raw("sub", `"sub":`+other+`,"\u0073ub":`+q(sub))}, nil)},
		{name: "duplicate custom claim", token: tok(TokenOptions{Payload: raw(custom, q(custom)+`:`+other+`,`+q(custom)+`:`+string(customJSON))}, nil)},
		{name: "duplicate member in a nested object", token: tok(TokenOptions{Payload: raw("", `"rsguard_conformance":{"role":"admin","role":"reader"}`)}, nil)},
		// encoding/json reads "\ud800" and "\udbff" alike as U+FFFD: two
		// subjects become one.
		{name: "lone surrogate in sub", token: tok(TokenOptions{Payload: raw("sub", `"sub":`+strings.TrimSuffix(q(sub), `"`)+`\ud800"`)}, nil)},
		// A reader that cannot hold 1e400 may drop the claims set whole
		// (and with it a tenant claim) or refuse it: refuse it.
		{name: "number out of float64 range", token: tok(TokenOptions{Payload: raw("", `"rsguard_conformance":1e400`)}, nil)},
	}
	for i := range jsonTraps {
		jsonTraps[i].want = "token"
	}

	malformed := []attack{
		{name: "not a JWT", token: "not-a-jwt"},
		{name: "two segments", token: h + "." + p},
		{name: "four segments", token: good + ".x"},
		{name: "JWE", token: rawURL64([]byte(`{"alg":"RSA-OAEP-256","enc":"A256GCM"}`)) + ".a2V5.aXY.Y2lwaGVy.dGFn"},
		{name: "header not JSON", token: rawURL64([]byte("not json")) + "." + p + "." + s},
		{name: "header a JSON array", token: rawURL64([]byte(`["alg"]`)) + "." + p + "." + s},
		{name: "payload a JSON array", token: tok(TokenOptions{Payload: []byte(`[1,2]`)}, nil)},
		{name: "header in the standard base64 alphabet", token: base64.RawStdEncoding.EncodeToString([]byte(`{"alg":"RS256","x":"\xfb\xff"}`)) + "." + p + "." + s},
		{name: "deeply nested header", token: rawURL64([]byte(`{"alg":"`+defaultAlg+`","x":`+strings.Repeat("[", 2000)+strings.Repeat("]", 2000)+`}`)) + "." + p + "." + s},
	}
	for i := range malformed {
		malformed[i].want = "token"
	}
	malformed = append(malformed, jsonTraps...)
	malformed = append(malformed, attack{name: "oversized token", token: tok(TokenOptions{}, map[string]any{"pad": strings.Repeat("p", 24<<10)}), want: "size"})

	request := []attack{
		{name: "no Authorization header", probe: &probe{}, want: "none"},
		{name: "Basic scheme", probe: &probe{authorization: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+good))}}, want: "none"},
		{name: "token without scheme", probe: &probe{authorization: []string{good}}, want: "request"},
		{name: "empty Bearer", probe: &probe{authorization: []string{"Bearer"}}, want: "request"},
		{name: "two tokens in one header", probe: &probe{authorization: []string{"Bearer " + good + ", Bearer " + good}}, want: "request"},
		{name: "two Authorization headers", probe: &probe{authorization: []string{"Bearer " + good, "Bearer " + good}}, want: "request"},
		{name: "token in the query string", probe: &probe{query: "access_token=" + url.QueryEscape(good)}, want: "request"},
		{name: "token in the form body", probe: &probe{formToken: good}, want: "none"},
		{name: "token in a cookie", probe: &probe{headers: [][2]string{{"Cookie", "access_token=" + good}}}, want: "none"},
		{name: "token in a custom header", probe: &probe{headers: [][2]string{{"X-Access-Token", good}}}, want: "none"},
		// The challenge points at this resource's metadata whatever the
		// request claims about the host: a resource_metadata built from
		// Host or X-Forwarded-* lets anyone send clients elsewhere (and
		// poison caches).
		{name: "spoofed Host header", probe: &probe{host: "attacker.invalid"}, want: "none"},
		{name: "spoofed X-Forwarded headers", probe: &probe{headers: [][2]string{
			{"X-Forwarded-Host", "attacker.invalid"}, {"X-Forwarded-Proto", "http"}, {"Forwarded", "host=attacker.invalid;proto=http"}}}, want: "none"},
	}
	for i := range request {
		request[i].token = good
	}
	classes := []attackClass{{"algorithm", algorithm}, {"claims", claims}, {"malformed", malformed}, {"request", request}}
	if c.cfg.MCP {
		classes = append(classes, attackClass{"method", c.methodAttacks()})
	}
	return classes
}

// registeredClaims are the claims the kit does not pick as the custom claim
// to duplicate.
var registeredClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"client_id": true, "azp": true, "scope": true, "scp": true, "auth_time": true, "acr": true, "amr": true,
	"cnf": true, "act": true, "may_act": true,
}

// rawClaims returns the JSON claims of the kit's valid token without the
// claim drop ("" for none), with members (raw JSON, "name":value,…)
// appended: for payloads a map cannot hold, sent with TokenOptions.Payload.
func (c *conformance) rawClaims(drop, members string) ([]byte, error) {
	m := map[string]any{"aud": c.resource}
	if s := c.allScopes(); s != nil {
		m["scope"] = strings.Join(s, " ")
	}
	for k, v := range c.cfg.Claims {
		m[k] = v // a nil value removes a default claim, as in tokenWith
	}
	all := c.is.claims(m)
	delete(all, drop)
	b, err := marshalJSON(all)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return []byte("{" + members + "}"), nil
	}
	return append(append(b[:len(b)-1], ","+members...), '}'), nil
}

// thumbprint is the RFC 7638 JWK thumbprint of the attacker's EC key, as a
// DPoP-bound token's cnf.jkt names it (RFC 9449 §6.1).
func (c *conformance) thumbprint() string {
	jwk, err := publicJWK(c.attackerEC.Public())
	if err != nil {
		return rawURL64(sha256Of("rsguard-conformance-dpop-key"))
	}
	// The required members in lexicographic order, no whitespace.
	return rawURL64(sha256Of(fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, jwk["crv"], jwk["x"], jwk["y"])))
}

func sha256Of(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// methodAttacks are MCP requests with methods the Streamable HTTP transport
// does not define, carrying a tools/call of a tool the token may not call:
// a per-tool scope check that reads only POST bodies lets them through to a
// server that does not look at the method. The transport defines POST, GET
// and DELETE (and CORS needs OPTIONS); to any other method, after
// authentication, the answer is 405 Method Not Allowed with an Allow header
// (RFC 9110 §15.5.6), which the kit requires: a server that answers 403 or
// 404 instead still lets the method reach a layer that should never see it.
// HTTP methods are case-sensitive (RFC 9110 §9.1): "post" is not POST.
func (c *conformance) methodAttacks() []attack {
	// The tool: the first one that needs a scope beyond Scopes (what a
	// client holds when it starts), called with a token holding every
	// scope of the kit's valid token but those; else any tool (or
	// tools/list) with the valid token, which the method alone must stop.
	tokScopes, params := c.allScopes(), map[string]any(nil)
	tools := slices.Sorted(maps.Keys(c.cfg.Tools))
	for _, tool := range tools {
		beyond := func(s string) bool { return slices.Contains(c.cfg.Tools[tool], s) && !slices.Contains(c.cfg.Scopes, s) }
		if slices.ContainsFunc(tokScopes, beyond) {
			tokScopes, params = slices.DeleteFunc(tokScopes, beyond), c.toolCall(tool)
			break
		}
	}
	if params == nil && len(tools) > 0 {
		params = c.toolCall(tools[0])
	}
	tok := c.token(tokScopes, nil)
	var out []attack
	for _, m := range []struct{ name, method string }{
		{"PUT with a tool call body", http.MethodPut},
		{"PATCH with a tool call body", http.MethodPatch},
		{"lowercase post with a tool call body", "post"},
	} {
		out = append(out, attack{name: m.name, token: tok, method: m.method, call: params, want: "method"})
	}
	return out
}

// toolCall is the params of a tools/call of tool.
func (c *conformance) toolCall(tool string) map[string]any {
	args := c.cfg.ToolArguments[tool]
	if args == nil {
		args = map[string]any{}
	}
	return map[string]any{"name": tool, "arguments": args}
}

// checkMethod sends a method attack in a session opened by the same user
// with a valid token, so that only the method stands between the request
// and the tool.
func (c *conformance) checkMethod(r runner, a attack) {
	if !c.initialize(r, c.token(c.allScopes(), nil)) {
		return
	}
	rpcMethod, params := "tools/call", any(a.call)
	if a.call == nil {
		rpcMethod, params = "tools/list", map[string]any{}
	}
	req, err := c.rpcRequest(c.endpoint, rpcMethod, params, false)
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	req.Method = a.method
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := c.send(req)
	if err != nil {
		r.Errorf("%s %s: %v", a.method, rpcMethod, err)
		return
	}
	defer c.checkEcho(r, resp, tokenParts(a.token))
	switch {
	case resp.status/100 == 2:
		r.Errorf("%s with a %s body: status %d, the request reached the MCP server: answer 405 with Allow to any method but POST, GET, DELETE and OPTIONS", a.method, rpcMethod, resp.status)
	case resp.status != http.StatusMethodNotAllowed:
		r.Errorf("%s with a %s body: status %d, want 405 Method Not Allowed (RFC 9110 §15.5.6): only POST, GET and DELETE are MCP Streamable HTTP methods", a.method, rpcMethod, resp.status)
	case !slices.Contains(splitList(resp.header.Values("Allow")), http.MethodPost):
		r.Errorf("%s: 405 with Allow %q, want an Allow header listing POST (RFC 9110 §10.2.1)", a.method, resp.header.Values("Allow"))
	}
}

// splitList splits comma-separated header values into trimmed items.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// checkAttack sends a and checks the refusal.
func (c *conformance) checkAttack(r runner, a attack) {
	if a.method != "" {
		c.checkMethod(r, a)
		return
	}
	p := probe{authorization: []string{"Bearer " + a.token}}
	if a.probe != nil {
		p = *a.probe
	}
	if c.cfg.MCP {
		c.session, c.protocol = "", ""
	}
	req, err := c.request(p)
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	host := c.host
	if p.host != "" {
		host = p.host
	}
	resp, err := c.sendHost(req, host)
	if err != nil {
		r.Errorf("%v", err)
		return
	}
	secrets := tokenParts(a.token)
	if resp.status/100 == 2 {
		r.Errorf("accepted: status %d", resp.status)
		return
	}
	defer c.checkEcho(r, resp, secrets)
	switch a.want {
	case "size":
		// Servers and proxies bound headers differently: any refusal will
		// do, but not a success and not a crash.
		if resp.status >= 500 {
			r.Errorf("status %d for an oversized token", resp.status)
		}
		return
	case "token":
		if resp.status != http.StatusUnauthorized {
			r.Errorf("status %d, want 401 (RFC 6750 §3.1 invalid_token)", resp.status)
			return
		}
		if ch, ok := c.bearerChallenge(r, resp); ok && ch.Error != rsmeta.ErrorInvalidToken {
			r.Errorf(`challenge error=%q, want "invalid_token" (RFC 6750 §3.1)`, ch.Error)
		}
	case "request":
		if resp.status != http.StatusBadRequest && resp.status != http.StatusUnauthorized {
			r.Errorf("status %d, want 400 invalid_request (or 401)", resp.status)
			return
		}
		if ch, ok := c.bearerChallenge(r, resp); ok {
			want := rsmeta.ErrorInvalidRequest
			if resp.status == http.StatusUnauthorized {
				want = rsmeta.ErrorInvalidToken
			}
			if ch.Error != want && ch.Error != "" {
				r.Errorf("status %d with error=%q, want %q", resp.status, ch.Error, want)
			}
		}
	case "none":
		if resp.status != http.StatusUnauthorized && resp.status != http.StatusBadRequest {
			r.Errorf("status %d, want 401 (or 400)", resp.status)
			return
		}
		c.bearerChallenge(r, resp)
	}
}

// checkEcho fails if any part of the token appears in the response.
func (c *conformance) checkEcho(r runner, resp *response, secrets []string) {
	var hay strings.Builder
	hay.Write(resp.body)
	for name, vs := range resp.header {
		for _, v := range vs {
			hay.WriteString("\n" + name + ": " + v)
		}
	}
	for _, s := range secrets {
		if strings.Contains(hay.String(), s) {
			where := "body"
			if !bytes.Contains(resp.body, []byte(s)) {
				where = "headers"
			}
			r.Errorf("the response %s echo part of the token (%d bytes starting %.12q)", where, len(s), s)
			return
		}
	}
}

// tokenParts are the parts of a token that must never be echoed: the
// whole and each dot-separated segment of eight bytes or more.
func tokenParts(tok string) []string {
	var out []string
	if len(tok) >= 8 {
		out = append(out, tok)
	}
	for _, p := range strings.Split(tok, ".") {
		if len(p) >= 8 && p != tok {
			out = append(out, p)
		}
	}
	return out
}

func splitToken(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

func splitFirst2(tok string) string {
	h, p, _ := splitToken(tok)
	return h + "." + p
}

func joinToken(hp, sig string) string { return hp + "." + sig }

func rawURL64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, err := marshalJSON(v)
	if err != nil {
		panic(err)
	}
	return b
}

// algFamily is the key type behind a JWS algorithm.
func algFamily(alg string) string {
	switch {
	case strings.HasPrefix(alg, "ES"):
		return "EC"
	case alg == "EdDSA":
		return "OKP"
	}
	return "RSA"
}

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

func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func statusOf(resp *response) string {
	if resp == nil {
		return "no response"
	}
	return fmt.Sprintf("status %d", resp.status)
}

func describeRPC(msg *rpcResponse, resp *response) string {
	switch {
	case resp != nil && resp.status/100 != 2:
		return fmt.Sprintf("WWW-Authenticate %q, body %q", resp.header.Values("WWW-Authenticate"), truncate(resp.body))
	case msg == nil:
		return "no JSON-RPC response"
	case msg.Error != nil:
		return fmt.Sprintf("JSON-RPC error %d %q", msg.Error.Code, msg.Error.Message)
	}
	return "JSON-RPC result"
}
