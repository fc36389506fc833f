package conformance

import (
	"bufio"
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
	body   []byte
}

func (c *Target) send(req *http.Request) (*response, error) {
	return c.sendHost(req, c.Host)
}

// sendHost sends req with the given Host header ("" for its URL's).
func (c *Target) sendHost(req *http.Request, host string) (*response, error) {
	if host != "" {
		req.Host = host
	}
	resp, err := c.Client.Do(req)
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

// allScopes is the union of Scopes and every tool's scopes: what the kit's
// valid token carries.
func (c *Target) allScopes() []string {
	out := slices.Clone(c.Scopes)
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
// Authorization header values (none for nil), query and body tweaks.
type probe struct {
	authorization []string
	query         string // appended to the endpoint's query
	formToken     string // sent as access_token in a form body instead
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
