package conformance

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The session checks of Conformance (MCP only): an MCP session belongs to
// the principal that opened it (MCP security best practices, session
// hijacking: bind the session ID to the user), and a session id presented
// by anyone else is answered with the same status as one never issued (MCP
// transport, session management: 404), so that ids cannot be probed. The kit
// compares statuses only: a server should send the same headers and body
// too, which the kit does not check.

// streamTimeout bounds the wait for the headers of an answer to a GET (an
// SSE stream): the kit reads the headers only, then closes the body. See
// Target.StreamWait.
const streamTimeout = 10 * time.Second

// sessionMethods are the requests the kit sends in a session: a tools/list
// (POST), the server's event stream (GET) and the end of the session
// (DELETE).
func sessionMethods() []string {
	return []string{http.MethodPost, http.MethodGet, http.MethodDelete}
}

// sessionRequestName names the request of method in messages.
func sessionRequestName(method string) string {
	switch method {
	case http.MethodPost:
		return "POST tools/list"
	case http.MethodGet:
		return "GET stream"
	}
	return method
}

// intruder is a principal other than the session's owner, with a valid
// token for the resource.
type intruder struct {
	name   string         // the subtest
	who    string         // in messages
	claims map[string]any // over the owner's
	// key, DPoP required, is the intruder's own DPoP key: its token is
	// bound to it, and its requests carry proofs by it.
	key *DPoPKey
}

// sessionAnswer is the answer to one request in a session, or why there
// was none.
type sessionAnswer struct {
	resp *response
	err  error
}

// checkSession checks the binding of MCP sessions to their principal. With
// a valid token, it opens a session and then sends, in that session or
// with a made-up id, a POST tools/list, a GET of the event stream (headers
// only) and a DELETE:
//
//   - unknown session: a made-up id (never issued, shaped like the issued
//     one) with the owner's token gets 404 to the POST, and 404 or 405 to
//     GET and DELETE;
//   - <intruder>/{POST, GET stream, DELETE}: none of these valid tokens is served in the
//     owner's session, and each gets 404 (a 403 tells a prober the
//     session exists; a 405 only if an unknown id gets it too):
//     another user's (another sub and client_id); a token a client holds
//     for itself (client credentials, RFC 9068 §2.2: no sub, or sub equal
//     to client_id) whose client_id is the owner's sub — a client id may
//     be chosen by whoever registers the client (RFC 7591), so a principal
//     built as "sub, else client_id" lets a client named after a user take
//     over her sessions. An intruder's DELETE leaves the owner served;
//   - <intruder>/same answer as an unknown session: each request of the
//     intruder gets the status a made-up id gets;
//   - renewed token: the owner, with a freshly issued token (same sub and
//     client_id, new jti, later exp), is served in its session;
//   - owner ends the session: the owner's DELETE, if answered 2xx, ends the
//     session (a later POST gets 404); answered 405 (a server that does
//     not let clients end sessions, as MCP allows), the subtest is skipped.
func (c *Target) checkSession(r Reporter) {
	ownerTok := c.token(c.allScopes(), nil)
	if !c.initialize(r, ownerTok) {
		return
	}
	if c.session == "" {
		r.Logf("the server issued no Mcp-Session-Id (stateless): nothing to check")
		return
	}
	own := c.iss.Claims(c.Claims)
	owner, _ := own["sub"].(string)
	ownerClient, _ := own["client_id"].(string)
	intruders := []intruder{
		{"another user", "another user's token", map[string]any{"sub": "rsguard-conformance-other-user", "client_id": "rsguard-conformance-other-client"}, nil},
		{"client named after the user", fmt.Sprintf("a client-credentials token without sub whose client_id is the owner's sub %q", owner), map[string]any{"sub": nil, "client_id": owner}, nil},
		{"client named after the user (sub = client_id)", fmt.Sprintf("a client-credentials token whose sub and client_id are the owner's sub %q", owner), map[string]any{"sub": owner, "client_id": owner}, nil},
	}
	if owner == "" || owner == ownerClient {
		r.Logf("the kit's tokens carry no user sub (see ConformanceConfig.Claims): the session owner is a client, and no other client can be named after it")
		intruders = intruders[:1]
	}
	if c.proving {
		for i := range intruders {
			k, err := NewDPoPKey("ES256")
			if err != nil {
				r.Fatalf("%s: %v", c.Caller, err)
				return
			}
			intruders[i].key = k
		}
	}

	// The answers to a session id never issued, presented by the owner:
	// what every intruder must get too.
	unknownID := madeUpSession(c.session)
	unknown := make(map[string]sessionAnswer, len(sessionMethods()))
	for _, m := range sessionMethods() {
		resp, err := c.inSession(m, unknownID, ownerTok)
		unknown[m] = sessionAnswer{resp, err}
	}
	c.run(r, "unknown session", func(r Reporter) { c.checkUnknownSession(r, unknown) })
	for _, in := range intruders {
		c.run(r, in.name, func(r Reporter) { c.checkIntruder(r, in, ownerTok, unknown) })
	}
	c.run(r, "renewed token", func(r Reporter) { c.checkRenewedToken(r, own) })
	c.run(r, "owner ends the session", func(r Reporter) { c.checkSessionEnd(r, ownerTok) })
}

