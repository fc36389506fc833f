package conformance

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The introspection check (RFC 7662, the resource server's side): answers
// a server must refuse, an endpoint that is slow, huge or malformed, and
// floods of made-up tokens. See IntrospectionCases.

// Defaults of Target.IntrospectionTimeout and IntrospectionRateLimit
// (validate's).
const (
	defaultIntrospectionTimeout = 5 * time.Second
	defaultIntrospectionRate    = 50
)

// introTarget is what the introspection cases share.
type introTarget struct {
	c     *Target
	in    Introspector
	k     *DPoPKey // the proof key, DPoP required
	pacer pacer
}

// pacer keeps the kit's own introspecting requests under half the server's
// rate limit (a token bucket), so that the limit decides only the floods:
// like a client honouring a rate limit, it waits before a request when the
// bucket is empty.
type pacer struct {
	rate, burst, tokens float64
	last                time.Time
}

func (p *pacer) wait() {
	now := time.Now()
	if !p.last.IsZero() {
		p.tokens = math.Min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	if p.tokens < 1 {
		d := time.Duration((1 - p.tokens) / p.rate * float64(time.Second))
		time.Sleep(d)
		p.last = p.last.Add(d)
		p.tokens = 1
	}
	p.tokens--
}

// refill waits until the server's rate limit is whole again (after a
// flood).
func (p *pacer) refill(serverRate float64) {
	time.Sleep(time.Duration(math.Max(1, serverRate) / serverRate * float64(time.Second)))
	p.tokens, p.last = p.burst, time.Now()
}

// claims are the claims of a valid opaque token for the resource (bound to
// the proof key when DPoP is required), extra merged over them.
func (t *introTarget) claims(extra map[string]any) map[string]any {
	m := map[string]any{}
	if t.c.DPoP == DPoPRequired {
		m["cnf"] = map[string]any{"jkt": t.k.Thumbprint()}
	}
	for n, v := range extra {
		m[n] = v
	}
	return t.c.fullClaims(m)
}

// answer is the JSON of a valid introspection answer about a token with
// these claims (as the issuer's own would be), extra merged over them.
func (t *introTarget) answer(extra map[string]any) []byte {
	m := t.c.iss.Claims(t.claims(nil))
	m["active"] = true
	m["token_type"] = "Bearer"
	if t.c.DPoP == DPoPRequired {
		m["token_type"] = "DPoP"
	}
	merge(m, extra)
	b, _ := marshalJSON(m)
	return b
}

// request is the request presenting tok: as Bearer, or with a proof when
// DPoP is required.
func (t *introTarget) request(r Reporter, tok string) dpopRequest {
	if t.c.DPoP == DPoPRequired {
		return dpopProbe("DPoP", tok, t.c.proof(r, t.k, tok, ProofOptions{}))
	}
	return dpopProbe("Bearer", tok)
}

// scheme is the scheme of the requests.
func (t *introTarget) scheme() string {
	if t.c.DPoP == DPoPRequired {
		return "DPoP"
	}
	return "Bearer"
}

// send presents tok, waiting at most wait (0: no bound but the client's).
func (t *introTarget) send(r Reporter, tok string, wait time.Duration) (*response, dpopRequest, time.Duration, error) {
	t.pacer.wait()
	start := time.Now()
	resp, d, err := t.c.exchange(func() dpopRequest {
		d := t.request(r, tok)
		d.p.wait = wait
		return d
	})
	return resp, d, time.Since(start), err
}

// timeout is the server's bound on an introspection request.
func (c *Target) introTimeout() time.Duration {
	if c.IntrospectionTimeout > 0 {
		return c.IntrospectionTimeout
	}
	return defaultIntrospectionTimeout
}

// Fixes of the introspection classes.
const (
	fixIss     = `Require the answer's "iss" to be the issuer's identifier, byte for byte (RFC 9068 §4).`
	fixAud     = `Require the answer's "aud" to name your resource identifier (RFC 8707, RFC 9068 §4); refuse an answer without one.`
	fixActive  = `Accept a token only when the answer's "active" is the JSON boolean true (RFC 7662 §2.2).`
	fixType    = `Require the answer to say it is about an access token: token_type "Bearer" or "DPoP" (a "DPoP" one with its cnf); refuse an absent token_type, which is how oidc-provider answers about refresh tokens.`
	fixExp     = `Require the answer's "exp", a number, in the future, and "nbf" not ahead (RFC 7662 §2.2, §4).`
	fixSlow    = "Bound each introspection request in time (a few seconds), and answer 503 with Retry-After when the endpoint does not answer within it (RFC 7662 §4)."
	fixHuge    = "Bound the size of an introspection answer (64 KiB is plenty) and answer 503 when the endpoint sends more (RFC 7662 §4)."
	fixBadJSON = "Accept only a 200 answer with Content-Type application/json holding one JSON object read strictly (no duplicate members, no trailing data, no lone surrogates), never following a redirect, and answer 503 otherwise (RFC 7662 §2.2, §4)."
	fixFlood   = "Rate-limit introspection requests and remember refusals briefly (a negative cache), so that made-up tokens cannot become a flood of requests to the authorization server, and answer 503 with Retry-After when the limit is spent (RFC 7662 §4)."
)

// judgeIntro checks the answer to an introspection case that must be
// refused: want "token" (401 invalid_token on the request's scheme),
// "refused" (401 invalid_token, or 503), "unavailable" (503).
func (t *introTarget) judgeIntro(r Reporter, want string, resp *response, secrets []tokenPart, fix string) {
	r.Helper()
	if resp.status/100 == 2 {
		r.Errorf("accepted: status %d, want a refusal (%s). %s", resp.status, t.c.caseSpec(r), fix)
		return
	}
	defer t.c.checkEcho(r, resp, secrets)
	switch {
	case resp.status == http.StatusServiceUnavailable && want != "token":
		if resp.header.Get("Retry-After") == "" {
			r.Logf("503 without Retry-After: clients cannot tell when to retry (RFC 9110 §10.2.3)")
		}
		return
	case resp.status == http.StatusUnauthorized && want != "unavailable":
		ch, ok := t.c.schemeChallenge(r, resp, t.scheme())
		if ok && ch.Error != "" && ch.Error != "invalid_token" {
			r.Errorf(`challenge error=%q, want "invalid_token" (RFC 6750 §3.1). Refuse a token its introspection answer does not vouch for with error="invalid_token".`, ch.Error)
		} else if ok && ch.Error == "" {
			r.Errorf(`the 401 challenge has no error code, want "invalid_token" (RFC 6750 §3.1). Refuse a token its introspection answer does not vouch for with error="invalid_token".`)
		}
		return
	}
	switch want {
	case "token":
		r.Errorf("status %d, want 401 invalid_token (RFC 6750 §3.1). %s", resp.status, fix)
	case "refused":
		r.Errorf("status %d, want 503 (or 401 invalid_token) (RFC 7662 §4; RFC 6750 §3.1). %s", resp.status, fix)
	default:
		r.Errorf("status %d, want 503 Service Unavailable with Retry-After (RFC 9110 §15.6.4; RFC 7662 §4): the endpoint said nothing about the token, and a 401 would make the client drop a good one. %s", resp.status, fix)
	}
}

// checkIntrospection runs the introspection cases.
func (c *Target) checkIntrospection(r Reporter) {
	in, ok := c.minter.(Introspector)
	if !ok {
		r.Skipf("%s without the kit's issuer: it needs an authorization server whose introspection answers the run controls", NotCheckable)
		return
	}
	k, err := c.dpopKeysOf()
	if err != nil {
		r.Fatalf("%s: %v", c.Caller, err)
		return
	}
	rate, _ := c.floodBound(0)
	half := math.Max(1, rate/2)
	t := &introTarget{c: c, in: in, k: k.main, pacer: pacer{rate: half, burst: half, tokens: half}}
	// The kit waits for the server's bound and half as long again (a
	// second at least).
	wait := c.introTimeout() + max(time.Second, c.introTimeout()/2)

	c.run(r, "accepted", func(r Reporter) {
		tok := in.OpaqueToken(t.claims(nil))
		resp, _, _, err := t.send(r, tok, wait)
		switch {
		case err != nil:
			r.Errorf("request with an active opaque token: %v. Answer a request with a valid opaque token (RFC 7662 §2.2).", err)
		case resp.status/100 != 2:
			r.Errorf("an active opaque token for the resource was refused: status %d, WWW-Authenticate %q, body %q. Introspect opaque tokens at the issuer's introspection_endpoint (RFC 7662) and accept an active one for your resource (or correct ConformanceConfig.Introspection).",
				resp.status, redactAll(resp.header.Values("WWW-Authenticate")), truncate(resp.body))
		}
	})

	// shape: an opaque token whose answer is the valid one with extra
	// merged over it.
	shape := func(class, name, want, fix string, extra map[string]any) dcase {
		return dcase{class: class, name: name, run: func(r Reporter) {
			tok := in.OpaqueToken(t.claims(extra))
			resp, d, _, err := t.send(r, tok, wait)
			if err != nil {
				r.Errorf("%v. Answer this request with a refusal rather than failing the connection (RFC 6750 §3.1; RFC 7662 §4).", err)
				return
			}
			t.judgeIntro(r, want, resp, d.secrets, fix)
		}}
	}
	// served: an opaque token whose answer h gives; h is told to stop
	// when the case ends (a slow h must not outlive it).
	served := func(class, name, want, fix string, h func(w http.ResponseWriter, req *http.Request, stop <-chan struct{})) dcase {
		return dcase{class: class, name: name, run: func(r Reporter) {
			stop := make(chan struct{})
			in.HandleIntrospection(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { h(w, req, stop) }))
			defer func() {
				close(stop)
				in.HandleIntrospection(nil)
			}()
			tok := in.OpaqueToken(t.claims(nil))
			resp, d, took, err := t.send(r, tok, wait)
			switch {
			case err != nil && took >= wait:
				r.Errorf("no answer within %v while the introspection endpoint did not answer (RFC 7662 §4). %s", wait.Round(time.Millisecond), fix)
				return
			case err != nil:
				r.Errorf("%v (RFC 7662 §4). Answer 503 rather than failing the connection. %s", err, fix)
				return
			}
			t.judgeIntro(r, want, resp, d.secrets, fix)
		}}
	}
	raw := func(class, name, want, fix string, status int, contentType string, body func() []byte) dcase {
		return served(class, name, want, fix, func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			b := body()
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(status)
			_, _ = w.Write(b)
		})
	}
	iss := c.iss.Issuer()
	origin := originOf(c.Resource)
	cases := []dcase{
		shape("iss", "iss absent", "token", fixIss, map[string]any{"iss": nil}),
		shape("iss", "iss another issuer", "token", fixIss, map[string]any{"iss": "https://attacker.invalid"}),
		shape("iss", "iss with a trailing slash", "token", fixIss, map[string]any{"iss": iss + "/"}),
		shape("iss", "iss upper-cased", "token", fixIss, map[string]any{"iss": strings.ToUpper(iss)}),
		shape("iss", "iss a number", "token", fixIss, map[string]any{"iss": 7}),
		shape("iss", "iss the resource", "token", fixIss, map[string]any{"iss": c.Resource}),

		shape("aud", "aud absent", "token", fixAud, map[string]any{"aud": nil}),
		shape("aud", "aud another resource", "token", fixAud, map[string]any{"aud": "https://other.invalid/mcp"}),
		shape("aud", "aud an empty array", "token", fixAud, map[string]any{"aud": []string{}}),
		shape("aud", "aud the origin only", "token", fixAud, map[string]any{"aud": origin}),
		shape("aud", "aud a number", "token", fixAud, map[string]any{"aud": 42}),
		shape("aud", "aud array without the resource", "token", fixAud, map[string]any{"aud": []string{"https://a.invalid", origin + "/other"}}),
		shape("aud", "aud the issuer", "token", fixAud, map[string]any{"aud": iss}),

		shape("active", "active false", "token", fixActive, map[string]any{"active": false, "iss": nil, "aud": nil, "exp": nil, "sub": nil, "client_id": nil,
			"scope": nil, "iat": nil, "jti": nil, "token_type": nil, "cnf": nil}),
		shape("active", "active false with every other claim", "token", fixActive, map[string]any{"active": false}),
		shape("active", "active the string true", "refused", fixActive, map[string]any{"active": "true"}),
		shape("active", "active 1", "refused", fixActive, map[string]any{"active": 1}),
		shape("active", "active null", "refused", fixActive, map[string]any{"active": jsonNull{}}),
		shape("active", "active absent", "refused", fixActive, map[string]any{"active": nil}),

		shape("token_type", "token_type absent", "token", fixType, map[string]any{"token_type": nil}),
		shape("token_type", "token_type refresh_token", "token", fixType, map[string]any{"token_type": "refresh_token"}),
		shape("token_type", "token_type N_A", "token", fixType, map[string]any{"token_type": "N_A"}),
		shape("token_type", "token_type id_token", "token", fixType, map[string]any{"token_type": "id_token"}),
		shape("token_type", "token_type null", "token", fixType, map[string]any{"token_type": jsonNull{}}),
		shape("token_type", "token_type a number", "token", fixType, map[string]any{"token_type": 1}),
		shape("token_type", "token_use refresh_token", "token", fixType, map[string]any{"token_use": "refresh_token"}),
		shape("token_type", "token_type DPoP without cnf", "token", fixType, map[string]any{"token_type": "DPoP", "cnf": nil}),

		shape("exp", "exp past", "token", fixExp, map[string]any{"exp": c.iss.Now().Add(-time.Hour).Unix(), "iat": c.iss.Now().Add(-2 * time.Hour).Unix()}),
		shape("exp", "exp absent", "token", fixExp, map[string]any{"exp": nil}),
		shape("exp", "exp a string", "token", fixExp, map[string]any{"exp": fmt.Sprint(c.iss.Now().Add(time.Hour).Unix())}),
		shape("exp", "nbf ahead", "token", fixExp, map[string]any{"nbf": c.iss.Now().Add(time.Hour).Unix(), "exp": c.iss.Now().Add(2 * time.Hour).Unix()}),
	}
	if c.DPoP == DPoPRequired {
		// The request comes with a proof of the bound key: a "DPoP"
		// token_type without cnf is the Bearer one's case.
		cases[len(cases)-5] = shape("token_type", "token_type DPoP without cnf", "token", fixType, map[string]any{"cnf": nil})
	}

	// slow: the endpoint does not answer in time.
	block := func(w http.ResponseWriter, req *http.Request, stop <-chan struct{}) {
		select {
		case <-req.Context().Done():
		case <-stop:
		}
	}
	cases = append(cases,
		served("slow", "no answer", "unavailable", fixSlow, block),
		served("slow", "headers then nothing", "unavailable", fixSlow, func(w http.ResponseWriter, req *http.Request, stop <-chan struct{}) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).Flush()
			block(w, req, stop)
		}),
		served("slow", "half an answer then nothing", "unavailable", fixSlow, func(w http.ResponseWriter, req *http.Request, stop <-chan struct{}) {
			b := t.answer(nil)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(b[:len(b)/2])
			_ = http.NewResponseController(w).Flush()
			block(w, req, stop)
		}),
		served("slow", "answer once the request is given up", "unavailable", fixSlow, func(w http.ResponseWriter, req *http.Request, stop <-chan struct{}) {
			block(w, req, stop)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(t.answer(nil))
		}),
		dcase{class: "slow", name: "no answer to requests at once", run: func(r Reporter) { t.slowAtOnce(r, wait, block) }},
		dcase{class: "slow", name: "no answer for one token twice", run: func(r Reporter) { t.slowTwice(r, wait, block) }},
	)

	// huge answers.
	const huge = 4 << 20
	cases = append(cases,
		raw("huge", "4 MiB answer", "refused", fixHuge, http.StatusOK, "application/json", func() []byte {
			return t.answer(map[string]any{"rsguard_conformance_pad": strings.Repeat("p", huge)})
		}),
		served("huge", "4 MiB answer without a length", "refused", fixHuge, func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).Flush()
			_, _ = w.Write(t.answer(map[string]any{"rsguard_conformance_pad": strings.Repeat("p", huge)}))
		}),
		raw("huge", "4 MiB sub", "refused", fixHuge, http.StatusOK, "application/json", func() []byte {
			return t.answer(map[string]any{"sub": strings.Repeat("s", huge)})
		}),
		raw("huge", "aud of 200000 entries", "refused", fixHuge, http.StatusOK, "application/json", func() []byte {
			aud := make([]string, 200000)
			for i := range aud {
				aud[i] = "https://a.invalid/" + strconv.Itoa(i)
			}
			aud[len(aud)-1] = c.Resource
			return t.answer(map[string]any{"aud": aud})
		}),
		served("huge", "a length of 1 GiB announced", "refused", fixHuge, func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(t.answer(nil))
		}),
	)

	// malformed answers. The duplicates put last the value a last-wins
	// reader keeps: the one that would let the token in.
	good := func() []byte { return t.answer(nil) }
	spliced := func(members string) func() []byte {
		return func() []byte { b := good(); return append([]byte("{"+members+","), b[1:]...) }
	}
	cases = append(cases,
		raw("malformed", "not JSON", "refused", fixBadJSON, http.StatusOK, "application/json", func() []byte { return []byte("<html>active</html>") }),
		raw("malformed", "truncated JSON", "refused", fixBadJSON, http.StatusOK, "application/json", func() []byte { b := good(); return b[:len(b)-1] }),
		raw("malformed", "a JSON array", "refused", fixBadJSON, http.StatusOK, "application/json", func() []byte { return append(append([]byte("["), good()...), ']') }),
		raw("malformed", "trailing data", "refused", fixBadJSON, http.StatusOK, "application/json", func() []byte { return append(good(), []byte(` {"active":false}`)...) }),
		raw("malformed", "empty body", "refused", fixBadJSON, http.StatusOK, "application/json", func() []byte { return nil }),
		raw("malformed", "duplicate active", "refused", fixBadJSON, http.StatusOK, "application/json", spliced(`"active":false`)),
		raw("malformed", "duplicate aud", "refused", fixBadJSON, http.StatusOK, "application/json", spliced(`"aud":"https://other.invalid/mcp"`)),
		raw("malformed", "duplicate iss", "refused", fixBadJSON, http.StatusOK, "application/json", spliced(`"iss":"https://attacker.invalid"`)),
		raw("malformed", "lone surrogate in sub", "refused", fixBadJSON, http.StatusOK, "application/json", func() []byte {
			b := good()
			sub, _ := c.iss.Claims(t.claims(nil))["sub"].(string)
			old, _ := marshalJSON(sub)
			return []byte(strings.Replace(string(b), `"sub":`+string(old), `"sub":`+strings.TrimSuffix(string(old), `"`)+`\ud800"`, 1))
		}),
		raw("malformed", "content type text/html", "refused", fixBadJSON, http.StatusOK, "text/html", good),
		raw("malformed", "status 500", "refused", fixBadJSON, http.StatusInternalServerError, "application/json", good),
		raw("malformed", "status 401", "refused", fixBadJSON, http.StatusUnauthorized, "application/json", good),
		served("malformed", "redirect", "refused", fixBadJSON, func(w http.ResponseWriter, req *http.Request, _ <-chan struct{}) {
			if req.URL.Query().Has("rsguard-conformance-redirected") {
				// Where the redirect leads: the valid answer, which only a
				// server that follows it gets.
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(good())
				return
			}
			http.Redirect(w, req, req.URL.Path+"?rsguard-conformance-redirected=1", http.StatusTemporaryRedirect)
		}),
	)

	// floods, last: they spend the server's rate limit. The first waits
	// for it to be whole.
	cases = append(cases,
		dcase{class: "flood", name: "a known token during a flood", run: func(r Reporter) { t.pacer.refill(rate); t.floodKnown(r) }},
		dcase{class: "flood", name: "distinct made-up tokens", run: func(r Reporter) { t.flood(r, 1, false, 0) }},
		dcase{class: "flood", name: "distinct made-up tokens at once", run: func(r Reporter) { t.flood(r, 8, false, 0) }},
		dcase{class: "flood", name: "one made-up token again and again", run: func(r Reporter) { t.flood(r, 1, true, 0) }},
		dcase{class: "flood", name: "large made-up tokens", run: func(r Reporter) { t.flood(r, 1, false, 4<<10) }},
	)
	c.runCases(r, IntrospectionCases(), cases)
}

