package conformance

import (
	"encoding/json"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rsguard/rsguard/internal/loopback"
	"github.com/rsguard/rsguard/rsmeta"
)

// The checks of Conformance other than the attacks and the session checks
// (session.go): metadata, CORS, challenge, acceptance and step-up.

// checkMetadata: RFC 9728 §3.
func (c *Target) checkMetadata(r Reporter) {
	req, err := http.NewRequest(http.MethodGet, c.MetadataGet, nil)
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	resp, err := c.send(req)
	if err != nil {
		r.Errorf("GET %s: %v. Serve the protected resource metadata at this URL (RFC 9728 §3.1).", c.MetadataURL, err)
		return
	}
	if resp.status != http.StatusOK {
		r.Errorf("GET %s: status %d, want 200 (RFC 9728 §3.2). Serve the protected resource metadata at this URL, without authentication (RFC 9728 §3.1).", c.MetadataURL, resp.status)
		return
	}
	if ct, _, _ := mime.ParseMediaType(resp.header.Get("Content-Type")); ct != "application/json" {
		r.Errorf("metadata Content-Type %q, want application/json (RFC 9728 §3.2). Serve the metadata with Content-Type application/json.", resp.header.Get("Content-Type"))
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(resp.body, &doc); err != nil || doc == nil {
		r.Errorf("metadata is not a JSON object: %q. Serve the metadata as one JSON object (RFC 9728 §3.2).", truncate(resp.body))
		return
	}
	var res string
	if err := json.Unmarshal(doc["resource"], &res); err != nil {
		r.Errorf(`metadata "resource" missing or not a string (RFC 9728 §2). Publish the resource identifier as the string "resource".`)
	} else if res != c.Resource {
		r.Errorf(`metadata "resource" is %q, want %q: a client compares it with the URL it started from and stops (RFC 9728 §3.3). Publish as "resource" the resource identifier clients use, byte for byte.`, res, c.Resource)
	}
	var servers []string
	if err := json.Unmarshal(doc["authorization_servers"], &servers); err != nil {
		r.Errorf(`metadata "authorization_servers" missing or not an array of strings: MCP clients need it to find the authorization server. List the issuer identifier in "authorization_servers".`)
	} else if !slices.Contains(servers, c.iss.Issuer()) {
		r.Errorf(`metadata "authorization_servers" %q does not name the issuer %q. Add the issuer identifier, exactly as tokens carry it in "iss", to "authorization_servers".`, servers, c.iss.Issuer())
	}
	for _, as := range servers {
		if u, err := url.Parse(as); err != nil || !u.IsAbs() || !loopback.AllowsScheme(u) {
			r.Errorf(`metadata "authorization_servers" names %q: an issuer must use https, http only on loopback hosts (RFC 8414 §2). List only https issuer identifiers (http only on loopback hosts).`, as)
		}
	}
	if raw, ok := doc["bearer_methods_supported"]; ok {
		var methods []string
		if err := json.Unmarshal(raw, &methods); err != nil {
			r.Errorf(`metadata "bearer_methods_supported" is not an array of strings (RFC 9728 §2). Publish it as an array such as ["header"], or leave it out.`)
		} else if c.MCP && slices.Contains(methods, "query") {
			r.Errorf(`metadata "bearer_methods_supported" lists "query": MCP forbids tokens in the query string. Publish only "header" in "bearer_methods_supported".`)
		}
	}
	if raw, ok := doc["scopes_supported"]; ok {
		var scopes []string
		if err := json.Unmarshal(raw, &scopes); err != nil {
			r.Errorf(`metadata "scopes_supported" is not an array of strings (RFC 9728 §2). Publish it as an array of scope strings, or leave it out.`)
		}
		for _, s := range c.Scopes {
			if !slices.Contains(scopes, s) {
				r.Errorf(`metadata "scopes_supported" %q lacks %q, a scope the challenge names. Add every scope your challenges name to "scopes_supported".`, scopes, s)
			}
		}
	}
}

// checkCORS: browser-based clients must be able to read the metadata and
// the challenge.
func (c *Target) checkCORS(r Reporter) {
	req, _ := http.NewRequest(http.MethodGet, c.MetadataGet, nil)
	req.Header.Set("Origin", "https://client.example")
	if resp, err := c.send(req); err != nil {
		r.Errorf("GET metadata with an Origin header: %v. Answer cross-origin GET requests for the metadata.", err)
	} else if resp.header.Get("Access-Control-Allow-Origin") == "" {
		r.Errorf("the metadata answer has no Access-Control-Allow-Origin: browser-based MCP clients cannot read it. Serve the metadata with Access-Control-Allow-Origin (\"*\" will do: it is public).")
	}
	req, _ = http.NewRequest(http.MethodOptions, c.MetadataGet, nil)
	req.Header.Set("Origin", "https://client.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "mcp-protocol-version")
	if resp, err := c.send(req); err != nil {
		r.Errorf("OPTIONS metadata (CORS preflight): %v. Answer CORS preflights of the metadata.", err)
	} else if resp.status/100 != 2 || resp.header.Get("Access-Control-Allow-Origin") == "" {
		r.Errorf("the metadata's CORS preflight got %d without Access-Control-Allow-Origin. Answer preflights of the metadata with 2xx, Access-Control-Allow-Origin and Access-Control-Allow-Headers allowing MCP-Protocol-Version.", resp.status)
	}
	req, err := c.request(probe{})
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	req.Header.Set("Origin", "https://client.example")
	if resp, err := c.send(req); err != nil {
		r.Errorf("request without a token: %v. Answer a request without a token with 401 and a %s challenge.", err, c.scheme())
	} else if resp.status == http.StatusForbidden {
		// The MCP transport: "If the Origin header is present and invalid,
		// servers MUST respond with HTTP 403 Forbidden." A server that does
		// not allow this origin is right to refuse it.
		r.Logf("the endpoint refused the origin https://client.example with 403 (Origin validation): the challenge's CORS exposure is not checked")
	} else if !listsToken(resp.header.Values("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		r.Errorf("the 401 does not list WWW-Authenticate in Access-Control-Expose-Headers: a browser-based client cannot read the challenge. Send Access-Control-Expose-Headers: WWW-Authenticate with every refusal.")
	}
}

// checkChallenge: RFC 6750 §3, RFC 9728 §5.1.
func (c *Target) checkChallenge(r Reporter) {
	req, err := c.request(probe{})
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	resp, err := c.send(req)
	if err != nil {
		r.Errorf("request without a token: %v. Answer a request without a token with 401 and a %s challenge.", err, c.scheme())
		return
	}
	if resp.status != http.StatusUnauthorized {
		r.Errorf("request without a token: status %d, want 401 (RFC 6750 §3.1, MCP authorization). Answer a request without a token with 401 and a %s challenge, before any other processing.", resp.status, c.scheme())
		return
	}
	scheme := "Bearer"
	if c.DPoP == DPoPRequired {
		scheme = "DPoP" // RFC 9449 §7.2: the DPoP challenge alone
	}
	ch, ok := c.schemeChallenge(r, resp, scheme)
	if !ok {
		return
	}
	if ch.Error != "" {
		r.Errorf("the challenge to a request without credentials carries error=%q: RFC 6750 §3.1 says it should not. Leave error out of the challenge when the request carried no credentials.", ch.Error)
	}
	if c.Scopes != nil && !sameSet(ch.Scope, c.Scopes) {
		r.Errorf("challenge scope %q, want %q (ConformanceConfig.Scopes). Name in the 401 challenge's scope exactly the scopes a client needs to start (or correct ConformanceConfig.Scopes).", ch.Scope, c.Scopes)
	}
}

// bearerChallenge returns the single Bearer challenge of a refusal, checked
// for resource_metadata and scope.
func (c *Target) bearerChallenge(r Reporter, resp *response) (rsmeta.Challenge, bool) {
	r.Helper()
	lines := resp.header.Values("WWW-Authenticate")
	if len(lines) == 0 {
		r.Errorf("status %d without WWW-Authenticate: an MCP client cannot discover the authorization server (RFC 9728 §5.1, RFC 9110 §15.5.2). Send a Bearer challenge with resource_metadata with every 401 and 403.", resp.status)
		return rsmeta.Challenge{}, false
	}
	var bearer []rsmeta.Challenge
	for _, l := range lines {
		cs, err := rsmeta.ParseChallenges(l)
		if err != nil {
			r.Errorf("WWW-Authenticate %q does not parse: %v. Format the challenge as RFC 9110 §11.6.1 says, auth-param values as tokens or quoted-strings.", redact(l), err)
			return rsmeta.Challenge{}, false
		}
		for _, ch := range cs {
			if strings.EqualFold(ch.Scheme, "Bearer") {
				bearer = append(bearer, ch)
			}
		}
	}
	if len(bearer) != 1 {
		r.Errorf("WWW-Authenticate %q: %d Bearer challenges, want 1. Send exactly one Bearer challenge.", redactAll(lines), len(bearer))
		return rsmeta.Challenge{}, false
	}
	ch := bearer[0]
	if ch.ResourceMetadata != c.MetadataURL {
		r.Errorf("challenge resource_metadata %q, want %q (RFC 9728 §5.1). Set resource_metadata to the URL of the metadata, fixed by configuration, never derived from the request.", ch.ResourceMetadata, c.MetadataURL)
	}
	if slices.Contains(ch.Scope, "offline_access") {
		r.Errorf("the challenge names offline_access: MCP says a server never asks for it. Remove offline_access from the scopes of challenges.")
	}
	return ch, true
}

// checkAccept: a valid token gets through.
func (c *Target) checkAccept(r Reporter) {
	tok := c.token(c.allScopes(), nil)
	if c.MCP {
		if !c.initialize(r, tok) {
			return
		}
		resp, msg, err := c.rpc(tok, "tools/list", map[string]any{})
		if err != nil {
			r.Errorf("tools/list: %v. Answer tools/list with a JSON-RPC response, as application/json or text/event-stream.", err)
		} else if resp.status/100 != 2 || msg == nil || msg.Error != nil {
			r.Errorf("tools/list with a valid token%s: status %d, %s. Let a valid token with the challenge's scopes through to tools/list.", c.withProof(), resp.status, describeRPC(msg, resp))
		}
		return
	}
	resp, err := c.sendProbe(probe{token: tok})
	if err != nil {
		r.Errorf("request with a valid token: %v. Answer a request with a valid token.", err)
	} else if resp.status/100 != 2 {
		r.Errorf("request with a valid token%s: status %d (WWW-Authenticate %q, body %q). Accept tokens from the issuer whose \"aud\" is the resource identifier, signed with its published keys.", c.withProof(), resp.status, redactAll(resp.header.Values("WWW-Authenticate")), truncate(resp.body))
	}
}

// initialize opens an MCP session with tok.
func (c *Target) initialize(r Reporter, tok string) bool {
	r.Helper()
	c.session, c.protocol = "", ""
	resp, msg, err := c.rpc(tok, "initialize", initializeParams)
	if err != nil {
		r.Errorf("initialize: %v. Answer initialize with a JSON-RPC response, as application/json or text/event-stream.", err)
		return false
	}
	if resp.status/100 != 2 || msg == nil || msg.Error != nil {
		r.Errorf("initialize with a valid token%s: status %d, %s. Let a valid token with the challenge's scopes through to initialize.", c.withProof(), resp.status, describeRPC(msg, resp))
		return false
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	_ = json.Unmarshal(msg.Result, &res)
	c.session = resp.header.Get("Mcp-Session-Id")
	c.protocol = res.ProtocolVersion
	if resp, _, err := c.rpc(tok, "notifications/initialized", nil); err != nil {
		r.Errorf("notifications/initialized: %v. Accept notifications/initialized, with 202, in the session initialize opened.", err)
		return false
	} else if resp.status/100 != 2 {
		r.Errorf("notifications/initialized: status %d, %s. Accept notifications/initialized, with 202, in the session initialize opened.", resp.status, describeRPC(nil, resp))
		return false
	}
	return true
}

// checkStepUps runs checkStepUp for each tool, in name order, as subtests.
func (c *Target) checkStepUps(r Reporter) {
	for _, tool := range slices.Sorted(maps.Keys(c.Tools)) {
		c.run(r, tool, func(r Reporter) { c.checkStepUp(r, tool) })
	}
}

// checkStepUp: MCP authorization, scope challenge handling (403
// insufficient_scope, then success with the scopes it names).
func (c *Target) checkStepUp(r Reporter, tool string) {
	need := c.Tools[tool]
	args := c.ToolArguments[tool]
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
			r.Errorf("tools/call %s with scopes %q: %v. Answer tools/call with a JSON-RPC response, as application/json or text/event-stream.", tool, scopes, err)
			return nil, nil, false
		}
		return resp, msg, true
	}
	if len(need) == 0 {
		if resp, msg, ok := call([]string{}); ok && resp.status/100 != 2 {
			r.Errorf("tools/call %s (needs no scope) with a scope-less token: status %d, %s. Let a tool that needs no scope be called with any valid token (or correct ConformanceConfig.Tools).", tool, resp.status, describeRPC(msg, resp))
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
		r.Errorf("tools/call %s with scopes %q (lacking %q): status %d, want 403 insufficient_scope (MCP authorization, scope challenge handling). Answer a tools/call lacking a scope the tool needs with 403 and a %s challenge error=\"insufficient_scope\" naming the scopes.", tool, lacking, need[len(need)-1], resp.status, c.scheme())
		return
	}
	ch, ok := c.tokenChallenge(r, resp)
	if !ok {
		return
	}
	if ch.Error != rsmeta.ErrorInsufficientScope {
		r.Errorf("403 challenge error=%q, want insufficient_scope (RFC 6750 §3.1). Send error=\"insufficient_scope\" in the challenge of a 403 for missing scopes.", ch.Error)
	}
	if len(ch.Scope) == 0 {
		r.Errorf("the 403 challenge names no scope: the client cannot know what to ask for. Name in the 403 challenge's scope the scopes the call needs.")
		return
	}
	for _, s := range need {
		if !slices.Contains(ch.Scope, s) {
			r.Logf("the 403 challenge scope %q does not list %q: fine only if a scope it lists implies it", ch.Scope, s)
		}
	}
	// The scopes the challenge names, granted, let the call through.
	if resp, msg, ok := call(ch.Scope); ok && resp.status/100 != 2 {
		r.Errorf("tools/call %s with the scopes the 403 named (%q): status %d, %s: step-up cannot succeed. Name in the 403 challenge scopes that, granted, let the call through.", tool, ch.Scope, resp.status, describeRPC(msg, resp))
	}
	// So do exactly the scopes the tool is configured with.
	if resp, msg, ok := call(need); ok && resp.status/100 != 2 {
		r.Errorf("tools/call %s with its scopes %q: status %d, %s. Let a token with exactly the scopes a tool needs call it (or correct ConformanceConfig.Tools).", tool, need, resp.status, describeRPC(msg, resp))
	}
}