// checkUnknownSession: a session id never issued gets 404 (MCP transport,
// session management), or 405 to a GET or DELETE the server does not offer.
func (c *Target) checkUnknownSession(r Reporter, unknown map[string]sessionAnswer) {
	for _, m := range sessionMethods() {
		a, what := unknown[m], sessionRequestName(m)
		switch {
		case a.err != nil:
			r.Errorf("%s with a made-up Mcp-Session-Id and the owner's token: %v. Answer a session id the server never issued with 404 (MCP transport, session management).", what, a.err)
		case a.resp.status == http.StatusNotFound:
		case a.resp.status == http.StatusMethodNotAllowed && m != http.MethodPost:
			r.Logf("%s with a made-up Mcp-Session-Id: 405, the server does not offer it", what)
		case a.resp.status/100 == 2:
			r.Errorf("%s with a made-up Mcp-Session-Id and the owner's token: status %d, served in a session the server never issued. Answer a session id the server never issued (or that has expired or ended) with 404 (MCP transport, session management).", what, a.resp.status)
		default:
			r.Errorf("%s with a made-up Mcp-Session-Id and the owner's token: status %d, want 404 (MCP transport, session management). Answer a session id the server never issued (or that has expired or ended) with 404.", what, a.resp.status)
		}
	}
}

// checkIntruder sends in's requests in the owner's session, one subtest
// each, then compares their answers with those to a made-up id.
func (c *Target) checkIntruder(r Reporter, in intruder, ownerTok string, unknown map[string]sessionAnswer) {
	tok := c.tokenOf(in.key, c.allScopes(), in.claims)
	got := make(map[string]int, len(sessionMethods()))
	for _, m := range sessionMethods() {
		name := m // the subtest: POST, GET stream, DELETE
		if m == http.MethodGet {
			name = "GET stream"
		}
		c.run(r, name, func(r Reporter) {
			what := sessionRequestName(m)
			resp, err := c.inSession(m, c.session, tok)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					r.Errorf("%s with %s in the owner's session: no answer headers within %v: the server seems to hold a stream open for it (MCP security best practices, session hijacking). Answer 404 to a session id presented by anyone but the principal that opened it, before opening any stream.", what, in.who, c.StreamWait)
				} else {
					r.Errorf("%s with %s in the owner's session: %v. Answer 404 to a session id presented by anyone but the principal that opened it (MCP security best practices, session hijacking).", what, in.who, err)
				}
				return
			}
			got[m] = resp.status
			c.judgeIntruder(r, what, in.who, resp.status, unknown[m])
			if m == http.MethodDelete {
				c.checkOwnerStillServed(r, in.who, resp.status, ownerTok)
			}
		})
	}
	c.run(r, "same answer as an unknown session", func(r Reporter) {
		var diffs []string
		for _, m := range sessionMethods() {
			status, ok := got[m]
			u := unknown[m]
			if ok && u.err == nil && status != u.resp.status {
				diffs = append(diffs, fmt.Sprintf("%s %d, but %d for a made-up id", sessionRequestName(m), status, u.resp.status))
			}
		}
		if len(diffs) > 0 {
			r.Errorf("%s in the owner's session is answered unlike a session id never issued (%s): a prober can tell a live session id from a made-up one (MCP security best practices, session hijacking). Answer a session id presented by anyone but its owner as one never issued: 404, with the same headers and body.", in.who, strings.Join(diffs, "; "))
		}
	})
}