// jsonNull encodes as JSON null (a nil value removes a member instead).
type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// originOf is the scheme://host of a URL.
func originOf(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	if j := strings.IndexByte(s[i+3:], '/'); j >= 0 {
		return s[:i+3+j]
	}
	return s
}

// slowAtOnce: several requests at once, while the endpoint does not
// answer, each answered 503 within the bound.
func (t *introTarget) slowAtOnce(r Reporter, wait time.Duration, block func(http.ResponseWriter, *http.Request, <-chan struct{})) {
	stop := make(chan struct{})
	t.in.HandleIntrospection(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { block(w, req, stop) }))
	defer func() {
		close(stop)
		t.in.HandleIntrospection(nil)
	}()
	const n = 3
	reqs := make([]*http.Request, n)
	secrets := make([][]tokenPart, n)
	for i := range reqs {
		d := t.request(r, t.in.OpaqueToken(t.claims(nil)))
		req, err := t.c.preparedRequest(d.p)
		if err != nil {
			r.Fatalf("%v", err)
			return
		}
		reqs[i], secrets[i] = req, d.secrets
	}
	type result struct {
		resp *response
		err  error
		i    int
	}
	results := make(chan result, n)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for i, req := range reqs {
		go func() {
			resp, err := t.c.sendHost(req.WithContext(ctx), "")
			results <- result{resp, err, i}
		}()
	}
	for range n {
		res := <-results
		if res.err != nil {
			r.Errorf("no answer within %v to one of %d requests at once while the introspection endpoint did not answer (RFC 7662 §4). %s", wait.Round(time.Millisecond), n, fixSlow)
			continue
		}
		t.judgeIntro(r, "unavailable", res.resp, secrets[res.i], fixSlow)
	}
}

