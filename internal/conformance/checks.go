package conformance

import (
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/rsmeta"
)

// The checks of Conformance other than the attacks and the session checks
// (session.go): metadata, CORS, challenge, acceptance and step-up.

// checkMetadata: RFC 9728 §3.
func (c *Target) checkMetadata(r Reporter) {
	resp, err := c.metadata()
	if err != nil {
		r.Errorf("GET %s: %v. Serve the protected resource metadata at this URL (RFC 9728 §3.1).", c.MetadataURL, err)
		return
	}
	if resp.status != http.StatusOK {
		r.Errorf("GET %s: status %d, want 200 (RFC 9728 §3.2). Serve the protected resource metadata at this URL, without authentication (RFC 9728 §3.1).", c.MetadataURL, resp.status)
		return
	}
	c.checkDocument(r, "metadata", resp)
}

// checkDocument judges resp, a 200 answer to a GET of the resource's
// metadata (at MetadataURL, or at the URL a challenge names), as RFC 9728
// §2-3 and MCP require; what names the document in messages ("metadata").
func (c *Target) checkDocument(r Reporter, what string, resp *response) {
	r.Helper()
	if ct, _, _ := mime.ParseMediaType(resp.header.Get("Content-Type")); ct != "application/json" {
		r.Errorf("%s Content-Type %q, want application/json (RFC 9728 §3.2). Serve the metadata with Content-Type application/json.", what, resp.header.Get("Content-Type"))
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(resp.body, &doc); err != nil || doc == nil {
		r.Errorf("%s is not a JSON object: %q. Serve the metadata as one JSON object (RFC 9728 §3.2).", what, truncate(resp.body))
		return
	}
	var res string
	if err := json.Unmarshal(doc["resource"], &res); err != nil {
		r.Errorf(`%s "resource" missing or not a string (RFC 9728 §2). Publish the resource identifier as the string "resource".`, what)
	} else if res != c.Resource {
		r.Errorf(`%s "resource" is %q, want %q: a client compares it with the URL it started from and stops (RFC 9728 §3.3). Publish as "resource" the resource identifier clients use, byte for byte.`, what, res, c.Resource)
	}
	var servers []string
	if err := json.Unmarshal(doc["authorization_servers"], &servers); err != nil {
		r.Errorf(`%s "authorization_servers" missing or not an array of strings: MCP clients need it to find the authorization server (RFC 9728 §2; MCP authorization, authorization server discovery). List the issuer identifier in "authorization_servers".`, what)
	} else if c.iss.Issuer() != "" && !slices.Contains(servers, c.iss.Issuer()) {
		r.Errorf(`%s "authorization_servers" %q does not name the issuer %q (RFC 9728 §2; MCP authorization, authorization server discovery). Add the issuer identifier, exactly as tokens carry it in "iss", to "authorization_servers".`, what, servers, c.iss.Issuer())
	}
	for _, as := range servers {
		if _, err := ParseIssuer(as); err != nil {
			r.Errorf(`%s "authorization_servers" names %q, which is not an issuer identifier: %v (RFC 8414 §2: an https URL, http only on loopback hosts, with no query, fragment or userinfo). List only the issuer identifiers of your authorization servers.`, what, as, err)
		}
	}
	if raw, ok := doc["bearer_methods_supported"]; ok {
		var methods []string
		if err := json.Unmarshal(raw, &methods); err != nil {
			r.Errorf(`%s "bearer_methods_supported" is not an array of strings (RFC 9728 §2). Publish it as an array such as ["header"], or leave it out.`, what)
		} else if c.MCP && slices.Contains(methods, "query") {
			r.Errorf(`%s "bearer_methods_supported" lists "query": MCP forbids tokens in the query string (MCP authorization, token handling; RFC 6750 §2.3). Publish only "header" in "bearer_methods_supported".`, what)
		}
	}
	if raw, ok := doc["scopes_supported"]; ok {
		var scopes []string
		if err := json.Unmarshal(raw, &scopes); err != nil {
			r.Errorf(`%s "scopes_supported" is not an array of strings (RFC 9728 §2). Publish it as an array of scope strings, or leave it out.`, what)
		}
		for _, s := range c.Scopes {
			if !slices.Contains(scopes, s) {
				r.Errorf(`%s "scopes_supported" %q lacks %q, a scope the challenge names (RFC 9728 §2; MCP authorization, scope selection strategy). Add every scope your challenges name to "scopes_supported".`, what, scopes, s)
			}
		}
	}
}

// corsOrigin is the origin of the browser-based client the cors check
// plays.
const corsOrigin = "https://client.example"

// corsRequestHeader is the header the cors check asks the metadata's
// preflight to allow: MCP clients send it on every request after
// initialization (MCP transport, protocol version header).
const corsRequestHeader = "mcp-protocol-version"

// checkCORS: browser-based clients must be able to read the metadata and
// the challenge. The answers are judged as a browser judges them for a
// request from corsOrigin without credentials (Fetch Standard, CORS check
// and CORS-preflight fetch).
func (c *Target) checkCORS(r Reporter) {
	req, _ := http.NewRequest(http.MethodGet, c.MetadataGet, nil)
	req.Header.Set("Origin", corsOrigin)
	if resp, err := c.send(req); err != nil {
		r.Errorf("GET metadata with an Origin header: %v (Fetch Standard, CORS protocol). Answer cross-origin GET requests for the metadata.", err)
	} else if why := corsRefusal(resp.header); why != "" {
		r.Errorf("the metadata answer to a GET from %s has %s: a browser does not let a browser-based MCP client read it (Fetch Standard, CORS check). Serve the metadata with Access-Control-Allow-Origin: * (it is public) or the requesting origin.", corsOrigin, why)
	}
	req, _ = http.NewRequest(http.MethodOptions, c.MetadataGet, nil)
	req.Header.Set("Origin", corsOrigin)
	req.Header.Set("Access-Control-Request-Method", http.MethodGet)
	req.Header.Set("Access-Control-Request-Headers", corsRequestHeader)
	if resp, err := c.send(req); err != nil {
		r.Errorf("OPTIONS metadata (CORS preflight): %v (Fetch Standard, CORS protocol). Answer CORS preflights of the metadata.", err)
	} else if why := preflightRefusal(resp, http.MethodGet, corsRequestHeader); why != "" {
		r.Errorf("the metadata's CORS preflight from %s (GET with the header %s) %s: a browser does not send the GET (Fetch Standard, CORS-preflight fetch). Answer preflights of the metadata with 2xx, Access-Control-Allow-Origin (* or the requesting origin) and Access-Control-Allow-Headers allowing MCP-Protocol-Version (or *).", corsOrigin, corsRequestHeader, why)
	}
	req, err := c.request(probe{})
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	req.Header.Set("Origin", corsOrigin)
	resp, err := c.send(req)
	switch {
	case err != nil:
		r.Errorf("request without a token: %v. Answer a request without a token with 401 and a %s challenge (RFC 6750 §3; MCP authorization).", err, c.scheme())
	case resp.status == http.StatusForbidden:
		// The MCP transport: "If the Origin header is present and invalid,
		// servers MUST respond with HTTP 403 Forbidden." A server that does
		// not allow this origin is right to refuse it.
		r.Logf("the endpoint refused the origin %s with 403 (Origin validation): the challenge's CORS exposure is not checked", corsOrigin)
	default:
		why, exposed := corsRefusal(resp.header), exposes(resp.header, "WWW-Authenticate")
		switch {
		case why != "" && !exposed:
			r.Errorf("the %d to a request from %s without a token has %s and does not list WWW-Authenticate (or *) in Access-Control-Expose-Headers: a browser does not let a browser-based client read the answer at all, its challenge included (Fetch Standard, CORS check). Refuse origins you do not serve with 403 (MCP transport, Origin validation), and send Access-Control-Allow-Origin (* or the requesting origin) and Access-Control-Expose-Headers: WWW-Authenticate with every refusal to an origin you serve.", resp.status, corsOrigin, why)
		case why != "":
			r.Errorf("the %d to a request from %s without a token has %s: a browser does not let a browser-based client read the answer at all, its challenge included (Fetch Standard, CORS check). Refuse origins you do not serve with 403 (MCP transport, Origin validation), and send Access-Control-Allow-Origin (* or the requesting origin) with every refusal to an origin you serve.", resp.status, corsOrigin, why)
		case !exposed:
			r.Errorf("the %d does not list WWW-Authenticate (or *) in Access-Control-Expose-Headers: a browser-based client cannot read the challenge (Fetch Standard, CORS protocol). Send Access-Control-Expose-Headers: WWW-Authenticate with every refusal.", resp.status)
		}
	}
}

// corsRefusal says why a browser would not let a page of corsOrigin read
// an answer with header h to a request without credentials (Fetch
// Standard, CORS check): Access-Control-Allow-Origin absent, or neither *
// nor the origin, byte for byte (several field lines are combined, and so
// never match); "" if it would.
func corsRefusal(h http.Header) string {
	values := h.Values("Access-Control-Allow-Origin")
	switch v := strings.Join(values, ", "); {
	case len(values) == 0:
		return "no Access-Control-Allow-Origin"
	case v == "*" || v == corsOrigin:
		return ""
	default:
		return fmt.Sprintf("Access-Control-Allow-Origin %q, neither * nor the request's origin %s", v, corsOrigin)
	}
}

// preflightRefusal says why a browser would not make the request of method
// with the header name (a CORS-unsafe request header) after the preflight
// answer resp, for a request without credentials (Fetch Standard,
// CORS-preflight fetch): not 2xx, the CORS check failed, or the method or
// the header not allowed; "" if it would make it.
func preflightRefusal(resp *response, method, name string) string {
	if resp.status/100 != 2 {
		return fmt.Sprintf("got status %d, not 2xx", resp.status)
	}
	if why := corsRefusal(resp.header); why != "" {
		return "has " + why
	}
	methods, ok := headerNames(resp.header.Values("Access-Control-Allow-Methods"))
	if !ok {
		return fmt.Sprintf("has an Access-Control-Allow-Methods that does not parse (%q)", resp.header.Values("Access-Control-Allow-Methods"))
	}
	headers, ok := headerNames(resp.header.Values("Access-Control-Allow-Headers"))
	if !ok {
		return fmt.Sprintf("has an Access-Control-Allow-Headers that does not parse (%q)", resp.header.Values("Access-Control-Allow-Headers"))
	}
	safelisted := method == http.MethodGet || method == http.MethodHead || method == http.MethodPost
	if !safelisted && !slices.Contains(methods, method) && !slices.Contains(methods, "*") {
		return fmt.Sprintf("does not allow the method %s in Access-Control-Allow-Methods (%q)", method, methods)
	}
	if !slices.ContainsFunc(headers, func(h string) bool { return h == "*" || strings.EqualFold(h, name) }) {
		if len(headers) == 0 {
			return "has no Access-Control-Allow-Headers"
		}
		return fmt.Sprintf("does not allow the header %s in Access-Control-Allow-Headers (%q)", name, headers)
	}
	return ""
}

// exposes reports whether a browser lets a page read the header name of
// an answer with header h to a request without credentials:
// Access-Control-Expose-Headers lists it, case-insensitively, or * (Fetch
// Standard, main fetch: "*" exposes every header unless credentials are
// included).
func exposes(h http.Header, name string) bool {
	names, _ := headerNames(h.Values("Access-Control-Expose-Headers"))
	return slices.ContainsFunc(names, func(n string) bool { return n == "*" || strings.EqualFold(n, name) })
}

// headerNames splits the field lines of a list of tokens (such as
// Access-Control-Allow-Headers) into its items, empty ones dropped; false
// if an item is not a token (RFC 9110 §5.6.2), as a browser refuses it.
func headerNames(values []string) ([]string, bool) {
	var out []string
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.Trim(item, " \t")
			if item == "" {
				continue
			}
			if !check.IsToken(item) {
				return nil, false
			}
			out = append(out, item)
		}
	}
	return out, true
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
		r.Errorf("request without a token: %v. Answer a request without a token with 401 and a %s challenge (RFC 6750 §3; MCP authorization).", err, c.scheme())
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
	switch {
	case c.Scopes != nil:
		if !sameSet(ch.Scope, c.Scopes) {
			r.Errorf("challenge scope %q, want %q (RFC 6750 §3; ConformanceConfig.Scopes, mcpcheck -scopes). Name in the 401 challenge's scope exactly the scopes a client needs to start (or correct the scopes the run was given).", ch.Scope, c.Scopes)
		}
	case len(ch.Scope) == 0:
		if c.ChallengeScopeRequired {
			r.Errorf("the 401 challenge names no scope: MCP clients ask for the scopes it names (MCP authorization 2025-11-25, scope selection strategy: servers SHOULD name them; RFC 6750 §3). Name in the 401 challenge's scope the scopes a client needs to start.")
		}
	default:
		c.checkChallengeScopesPublished(r, ch.Scope)
	}
}