// judgeIntruder reports what is wrong with the status an intruder's
// request in the owner's session got.
func (c *Target) judgeIntruder(r Reporter, what, who string, status int, unknown sessionAnswer) {
	r.Helper()
	switch {
	case status == http.StatusNotFound:
	case status/100 == 2:
		r.Errorf("%s with %s was served in a session it did not open (status %d; MCP security best practices, session hijacking). Bind Mcp-Session-Id to the principal that opened the session, users and clients apart, and answer anyone else 404.", what, who, status)
	case status == http.StatusForbidden:
		r.Errorf("%s with %s in the owner's session: status 403, want 404 (MCP transport, session management): a 403 tells a prober the session exists. Answer 404, as for an unknown session.", what, who)
	case status == http.StatusMethodNotAllowed && unknown.err == nil && unknown.resp.status == status:
		r.Logf("%s with %s: 405, as for a made-up id: the server does not offer it", what, who)
	default:
		r.Errorf("%s with %s in the owner's session: status %d, want 404 (MCP transport, session management). Answer 404 to a session id presented by anyone but the principal that opened it, as for an unknown session.", what, who, status)
	}
}

// checkOwnerStillServed: after an intruder's DELETE (answered status), the
// owner is still served in its session; if not, it opens a new one for the
// checks that follow.
func (c *Target) checkOwnerStillServed(r Reporter, who string, status int, ownerTok string) {
	r.Helper()
	resp, err := c.inSession(http.MethodPost, c.session, ownerTok)
	if err == nil && resp.status/100 == 2 {
		return
	}
	got := fmt.Sprint(err)
	if err == nil {
		got = fmt.Sprintf("status %d", resp.status)
	}
	r.Errorf("after a DELETE with %s (status %d), the owner's POST tools/list in its session got %s: an intruder can end other principals' sessions (MCP security best practices, session hijacking). Let only the principal that opened a session end it, and answer anyone else's DELETE 404.", who, status, got)
	c.initialize(r, ownerTok)
}

// checkRenewedToken: the owner, with a new token (same sub and client_id,
// new jti, later exp), is served in its session.
func (c *Target) checkRenewedToken(r Reporter, own map[string]any) {
	claims := map[string]any{"jti": "rsguard-conformance-renewed-" + randomHex(8)}
	if exp, ok := numericDate(own["exp"]); ok {
		claims["exp"] = exp + 600
	}
	resp, err := c.inSession(http.MethodPost, c.session, c.token(c.allScopes(), claims))
	switch {
	case err != nil:
		r.Errorf("POST tools/list with the owner's renewed token (same sub and client_id, new jti, later exp): %v. Serve the principal that opened a session whatever token of its it presents (MCP security best practices, session hijacking).", err)
	case resp.status/100 != 2:
		r.Errorf("POST tools/list with the owner's renewed token (same sub and client_id, new jti, later exp): status %d, %s: the owner loses its session when its token is refreshed (MCP security best practices, session hijacking: sessions bind to the user). Bind the session to the principal (issuer and sub, or client_id for a client acting for itself), never to the token, its jti or its expiry.", resp.status, describeRPC(nil, resp))
	}
}