// slowTwice: one token, twice, while the endpoint does not answer: both
// answered 503 within the bound (a failure is not an answer to remember).
func (t *introTarget) slowTwice(r Reporter, wait time.Duration, block func(http.ResponseWriter, *http.Request, <-chan struct{})) {
	stop := make(chan struct{})
	t.in.HandleIntrospection(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { block(w, req, stop) }))
	defer func() {
		close(stop)
		t.in.HandleIntrospection(nil)
	}()
	tok := t.in.OpaqueToken(t.claims(nil))
	for i := range 2 {
		resp, d, took, err := t.send(r, tok, wait)
		if err != nil {
			r.Errorf("request %d: no answer within %v (%v) while the introspection endpoint did not answer (RFC 7662 §4). %s", i+1, took.Round(time.Millisecond), err, fixSlow)
			return
		}
		t.judgeIntro(r, "unavailable", resp, d.secrets, fixSlow)
	}
}

// floodBound is the most introspection requests a server limited to rate
// a second (burst max(1, rate)) makes in elapsed, plus slack.
func (c *Target) floodBound(elapsed time.Duration) (rate float64, bound int) {
	rate = c.IntrospectionRateLimit
	if rate <= 0 {
		rate = defaultIntrospectionRate
	}
	return rate, int(math.Ceil(math.Max(1, rate)+rate*elapsed.Seconds())) + 2
}

