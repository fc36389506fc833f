package validatetest

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rsguard/rsguard/internal/loopback"
	"github.com/rsguard/rsguard/rsmeta"
)

// The checks of Conformance other than the attacks: metadata, CORS,
// challenge, acceptance, MCP session binding and step-up.

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
	} else if !slices.Contains(servers, c.is.issuer) {
		r.Errorf(`metadata "authorization_servers" %q does not name the issuer %q`, servers, c.is.issuer)
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