// checkSessionEnd: the owner's DELETE, answered 2xx, ends the session.
func (c *Target) checkSessionEnd(r Reporter, ownerTok string) {
	resp, err := c.inSession(http.MethodDelete, c.session, ownerTok)
	switch {
	case err != nil:
		r.Errorf("DELETE of the session with the owner's token: %v. Answer the owner's DELETE of its session with 2xx, or 405 if clients may not end sessions (MCP transport, session management).", err)
		return
	case resp.status == http.StatusMethodNotAllowed:
		r.Skipf("the server answers the owner's DELETE of its session with 405: it does not let clients end sessions (MCP transport, session management allows it)")
		return
	case resp.status/100 != 2:
		r.Errorf("DELETE of the session with the owner's token: status %d, want 2xx (or 405) (MCP transport, session management). Let the principal that opened a session end it with DELETE, or answer 405 if clients may not end sessions.", resp.status)
		return
	}
	deleted := resp.status
	resp, err = c.inSession(http.MethodPost, c.session, ownerTok)
	switch {
	case err != nil:
		r.Errorf("POST tools/list in the session after the owner's DELETE (status %d): %v. Answer an ended session's id with 404 (MCP transport, session management).", deleted, err)
	case resp.status/100 == 2:
		r.Errorf("POST tools/list in the session after the owner's DELETE (status %d): status %d, still served (MCP transport, session management). End the session, and its binding, when its DELETE is answered 2xx, and answer its id with 404 from then on.", deleted, resp.status)
	case resp.status != http.StatusNotFound:
		r.Errorf("POST tools/list in the session after the owner's DELETE (status %d): status %d, want 404 (MCP transport, session management). Answer an ended session's id with 404, as for one never issued.", deleted, resp.status)
	}
	c.session = ""
}

// inSession sends, with the session id and the token, the request of method
// (see sessionMethods). The answer to a GET is its status and headers only:
// its body, perhaps an endless stream, is closed unread.
func (c *Target) inSession(method, session, token string) (*response, error) {
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = c.rpcRequest(c.Endpoint, "tools/list", map[string]any{}, false)
	} else {
		req, err = http.NewRequest(method, c.Endpoint, nil)
	}
	if err != nil {
		return nil, err
	}
	if method == http.MethodGet {
		req.Header.Set("Accept", "text/event-stream")
	}
	if c.protocol != "" {
		req.Header.Set("MCP-Protocol-Version", c.protocol)
	}
	req.Header.Set("Mcp-Session-Id", session)
	if method != http.MethodGet {
		return c.sendAs(req, credential{token: token}, c.Host, 0, false)
	}
	return c.sendAs(req, credential{token: token}, c.Host, c.StreamWait, true)
}

// madeUpSession returns a session id never issued, shaped like the issued
// one (each digit, hex letter and other letter replaced by a random one of
// its kind), so that a server that checks the shape of ids still looks it
// up; if issued has too few such characters to make a guess unlikely, a
// random id.
func madeUpSession(issued string) string {
	b := []byte(issued)
	noise := make([]byte, len(b))
	_, _ = rand.Read(noise) // never fails (crypto/rand.Read)
	changed := 0
	for i, ch := range b {
		n := noise[i]
		switch {
		case '0' <= ch && ch <= '9':
			b[i] = '0' + n%10
		case 'a' <= ch && ch <= 'f':
			b[i] = 'a' + n%6
		case 'A' <= ch && ch <= 'F':
			b[i] = 'A' + n%6
		case 'g' <= ch && ch <= 'z':
			b[i] = 'g' + n%20
		case 'G' <= ch && ch <= 'Z':
			b[i] = 'G' + n%20
		default:
			continue
		}
		changed++
	}
	if changed < 16 || string(b) == issued {
		return "rsguard-conformance-unknown-" + randomHex(16)
	}
	return string(b)
}

// numericDate reads a NumericDate claim as the kit's issuer writes it.
func numericDate(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}