// flood sends made-up opaque tokens, from workers goroutines (the requests
// built first), distinct unless same, of size bytes (0: short): each gets
// 401 or 503, never 2xx, and the issuer sees no more introspection
// requests than the server's rate limit allows.
func (t *introTarget) flood(r Reporter, workers int, same bool, size int) {
	c := t.c
	rate, _ := c.floodBound(0)
	n := int(2*math.Max(1, rate)) + 20
	pad := ""
	if size > 0 {
		pad = strings.Repeat("x", size)
	}
	one := "vt-rsguard-flood-" + randomHex(16)
	reqs := make([]*http.Request, n)
	secrets := make([][]tokenPart, n)
	for i := range reqs {
		tok := one
		if !same {
			tok = "vt-rsguard-flood-" + randomHex(16) + pad
		}
		d := t.request(r, tok)
		req, err := c.preparedRequest(d.p)
		if err != nil {
			r.Fatalf("%v", err)
			return
		}
		reqs[i], secrets[i] = req, d.secrets
	}
	before := t.in.IntrospectionRequests()
	start := time.Now()
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				resp, err := c.sendHost(reqs[i], "")
				if err != nil {
					errs[i] = err
					continue
				}
				statuses[i] = resp.status
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	calls := t.in.IntrospectionRequests() - before
	_, bound := c.floodBound(elapsed)
	bad := map[int]int{}
	for i, s := range statuses {
		if errs[i] != nil {
			r.Errorf("made-up token %d of %d: %v. Answer every request, 401 or 503, during a flood (RFC 7662 §4).", i+1, n, errs[i])
			return
		}
		if s != http.StatusUnauthorized && s != http.StatusServiceUnavailable {
			bad[s]++
		}
	}
	for s, count := range bad {
		if s/100 == 2 {
			r.Errorf("%d of %d made-up opaque tokens accepted: status %d. Accept only tokens the introspection answer vouches for (RFC 7662 §2.2).", count, n, s)
		} else {
			r.Errorf("%d of %d made-up opaque tokens got status %d, want 401 invalid_token or 503 (RFC 6750 §3.1; RFC 7662 §4). %s", count, n, s, fixFlood)
		}
	}
	if calls > bound {
		r.Errorf("%d made-up opaque tokens in %v made %d introspection requests, more than a rate limit of %g a second allows (%d) (RFC 7662 §4). %s",
			n, elapsed.Round(time.Millisecond), calls, rate, bound, fixFlood)
	}
	if same && calls > 1 {
		r.Logf("one made-up token sent %d times made %d introspection requests: a negative cache would make it one", n, calls)
	}
}

