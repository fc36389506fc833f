package conformance

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/rsguard/rsguard/rsmeta"
)

// How each attack's refusal is checked: the status, the challenge, and that
// nothing of the token is echoed; and the helpers the attacks share.

// toolCall is the params of a tools/call of tool.
func (c *Target) toolCall(tool string) map[string]any {
	args := c.ToolArguments[tool]
	if args == nil {
		args = map[string]any{}
	}
	return map[string]any{"name": tool, "arguments": args}
}

// checkMethod sends a method attack in a session opened by the same user
// with a valid token, so that only the method stands between the request
// and the tool.
func (c *Target) checkMethod(r Reporter, a attack) {
	if !c.initialize(r, c.token(c.allScopes(), nil)) {
		return
	}
	rpcMethod, params := "tools/call", any(a.call)
	if a.call == nil {
		rpcMethod, params = "tools/list", map[string]any{}
	}
	req, err := c.rpcRequest(c.Endpoint, rpcMethod, params, false)
	if err != nil {
		r.Fatalf("%v", err)
		return
	}
	req.Method = a.method
	resp, err := c.sendAs(req, credential{token: a.token}, c.Host, 0, false)
	if err != nil {
		r.Errorf("%s %s: %v. Answer a method you do not serve with 405 and Allow (RFC 9110 §15.5.6).", a.method, rpcMethod, err)
		return
	}
	defer c.checkEcho(r, resp, tokenParts(a.token))
	switch {
	case resp.status/100 == 2:
		r.Errorf("%s with a %s body: status %d, the request reached the MCP server (RFC 9110 §15.5.6; MCP transport, Streamable HTTP). Answer 405 with Allow to any method but POST, GET, DELETE and OPTIONS, before the request reaches the MCP server.", a.method, rpcMethod, resp.status)
	case resp.status != http.StatusMethodNotAllowed:
		r.Errorf("%s with a %s body: status %d, want 405 Method Not Allowed (RFC 9110 §15.5.6): only POST, GET and DELETE are MCP Streamable HTTP methods. Answer 405 with Allow to any method but POST, GET, DELETE and OPTIONS, after authentication.", a.method, rpcMethod, resp.status)
	case !slices.Contains(splitList(resp.header.Values("Allow")), http.MethodPost):
		r.Errorf("%s: 405 with Allow %q, want an Allow header listing POST (RFC 9110 §10.2.1). Send with the 405 an Allow header listing the methods you serve (GET, POST, DELETE).", a.method, resp.header.Values("Allow"))
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

// checkAttacks runs the attack corpus, one subtest per class and case, each
// case skipped as NotCheckable when it needs more than the run has, or when
// it could not be built (a forged token that needs the authorization
// server's public key, without Target.IssuerKey).
func (c *Target) checkAttacks(r Reporter) {
	for _, class := range c.attacks(r) {
		c.run(r, class.name, func(r Reporter) {
			for _, a := range class.cases {
				if a.notFor != "" {
					c.runNeeding(r, a.name, NeedsNothing, "", func(r Reporter) { r.Skipf("%s: %s", DoesNotApply, a.notFor) })
					continue
				}
				needs, why := c.boundNeeds(a.needs, a.why)
				c.runNeeding(r, a.name, needs, why, func(r Reporter) {
					if a.skip != "" {
						if a.note != "" {
							r.Logf("%s", a.note)
						}
						r.Skipf("%s", a.skip)
						return
					}
					if a.token == "" && a.probe == nil {
						r.Skipf("%s without the authorization server's public key: this forged token names or uses it, and the run did not find it in a JWK Set", NotCheckable)
						return
					}
					c.checkAttack(r, a)
				})
			}
		})
	}
}

// checkAttack sends a and checks the refusal.
func (c *Target) checkAttack(r Reporter, a attack) {
	if a.method != "" {
		c.checkMethod(r, a)
		return
	}
	p := probe{token: a.token}
	if a.probe != nil {
		p = *a.probe
	}
	resp, err := c.sendProbe(p)
	if err != nil {
		r.Errorf("%v. Answer this request with a refusal (4xx, with a challenge: RFC 6750 §3.1) rather than failing the connection.", err)
		return
	}
	secrets := tokenParts(a.token)
	if resp.status/100 == 2 {
		r.Errorf("accepted: status %d, want a refusal (%s). %s", resp.status, c.caseSpec(r), a.fix)
		return
	}
	defer c.checkEcho(r, resp, secrets)
	switch a.want {
	case "size":
		// Servers and proxies bound headers differently: any refusal will
		// do, but not a success and not a crash.
		if resp.status >= 500 {
			r.Errorf("status %d for an oversized token (RFC 6585 §5; RFC 9110 §15.5). Refuse an oversized Authorization header with 4xx (431, 400 or 401), never a server error.", resp.status)
		}
		return
	case "token":
		if resp.status != http.StatusUnauthorized {
			r.Errorf("status %d, want 401 (RFC 6750 §3.1 invalid_token%s). Answer every token you refuse with 401 and a %s challenge error=\"invalid_token\".", resp.status, c.underValidProof(), c.scheme())
			return
		}
		if ch, ok := c.tokenChallenge(r, resp); ok && ch.Error != rsmeta.ErrorInvalidToken {
			r.Errorf(`%s challenge error=%q, want "invalid_token" (RFC 6750 §3.1%s). Send error="invalid_token" in the challenge of a refused token.`, c.scheme(), ch.Error, c.underValidProof())
		}
	case "request":
		if resp.status != http.StatusBadRequest && resp.status != http.StatusUnauthorized {
			r.Errorf("status %d, want 400 invalid_request (or 401) (RFC 6750 §3.1). Answer a request whose credentials are malformed, repeated or misplaced with 400 error=\"invalid_request\" (or 401).", resp.status)
			return
		}
		if ch, ok := c.tokenChallenge(r, resp); ok {
			want := rsmeta.ErrorInvalidRequest
			if resp.status == http.StatusUnauthorized {
				want = rsmeta.ErrorInvalidToken
			}
			// The proof that comes with a malformed, repeated or misplaced
			// token is for the token as the kit meant it: a server that
			// finds the Authorization header's token not the one of the
			// proof's ath may say so (RFC 9449 §7.1).
			dpopProof := c.proving && resp.status == http.StatusUnauthorized && ch.Error == rsmeta.ErrorInvalidDPoPProof
			if ch.Error != want && ch.Error != "" && !dpopProof {
				r.Errorf("status %d with error=%q, want %q (RFC 6750 §3.1). Send error=\"invalid_request\" with a 400 and error=\"invalid_token\" with a 401.", resp.status, ch.Error, want)
			}
		}
	case "host":
		if resp.status == http.StatusForbidden || resp.status == http.StatusMisdirectedRequest {
			if len(resp.header.Values("WWW-Authenticate")) > 0 {
				c.tokenChallenge(r, resp)
			} else {
				r.Logf("the foreign Host was refused with %d before authentication (DNS-rebinding protection): nothing was derived from it", resp.status)
			}
			return
		}
		fallthrough
	case "none":
		if resp.status != http.StatusUnauthorized && resp.status != http.StatusBadRequest {
			r.Errorf("status %d, want 401 (or 400) (RFC 6750 §3). Answer a request without a token in its Authorization header with 401 and a %s challenge.", resp.status, c.scheme())
			return
		}
		c.tokenChallenge(r, resp)
	}
}

// echoWindow is the length of the pieces of a secret the echo check looks
// for: any run of that many bytes of it, wherever it starts. Long enough
// that no piece of a token (base64url) is met by chance in a conforming
// answer (challenge, metadata URL, scope names: their runs of base64url
// characters, "resource_metadata", "oauth-protected-resource", are words no
// token spells), short enough to catch a prefix or fragment.
const echoWindow = 16

// checkEcho fails if the response repeats a piece of a secret: any
// echoWindow bytes of it (all of it, if shorter and at least eight bytes
// long). The message names the secret and where the piece starts in it,
// never its bytes.
func (c *Target) checkEcho(r Reporter, resp *response, secrets []tokenPart) {
	var headers strings.Builder
	for name, vs := range resp.header {
		for _, v := range vs {
			headers.WriteString("\n" + name + ": " + v)
		}
	}
	for _, s := range secrets {
		for _, where := range []struct{ name, hay string }{{"body", string(resp.body)}, {"headers", headers.String()}} {
			if at, ok := echoed(where.hay, s.value); ok {
				r.Errorf("the response %s echo %d bytes or more of %s (from byte %d%s): whoever reads the answer or its logs gets the credential (RFC 6750 §5.1, token disclosure). Answer with fixed error text that never repeats the credential or any part of it.", where.name, min(echoWindow, len(s.value)), s.name, at, segmentOf(s.value, at))
				return
			}
		}
	}
}

// echoed reports whether hay holds a piece of secret (see checkEcho), and
// where in secret the first one found starts.
func echoed(hay, secret string) (int, bool) {
	if len(secret) < echoWindow {
		return 0, len(secret) >= 8 && strings.Contains(hay, secret)
	}
	pieces := make(map[string]int, len(secret)-echoWindow+1)
	for i := len(secret) - echoWindow; i >= 0; i-- {
		pieces[secret[i:i+echoWindow]] = i
	}
	for i := 0; i+echoWindow <= len(hay); i++ {
		if at, ok := pieces[hay[i:i+echoWindow]]; ok {
			return at, true
		}
	}
	return 0, false
}

// segmentOf names, for a message, the dot-separated segment of tok in which
// byte at lies: ", in its header" for a JWS's first segment…; "" for a
// token without dots.
func segmentOf(tok string, at int) string {
	segments := strings.Split(tok, ".")
	if len(segments) < 2 {
		return ""
	}
	i := strings.Count(tok[:at], ".")
	if len(segments) == 3 {
		return ", in its " + [...]string{"header", "payload", "signature"}[i]
	}
	return fmt.Sprintf(", in its segment %d", i+1)
}

// tokenPart is a secret that must never be echoed, not even in part, and
// its name.
type tokenPart struct{ name, value string }

// tokenParts are the secrets of a token (see checkEcho): the token.
func tokenParts(tok string) []tokenPart {
	if tok == "" {
		return nil
	}
	return []tokenPart{{"the token", tok}}
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

// truncate returns the start of a body for a message, redacted.
func truncate(b []byte) string {
	if len(b) > 200 {
		return Redact(string(b[:200])) + "…"
	}
	return Redact(string(b))
}

// Redact replaces in s each run that looks like a JWT or a part of one
// (base64url of a JSON object, "eyJ…", with the segments joined to it by
// dots) by "[token]": every message of the checks passes through it, so
// that none carries a token, even one a server echoed; front ends use it
// for their own output.
func Redact(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "eyJ")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i
		for j < len(s) && (isBase64URL(s[j]) || s[j] == '.') {
			j++
		}
		b.WriteString(s[:i])
		if j-i >= 8 {
			b.WriteString("[token]")
		} else {
			b.WriteString(s[i:j])
		}
		s = s[j:]
	}
}

// redactAll redacts each of values.
func redactAll(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = Redact(v)
	}
	return out
}

func isBase64URL(ch byte) bool {
	return 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_'
}

func describeRPC(msg *rpcResponse, resp *response) string {
	switch {
	case resp != nil && resp.status/100 != 2:
		return fmt.Sprintf("WWW-Authenticate %q, body %q", redactAll(resp.header.Values("WWW-Authenticate")), truncate(resp.body))
	case msg == nil:
		return "no JSON-RPC response"
	case msg.Error != nil:
		return fmt.Sprintf("JSON-RPC error %d %q", msg.Error.Code, Redact(msg.Error.Message))
	}
	return "JSON-RPC result"
}