// checkChallengeScopesPublished, when the run does not know which scopes
// the challenge must name, fails those it names that the metadata's
// scopes_supported, if published, lacks.
func (c *Target) checkChallengeScopesPublished(r Reporter, named []string) {
	r.Helper()
	resp, err := c.metadata()
	if err != nil || resp.status != http.StatusOK {
		return // the metadata check says why
	}
	var doc struct {
		ScopesSupported *[]string `json:"scopes_supported"`
	}
	if json.Unmarshal(resp.body, &doc) != nil || doc.ScopesSupported == nil {
		return // absent, or not an array of strings: the metadata check says so
	}
	for _, s := range named {
		if !slices.Contains(*doc.ScopesSupported, s) {
			r.Errorf(`the 401 challenge names the scope %q, which the metadata's "scopes_supported" %q lacks (RFC 9728 §2; MCP authorization, scope selection strategy). List in "scopes_supported" every scope your challenges name.`, s, *doc.ScopesSupported)
		}
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
			r.Errorf("WWW-Authenticate %q does not parse: %v. Format the challenge as RFC 9110 §11.6.1 says, auth-param values as tokens or quoted-strings.", Redact(l), err)
			return rsmeta.Challenge{}, false
		}
		for _, ch := range cs {
			if strings.EqualFold(ch.Scheme, "Bearer") {
				bearer = append(bearer, ch)
			}
		}
	}
	if len(bearer) != 1 {
		r.Errorf("WWW-Authenticate %q: %d Bearer challenges, want 1 (RFC 6750 §3; RFC 9110 §11.6.1). Send exactly one Bearer challenge.", redactAll(lines), len(bearer))
		return rsmeta.Challenge{}, false
	}
	ch := bearer[0]
	c.checkResourceMetadata(r, "Bearer", ch.ResourceMetadata)
	if slices.Contains(ch.Scope, "offline_access") {
		r.Errorf("the challenge names offline_access: MCP says a server never asks for it (MCP authorization, scope selection strategy). Remove offline_access from the scopes of challenges.")
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
			r.Errorf("tools/list: %v. Answer tools/list with a JSON-RPC response, as application/json or text/event-stream (MCP transport, Streamable HTTP).", err)
		} else if resp.status/100 != 2 || msg == nil || msg.Error != nil {
			r.Errorf("tools/list with a valid token%s: status %d, %s (RFC 6750 §2.1; MCP authorization). Let a valid token with the challenge's scopes through to tools/list.", c.withProof(), resp.status, describeRPC(msg, resp))
		}
		return
	}
	resp, err := c.sendProbe(probe{token: tok})
	if err != nil {
		r.Errorf("request with a valid token: %v. Answer a request with a valid token (RFC 6750 §2.1).", err)
	} else if resp.status/100 != 2 {
		r.Errorf("request with a valid token%s: status %d (WWW-Authenticate %q, body %q) (RFC 6750 §2.1; RFC 8707). Accept tokens from the issuer whose \"aud\" is the resource identifier, signed with its published keys.", c.withProof(), resp.status, redactAll(resp.header.Values("WWW-Authenticate")), truncate(resp.body))
	}
}