// floodKnown: a token accepted before a flood is still accepted during it
// (its answer is cached: the flood must not lock users out).
func (t *introTarget) floodKnown(r Reporter) {
	tok := t.in.OpaqueToken(t.claims(nil))
	resp, _, _, err := t.send(r, tok, 0)
	if err != nil || resp.status/100 != 2 {
		status := 0
		if resp != nil {
			status = resp.status
		}
		r.Errorf("an active opaque token was refused before the flood (status %d, %v). Accept an active opaque token for your resource (RFC 7662 §2.2).", status, err)
		return
	}
	t.flood(r, 4, false, 0)
	if r.Failed() {
		return
	}
	resp, _, _, err = t.send(r, tok, 0)
	switch {
	case err != nil:
		r.Errorf("the token accepted before the flood: %v. Answer it from your cache during a flood (RFC 7662 §4).", err)
	case resp.status/100 != 2:
		r.Errorf("the token accepted before the flood was refused during it: status %d. Cache verified introspection answers (until min(exp, a ceiling)), so that a flood of made-up tokens spending the rate limit does not lock out users whose tokens are known (RFC 7662 §4).", resp.status)
	}
}

// preparedRequest builds p's request as sendProbe would send it, for
// requests sent at once (building uses the run's state, sending does not).
func (c *Target) preparedRequest(p probe) (*http.Request, error) {
	if c.MCP {
		c.session, c.protocol = "", ""
	}
	req, err := c.request(p)
	if err != nil {
		return nil, err
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	if p.host != "" {
		req.Host = p.host
	}
	return req, nil
}
