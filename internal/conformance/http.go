package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The request and response plumbing of the checks: plain HTTP, and MCP's
// JSON-RPC over Streamable HTTP, answered as JSON or as an SSE stream.

// response is what the kit keeps of an answer.
type response struct {
	status int
	header http.Header
	body   []byte // at most maxBody bytes; of an SSE stream, what readSSE read
	// sse is set for an answer sent as text/event-stream.
	sse *sseAnswer
}

func (c *Target) send(req *http.Request) (*response, error) {
	return c.sendHost(req, c.Host)
}

// sendHost sends req with the given Host header ("" for its URL's).
func (c *Target) sendHost(req *http.Request, host string) (*response, error) {
	return c.roundTrip(req, host, 0, false)
}

// roundTrip sends req with the given Host header ("" for its URL's),
// waiting at most wait for the answer (0: as long as the client does); if
// headersOnly, the answer's body (perhaps an endless SSE stream) is closed
// unread. An SSE stream is read only up to the JSON-RPC response to req
// (readSSE), then closed: the server need not close it.
func (c *Target) roundTrip(req *http.Request, host string, wait time.Duration, headersOnly bool) (*response, error) {
	if host != "" {
		req.Host = host
	}
	if wait > 0 {
		ctx, cancel := context.WithTimeout(req.Context(), wait)
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if headersOnly {
		return &response{status: resp.StatusCode, header: resp.Header}, nil
	}
	if isEventStream(resp.Header) {
		sse, err := readSSE(resp.Body, requestID(req))
		if err != nil {
			return nil, fmt.Errorf("reading the SSE stream, before a JSON-RPC response to the request: %w", err)
		}
		return &response{status: resp.StatusCode, header: resp.Header, body: sse.body, sse: &sse}, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// isEventStream reports whether the answer's Content-Type is
// text/event-stream.
func isEventStream(h http.Header) bool {
	ct, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return ct == "text/event-stream"
}

// credential is the token a request of the accept, session, stepup and
// attacks checks carries, which [Target.sendAs] puts in place.
type credential struct {
	token string // "": none
	// elsewhere: the request carries the token as its case says (an
	// Authorization header of its own, the query, the body…); sendAs adds
	// only its DPoP proof.
	elsewhere bool
}

// sendAs sends req carrying cr, as the target takes tokens: `Authorization:
// Bearer <token>`; or, while a check proves possession of the kit's DPoP
// keys (DPoP required, see Check.ProvesDPoP), `Authorization: DPoP <token>`
// with a fresh proof (new jti, current iat) by the key the token is bound
// to, for req's method and the resource (htm, htu), with the token's ath
// and the server's last nonce; asked for a new nonce (RFC 9449 §9), it
// sends the request once more with a new proof. This is the one place
// where those checks' requests get their credentials. host, wait and
// headersOnly are as for roundTrip.
func (c *Target) sendAs(req *http.Request, cr credential, host string, wait time.Duration, headersOnly bool) (*response, error) {
	if cr.token == "" || !c.proving {
		if cr.token != "" && !cr.elsewhere {
			req.Header.Set("Authorization", "Bearer "+cr.token)
		}
		return c.roundTrip(req, host, wait, headersOnly)
	}
	key := c.proverOf(cr.token)
	for try := 0; ; try++ {
		if !cr.elsewhere {
			req.Header.Set("Authorization", "DPoP "+cr.token)
		}
		proof, err := key.Proof(ProofOptions{Method: req.Method, URL: c.htu(), Token: cr.token, IssuedAt: c.iss.Now(), Nonce: c.nonce})
		if err != nil {
			return nil, fmt.Errorf("make a DPoP proof: %w", err)
		}
		req.Header.Set("DPoP", proof)
		resp, err := c.roundTrip(req, host, wait, headersOnly)
		if err != nil || !c.learnNonce(resp) || try > 0 {
			return resp, err
		}
		again, ok := rewound(req)
		if !ok {
			return resp, nil // a body that cannot be sent twice: the answer stands
		}
		req = again
	}
}

// rewound returns a copy of the sent req to send again, its body read
// anew; false if its body cannot be.
func rewound(req *http.Request) (*http.Request, bool) {
	cp := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, false
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, false
		}
		cp.Body = body
	}
	return cp, true
}

// learnNonce keeps the DPoP-Nonce of resp for the next proofs (RFC 9449
// §9) and reports whether resp asked for it: a 401 use_dpop_nonce with a
// nonce other than the one the request had.
func (c *Target) learnNonce(resp *response) bool {
	n := resp.header.Get("DPoP-Nonce")
	if n == "" {
		return false
	}
	asked := n != c.nonce && resp.status == http.StatusUnauthorized && errorOf(resp, "DPoP") == "use_dpop_nonce"
	c.nonce = n
	return asked
}

// Challenge sends, without a token, the request a valid token gets
// through (as the challenge check does) and returns the answer's status and
// WWW-Authenticate field values: what a client learns before it has a
// token. For a front end's discovery, before Run.
func (c *Target) Challenge() (status int, wwwAuthenticate []string, err error) {
	req, err := c.request(probe{})
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.send(req)
	if err != nil {
		return 0, nil, err
	}
	return resp.status, resp.header.Values("WWW-Authenticate"), nil
}

// sendProbe builds p's request (a new MCP session's: no session id) and
// sends it, with the Host header p says, carrying p's token (sendAs).
func (c *Target) sendProbe(p probe) (*response, error) {
	if c.MCP {
		c.session, c.protocol = "", ""
	}
	req, err := c.request(p)
	if err != nil {
		return nil, err
	}
	host := c.Host
	if p.host != "" {
		host = p.host
	}
	cr := credential{token: p.token}
	if p.proofFor != "" {
		cr = credential{token: p.proofFor, elsewhere: true}
	}
	return c.sendAs(req, cr, host, p.wait, false)
}

// tokenScopes are the scopes of the run's ordinary token: TokenScopes, or
// else Scopes.
func (c *Target) tokenScopes() []string {
	if c.TokenScopes != nil {
		return c.TokenScopes
	}
	return c.Scopes
}

// allScopes is the union of tokenScopes and every tool's scopes: what the
// kit's valid token carries.
func (c *Target) allScopes() []string {
	out := slices.Clone(c.tokenScopes())
	for _, ss := range c.Tools {
		for _, s := range ss {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// probe sends the request that a valid token gets through, with the given
// token or Authorization header values (none for nil), query and body
// tweaks.
type probe struct {
	// token is sent as the target takes tokens (see sendAs): `Bearer
	// <token>`, or `DPoP <token>` with its proof.
	token string
	// proofFor, while the check proves possession of the kit's DPoP key, is
	// the token a DPoP proof is made for, the token itself travelling as
	// the fields below say (a request attack case); else unused.
	proofFor      string
	authorization []string // verbatim
	query         string   // appended to the endpoint's query
	formToken     string   // sent as access_token in a form body instead
	headers       [][2]string
	host          string        // the Host header, instead of the resource's
	wait          time.Duration // if set, bounds the wait for the answer
}

// request builds the probe: in MCP mode a POSTed initialize (before any
// session) or tools/list; else ConformanceConfig.Request.
func (c *Target) request(p probe) (*http.Request, error) {
	endpoint := c.Endpoint
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
	case c.MCP:
		req, err = c.rpcRequest(endpoint, "initialize", initializeParams, false)
	case c.Request != nil:
		req, err = c.Request(context.Background(), endpoint)
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
func (c *Target) rpcRequest(endpoint, method string, params any, notification bool) (*http.Request, error) {
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
func (c *Target) rpc(token, method string, params any) (*response, *rpcResponse, error) {
	notification := strings.HasPrefix(method, "notifications/")
	req, err := c.rpcRequest(c.Endpoint, method, params, notification)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.sendAs(req, credential{token: token}, c.Host, 0, false)
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
// an SSE stream (the event carrying the response to the request, see
// readSSE).
func readRPC(resp *response) (*rpcResponse, error) {
	var data []byte
	switch {
	case resp.sse == nil:
		data = resp.body
	case resp.sse.event != nil:
		data = resp.sse.event
	case resp.sse.cut:
		return nil, fmt.Errorf("the SSE stream carries no JSON-RPC response to the request in its first %d bytes", maxBody)
	default:
		return nil, errors.New("the SSE stream ended without a JSON-RPC response to the request (an event ends at a blank line)")
	}
	var m rpcResponse
	if err := json.Unmarshal(data, &m); err != nil {
		ct, _, _ := mime.ParseMediaType(resp.header.Get("Content-Type"))
		return nil, fmt.Errorf("the answer is not a JSON-RPC response (Content-Type %q): %v", ct, err)
	}
	return &m, nil
}