// initialize opens an MCP session with tok.
func (c *Target) initialize(r Reporter, tok string) bool {
	r.Helper()
	c.session, c.protocol = "", ""
	resp, msg, err := c.rpc(tok, "initialize", initializeParams)
	if err != nil {
		r.Errorf("initialize: %v. Answer initialize with a JSON-RPC response, as application/json or text/event-stream (MCP lifecycle, initialization).", err)
		return false
	}
	if resp.status/100 != 2 || msg == nil || msg.Error != nil {
		r.Errorf("initialize with a valid token%s: status %d, %s (RFC 6750 §2.1; MCP lifecycle, initialization). Let a valid token with the challenge's scopes through to initialize.", c.withProof(), resp.status, describeRPC(msg, resp))
		return false
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	_ = json.Unmarshal(msg.Result, &res)
	c.session = resp.header.Get("Mcp-Session-Id")
	c.protocol = res.ProtocolVersion
	if resp, _, err := c.rpc(tok, "notifications/initialized", nil); err != nil {
		r.Errorf("notifications/initialized: %v. Accept notifications/initialized, with 202, in the session initialize opened (MCP lifecycle, initialization).", err)
		return false
	} else if resp.status/100 != 2 {
		r.Errorf("notifications/initialized: status %d, %s. Accept notifications/initialized, with 202, in the session initialize opened (MCP lifecycle, initialization).", resp.status, describeRPC(nil, resp))
		return false
	}
	return true
}

// checkStepUps runs checkStepUp for each tool of Tools, in name order, then
// checkStepUpUnknown for each of StepUpTools that Tools lacks, as subtests.
func (c *Target) checkStepUps(r Reporter) {
	for _, tool := range slices.Sorted(maps.Keys(c.Tools)) {
		c.run(r, tool, func(r Reporter) { c.checkStepUp(r, tool) })
	}
	for _, tool := range c.StepUpTools {
		if _, known := c.Tools[tool]; !known {
			c.run(r, tool, func(r Reporter) { c.checkStepUpUnknown(r, tool) })
		}
	}
}

// toolCaller returns a function that calls tool, in the current session,
// with a token granting the scopes it is given and, if lacks is set, not
// lacks. A token the run's token source cannot get skips the subtest
// (notIssued): the authorization server decides which scopes a client
// gets; so does a token that grants lacks anyway, as its "scope" (or
// "scp") claim shows.
func (c *Target) toolCaller(r Reporter, tool string) func(scopes []string, lacks string) (*response, *rpcResponse, bool) {
	params := c.toolCall(tool)
	return func(scopes []string, lacks string) (*response, *rpcResponse, bool) {
		r.Helper()
		tok, err := c.tokenFor(scopes)
		if err != nil {
			r.Skipf("%s: a token with the scopes %q: %v", notIssued, scopes, err)
			return nil, nil, false
		}
		if granted, ok := scopesOf(tok); ok && lacks != "" && slices.Contains(granted, lacks) {
			r.Skipf("%s: asked for a token with the scopes %q, it issued one granting %q too", notIssued, scopes, lacks)
			return nil, nil, false
		}
		resp, msg, err := c.rpc(tok, "tools/call", params)
		if err != nil {
			r.Errorf("tools/call %s with scopes %q: %v. Answer tools/call with a JSON-RPC response, as application/json or text/event-stream (MCP transport, Streamable HTTP).", tool, scopes, err)
			return nil, nil, false
		}
		return resp, msg, true
	}
}

// checkStepUp: MCP authorization, scope challenge handling (403
// insufficient_scope, then success with the scopes it names), for a tool
// whose scopes the run knows. A call "gets through" when it is answered 2xx
// with a clean JSON-RPC result: a 2xx whose answer is a JSON-RPC error or
// a tool error (isError) fails if it reads as a scope refusal (which must
// be a 403), and otherwise skips the subtest, saying what the tool
// answered (its arguments are likely wrong): the step-up is then not
// confirmed either way.
func (c *Target) checkStepUp(r Reporter, tool string) {
	need := c.Tools[tool]
	if !c.initialize(r, c.token(c.allScopes(), nil)) {
		return
	}
	call := c.toolCaller(r, tool)
	if len(need) == 0 {
		if resp, msg, ok := call([]string{}, ""); ok {
			if resp.status/100 != 2 {
				r.Errorf("tools/call %s (needs no scope) with a scope-less token: status %d, %s (MCP authorization, scope challenge handling). Let a tool that needs no scope be called with any valid token (or correct the scopes the run was given for it).", tool, resp.status, describeRPC(msg, resp))
				return
			}
			c.judgeToolAnswer(r, tool, []string{}, resp, msg)
		}
		return
	}
	// Lacking one scope: 403 insufficient_scope. A token source cannot be
	// asked for a token without any scope (the authorization server grants
	// its default ones): it is asked for the run's scopes but that one.
	missing := need[len(need)-1]
	lacking := need[:len(need)-1]
	if len(lacking) == 0 && c.minter == nil {
		lacking = slices.DeleteFunc(slices.Clone(c.tokenScopes()), func(s string) bool { return s == missing })
		if len(lacking) == 0 {
			r.Skipf("%s: a token lacking %q cannot be asked for: asked for no scope, an authorization server grants its default scopes (name with -scopes a scope the tool does not need)", notIssued, missing)
			return
		}
	}
	resp, _, ok := call(lacking, missing)
	if !ok {
		return
	}
	if resp.status != http.StatusForbidden {
		r.Errorf("tools/call %s with scopes %q (lacking %q): status %d, want 403 insufficient_scope (MCP authorization, scope challenge handling). Answer a tools/call lacking a scope the tool needs with 403 and a %s challenge error=\"insufficient_scope\" naming the scopes.", tool, lacking, missing, resp.status, c.scheme())
		return
	}
	if !c.stepUp(r, tool, call, resp, need, nil) {
		return
	}
	// So do exactly the scopes the tool is configured with.
	if resp, msg, ok := call(need, ""); ok {
		if resp.status/100 != 2 {
			r.Errorf("tools/call %s with its scopes %q: status %d, %s (MCP authorization, scope challenge handling). Let a token with exactly the scopes a tool needs call it (or correct the scopes the run was given for it).", tool, need, resp.status, describeRPC(msg, resp))
			return
		}
		c.judgeToolAnswer(r, tool, need, resp, msg)
	}
}

// checkStepUpUnknown: the step-up of a tool whose scopes the run does not
// know (StepUpTools). In a session opened with a token granting the run's
// scopes, it calls the tool with that token: answered 403, the refusal is
// judged as for a known tool, and a token granting the run's scopes and
// those the 403 names must get the call through; answered 2xx with a clean
// result, the tool needs no scope beyond them and the step-up is not
// exercised, so the subtest is skipped (a pass would claim a check that was
// not made); answered 2xx with a JSON-RPC error or a tool error, the
// subtest fails if it reads as a scope refusal and is skipped, saying what
// the tool answered, if not.
func (c *Target) checkStepUpUnknown(r Reporter, tool string) {
	have := c.tokenScopes()
	tok, err := c.tokenFor(have)
	if err != nil {
		r.Skipf("%s: a token with the scopes %q: %v", notIssued, have, err)
		return
	}
	if !c.initialize(r, tok) {
		return
	}
	call := c.toolCaller(r, tool)
	resp, msg, ok := call(have, "")
	if !ok {
		return
	}
	switch {
	case resp.status/100 == 2:
		c.judgeToolAnswer(r, tool, have, resp, msg)
		r.Skipf("tools/call %s with the scopes %q got status %d and a result: the tool needs no scope beyond them, so the step-up was not exercised (name the scopes the tool needs, mcpcheck -tool-scopes, to check that a token lacking one is refused, or name a tool that needs more)", tool, have, resp.status)
	case resp.status == http.StatusForbidden:
		c.stepUp(r, tool, call, resp, nil, have)
	default:
		r.Errorf("tools/call %s with a valid token granting %q: status %d, %s; want 2xx, or 403 insufficient_scope if the tool needs more (MCP authorization, scope challenge handling). Let a valid token through to tools/call, refusing only with 403 and a %s challenge error=\"insufficient_scope\" naming the scopes the tool needs.", tool, have, resp.status, describeRPC(msg, resp), c.scheme())
	}
}

// scopeRefusal matches the text of a tool's error that refuses the call
// for want of a scope or a permission.
var scopeRefusal = regexp.MustCompile(`(?i)scope|permission|forbidden|unauthori[sz]ed`)

// judgeToolAnswer judges the JSON-RPC answer msg of a 2xx tools/call of
// tool made with a token granting scopes: it returns if it is a clean
// result; a JSON-RPC error or a tool error (a result with isError, MCP
// tools) fails the subtest if its text reads as a scope refusal, which must
// be a 403 insufficient_scope naming the scopes; any other error skips it,
// saying what the tool answered.
func (c *Target) judgeToolAnswer(r Reporter, tool string, scopes []string, resp *response, msg *rpcResponse) {
	r.Helper()
	var what, text string
	switch {
	case msg == nil:
		return
	case msg.Error != nil:
		what, text = fmt.Sprintf("a JSON-RPC error %d", msg.Error.Code), msg.Error.Message
	default:
		var res struct {
			IsError bool `json:"isError"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		}
		if json.Unmarshal(msg.Result, &res) != nil || !res.IsError {
			return
		}
		var parts []string
		for _, ct := range res.Content {
			if ct.Type == "text" {
				parts = append(parts, ct.Text)
			}
		}
		what, text = "a tool error (isError)", strings.Join(parts, " ")
	}
	shown := truncate([]byte(text))
	if scopeRefusal.MatchString(text) {
		r.Errorf("tools/call %s with a token granting %q: status %d with %s %q, which reads as a scope refusal: a client learns the scopes to ask for only from a 403 insufficient_scope challenge (MCP authorization, scope challenge handling; RFC 6750 §3.1). Refuse a call that lacks a scope with 403 and a %s challenge error=\"insufficient_scope\" naming the scopes, before it reaches the tool.", tool, scopes, resp.status, what, shown, c.scheme())
		return
	}
	r.Skipf("tools/call %s with a token granting %q: the tool answered %s %q: check the tool's arguments (ConformanceConfig.ToolArguments, mcpcheck -tool-args); whether the call got through is not known", tool, scopes, what, shown)
}

// stepUp judges the 403 resp to a tools/call of tool (need: the scopes the
// tool needs, if known): a challenge with error="insufficient_scope" naming
// scopes, never offline_access; then a token granting held and the scopes
// it names must get the call through (held nil: the named scopes alone
// must), with a clean result (see judgeToolAnswer). It reports whether the
// subtest may go on: false when the 403 had no usable challenge, or the
// call could not be made or did not get through.
func (c *Target) stepUp(r Reporter, tool string, call func(scopes []string, lacks string) (*response, *rpcResponse, bool), resp *response, need, held []string) bool {
	r.Helper()
	ch, ok := c.tokenChallenge(r, resp)
	if !ok {
		return false
	}
	if ch.Error != rsmeta.ErrorInsufficientScope {
		r.Errorf("403 challenge error=%q, want insufficient_scope (RFC 6750 §3.1). Send error=\"insufficient_scope\" in the challenge of a 403 for missing scopes.", ch.Error)
	}
	if len(ch.Scope) == 0 {
		r.Errorf("the 403 challenge names no scope: the client cannot know what to ask for (RFC 6750 §3.1; MCP authorization, scope challenge handling). Name in the 403 challenge's scope the scopes the call needs.")
		return false
	}
	for _, s := range need {
		if !slices.Contains(ch.Scope, s) {
			r.Logf("the 403 challenge scope %q does not list %q: fine only if a scope it lists implies it", ch.Scope, s)
		}
	}
	// The scopes the challenge names, granted, let the call through.
	grant := union(held, ch.Scope)
	resp, msg, ok := call(grant, "")
	if !ok {
		return false
	}
	if resp.status/100 != 2 {
		r.Errorf("tools/call %s with the scopes the 403 named (%q): status %d, %s: step-up cannot succeed (MCP authorization, scope challenge handling). Name in the 403 challenge scopes that, granted, let the call through.", tool, grant, resp.status, describeRPC(msg, resp))
		return true
	}
	c.judgeToolAnswer(r, tool, grant, resp, msg)
	return true
}

// union returns a's scopes followed by those of b that a lacks, in a new
// slice.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// checkResourceMetadata judges the resource_metadata u of a challenge of
// scheme: it must be there (RFC 9728 §5.1); if it is not MetadataURL (which
// the metadata check judges), the document it names must be this
// resource's metadata, as the metadata check judges MetadataURL's: MCP
// clients use the URL the challenge names (RFC 9728 §5.1 lets it be any URL
// of the metadata). Only a URL on the origin of MetadataURL is fetched
// (from MetadataGet's origin, with Host), once per run; another origin's
// never is, and fails, the kit being unable to check it.
func (c *Target) checkResourceMetadata(r Reporter, scheme, u string) {
	r.Helper()
	if u == "" {
		r.Errorf("the %s challenge has no resource_metadata (RFC 9728 §5.1), want %q: clients that follow only the challenge (MCP 2025-06-18) cannot find the metadata. Set resource_metadata to the URL of the metadata, fixed by configuration, never derived from the request.", scheme, c.MetadataURL)
		return
	}
	if u == c.MetadataURL {
		return
	}
	get, ok := c.onResourceOrigin(u)
	if !ok {
		r.Errorf("the %s challenge's resource_metadata %q is not on the resource's origin: the kit sends nothing elsewhere, so it cannot check that clients following it find this resource's metadata (RFC 9728 §5.1, §3.3). Name a metadata URL on the resource's origin, such as %q (RFC 9728 §3.1).", scheme, u, c.MetadataURL)
		return
	}
	resp, err := c.namedDocument(get)
	switch {
	case err != nil:
		r.Errorf("GET %s, the %s challenge's resource_metadata: %v: MCP clients fetch the metadata at the URL the challenge names (RFC 9728 §5.1; MCP authorization, protected resource metadata discovery). Serve the metadata there, or name %q.", u, scheme, err, c.MetadataURL)
	case resp.status != http.StatusOK:
		r.Errorf("GET %s, the %s challenge's resource_metadata: status %d, want 200 with the metadata: MCP clients fetch it at the URL the challenge names (RFC 9728 §3.2, §5.1; MCP authorization, protected resource metadata discovery). Serve the metadata there, or name %q.", u, scheme, resp.status, c.MetadataURL)
	default:
		c.checkDocument(r, fmt.Sprintf("the metadata at %s, the %s challenge's resource_metadata:", u, scheme), resp)
	}
}

// onResourceOrigin returns the URL at which the kit GETs u, if u is an
// absolute URL on the origin of MetadataURL: u on MetadataGet's origin.
func (c *Target) onResourceOrigin(u string) (string, bool) {
	pu, err := url.Parse(u)
	mu, err2 := url.Parse(c.MetadataURL)
	gu, err3 := url.Parse(c.MetadataGet)
	if err != nil || err2 != nil || err3 != nil || !pu.IsAbs() || !strings.EqualFold(pu.Scheme, mu.Scheme) || !strings.EqualFold(pu.Host, mu.Host) {
		return "", false
	}
	get := gu.Scheme + "://" + gu.Host + pu.EscapedPath()
	if pu.RawQuery != "" {
		get += "?" + pu.RawQuery
	}
	return get, true
}

// namedDocument GETs the document at get, once per run.
func (c *Target) namedDocument(get string) (*response, error) {
	c.docsMu.Lock()
	defer c.docsMu.Unlock()
	if d, ok := c.docs[get]; ok {
		return d.resp, d.err
	}
	var d fetched
	req, err := http.NewRequest(http.MethodGet, get, nil)
	if err != nil {
		d.err = err
	} else {
		d.resp, d.err = c.send(req)
	}
	if c.docs == nil {
		c.docs = map[string]fetched{}
	}
	c.docs[get] = d
	return d.resp, d.err
}

// fetched is the answer to a GET, or why there is none.
type fetched struct {
	resp *response
	err  error
}
