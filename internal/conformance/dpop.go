package conformance

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rsguard/rsguard/rsmeta"
)

// The dpop check (RFC 9449, the resource server's side): proofs a server
// must refuse, where the proof and the token travel, replays, the "iat"
// window, "htm", "htu" and "ath", and bound tokens presented without their
// proof. See DPoPCases.

// dpopKeys are the DPoP client's keys: main signs the good proofs, the
// others the confused ones.
type dpopKeys struct {
	main, other, p384, rsa *DPoPKey
	weak                   *rsa.PrivateKey // 1024 bits
}

func (c *Target) dpopKeysOf() (*dpopKeys, error) {
	if c.dpopKeys != nil {
		return c.dpopKeys, nil
	}
	var k dpopKeys
	var err error
	if k.main, err = NewDPoPKey("ES256"); err != nil {
		return nil, err
	}
	if k.other, err = NewDPoPKey("ES256"); err != nil {
		return nil, err
	}
	if k.p384, err = NewDPoPKey("ES384"); err != nil {
		return nil, err
	}
	if k.rsa, k.weak, err = rsaDPoPKeys(); err != nil {
		return nil, err
	}
	c.dpopKeys = &k
	return &k, nil
}

// The RSA keys of the confused proofs, made once per process: they are
// slow to generate, and no case depends on their being fresh.
var (
	rsaKeysOnce sync.Once
	rsaKey      *DPoPKey
	rsaWeak     *rsa.PrivateKey
	rsaKeysErr  error
)

func rsaDPoPKeys() (*DPoPKey, *rsa.PrivateKey, error) {
	rsaKeysOnce.Do(func() {
		if rsaKey, rsaKeysErr = NewDPoPKey("RS256"); rsaKeysErr == nil {
			rsaWeak, rsaKeysErr = rsa.GenerateKey(rand.Reader, 1024)
		}
	})
	return rsaKey, rsaWeak, rsaKeysErr
}

// dcase is one DPoP or introspection case as a run builds it.
type dcase struct {
	class, name string
	// notFor, if non-empty, says why the case does not apply to the target.
	notFor string
	run    func(r Reporter)
}

// runCases runs cases, by class, each skipped as DoesNotApply when it does
// not apply, or as NotCheckable when it needs more than the run has. table
// is where their Needs come from.
func (c *Target) runCases(r Reporter, table []AttackCase, cases []dcase) {
	var classes []string
	for _, dc := range cases {
		if !slices.Contains(classes, dc.class) {
			classes = append(classes, dc.class)
		}
	}
	for _, class := range classes {
		c.run(r, class, func(r Reporter) {
			for _, dc := range cases {
				if dc.class != class {
					continue
				}
				ac, ok := caseIn(table, dc.class, dc.name)
				if !ok {
					r.Fatalf("%s: case %s/%s is not in its table", c.Caller, dc.class, dc.name)
					return
				}
				if dc.notFor != "" {
					c.runNeeding(r, dc.name, NeedsNothing, "", func(r Reporter) { r.Skipf("%s: %s", DoesNotApply, dc.notFor) })
					continue
				}
				c.runNeeding(r, dc.name, ac.Needs, ac.Why, dc.run)
			}
		})
	}
}

// requestMethod is the method of the request a valid token gets through:
// the proofs' "htm".
func (c *Target) requestMethod() string {
	if c.MCP {
		return http.MethodPost
	}
	req, err := c.request(probe{})
	if err != nil {
		return http.MethodGet
	}
	return req.Method
}

// htu is the "htu" of the proofs: the resource identifier without query and
// fragment (RFC 9449 §4.2).
func (c *Target) htu() string {
	u, err := url.Parse(c.Resource)
	if err != nil {
		return c.Resource
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	return u.String()
}

// proof makes a proof by k for a request with tok, as o changes it.
func (c *Target) proof(r Reporter, k *DPoPKey, tok string, o ProofOptions) string {
	r.Helper()
	if o.Method == "" {
		o.Method = c.requestMethod()
	}
	if o.URL == "" {
		o.URL = c.htu()
	}
	if o.Token == "" {
		o.Token = tok
	}
	if o.IssuedAt.IsZero() {
		o.IssuedAt = c.iss.Now()
	}
	if o.Nonce == "" {
		o.Nonce = c.nonce
	}
	p, err := k.Proof(o)
	if err != nil {
		r.Fatalf("%s: make a DPoP proof: %v", c.Caller, err)
	}
	return p
}

// boundToken mints a token for the resource bound to k (an opaque one when
// opaque), with extra claims.
func (c *Target) boundToken(k *DPoPKey, opaque bool, extra map[string]any) string {
	claims := map[string]any{"cnf": map[string]any{"jkt": k.Thumbprint()}}
	for n, v := range extra {
		claims[n] = v
	}
	if opaque {
		if in, ok := c.minter.(Introspector); ok {
			return in.OpaqueToken(c.fullClaims(claims))
		}
		return ""
	}
	return c.token(c.allScopes(), claims)
}

// fullClaims are the claims of the kit's valid token (resource, scopes,
// Target.Claims) with extra merged over them.
func (c *Target) fullClaims(extra map[string]any) map[string]any {
	m := map[string]any{"aud": c.Resource}
	if s := c.allScopes(); s != nil {
		m["scope"] = strings.Join(s, " ")
	}
	for k, v := range c.Claims {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// dpopRequest is what a DPoP case sends: the probe (Authorization and the
// proofs in headers) and what must not be echoed.
type dpopRequest struct {
	p       probe
	secrets []tokenPart
}

// dpopProbe is a request with `Authorization: <scheme> tok` and the proofs
// as DPoP header fields.
func dpopProbe(scheme, tok string, proofs ...string) dpopRequest {
	d := dpopRequest{p: probe{authorization: []string{scheme + " " + tok}}, secrets: tokenParts(tok)}
	for _, pr := range proofs {
		d.p.headers = append(d.p.headers, [2]string{"DPoP", pr})
		d.secrets = append(d.secrets, proofParts(pr)...)
	}
	return d
}

// proofParts are the parts of a proof that must never be echoed.
func proofParts(p string) []tokenPart {
	var out []tokenPart
	for _, tp := range tokenParts(strings.TrimSpace(p)) {
		tp.name = strings.Replace(tp.name, "token", "DPoP proof", 1)
		out = append(out, tp)
	}
	return out
}

// exchange sends the request build makes, and once more with a new one if
// the server asks for a nonce (RFC 9449 §9: 401 use_dpop_nonce with a
// DPoP-Nonce header); the nonce is kept for the next proofs. It returns the
// answer and the request that got it.
func (c *Target) exchange(build func() dpopRequest) (*response, dpopRequest, error) {
	for try := 0; ; try++ {
		d := build()
		resp, err := c.sendProbe(d.p)
		if err != nil {
			return nil, d, err
		}
		if !c.learnNonce(resp) || try > 0 {
			return resp, d, nil
		}
	}
}

// challenges parses every challenge of a response; nil if one does not
// parse.
func challenges(resp *response) []rsmeta.Challenge {
	var out []rsmeta.Challenge
	for _, l := range resp.header.Values("WWW-Authenticate") {
		cs, err := rsmeta.ParseChallenges(l)
		if err != nil {
			return nil
		}
		out = append(out, cs...)
	}
	return out
}

// ofScheme returns the challenges of a scheme.
func ofScheme(cs []rsmeta.Challenge, scheme string) []rsmeta.Challenge {
	var out []rsmeta.Challenge
	for _, ch := range cs {
		if strings.EqualFold(ch.Scheme, scheme) {
			out = append(out, ch)
		}
	}
	return out
}

// errorOf returns the error code of the response's challenge of scheme.
func errorOf(resp *response, scheme string) string {
	for _, ch := range ofScheme(challenges(resp), scheme) {
		return ch.Error
	}
	return ""
}

// schemeChallenge returns the single challenge of scheme of a refusal,
// checked for resource_metadata (bearerChallenge for Bearer).
func (c *Target) schemeChallenge(r Reporter, resp *response, scheme string) (rsmeta.Challenge, bool) {
	r.Helper()
	if strings.EqualFold(scheme, "Bearer") {
		return c.bearerChallenge(r, resp)
	}
	lines := resp.header.Values("WWW-Authenticate")
	if len(lines) == 0 {
		r.Errorf("status %d without WWW-Authenticate (RFC 9449 §7.1, RFC 9728 §5.1). Send a %s challenge with resource_metadata with every 401.", resp.status, scheme)
		return rsmeta.Challenge{}, false
	}
	for _, l := range lines {
		if _, err := rsmeta.ParseChallenges(l); err != nil {
			r.Errorf("WWW-Authenticate %q does not parse: %v. Format the challenge as RFC 9110 §11.6.1 says, auth-param values as tokens or quoted-strings.", Redact(l), err)
			return rsmeta.Challenge{}, false
		}
	}
	cs := ofScheme(challenges(resp), scheme)
	if len(cs) != 1 {
		r.Errorf("WWW-Authenticate %q: %d %s challenges, want 1 (RFC 9449 §7.1). Answer a request made with the %s scheme with exactly one %s challenge carrying the error.", redactAll(lines), len(cs), scheme, scheme, scheme)
		return rsmeta.Challenge{}, false
	}
	ch := cs[0]
	c.checkResourceMetadata(r, scheme, ch.ResourceMetadata)
	return ch, true
}

// judgeDPoP checks the answer to a DPoP case that must be refused: want is
// "proof" (401 with the DPoP challenge error="invalid_dpop_proof"; also
// the codes in more), "binding" (401, DPoP challenge invalid_token or
// invalid_dpop_proof), "bearer" (a Bearer request refused: invalid_token on
// the Bearer challenge, or, DPoP required, the DPoP challenge alone),
// "off" (a DPoP request to a server with DPoP off: 401 or 400 with the
// Bearer challenge), "request" (400 or 401 with a challenge) or "size" (any
// 4xx).
func (c *Target) judgeDPoP(r Reporter, want string, more []string, resp *response, secrets []tokenPart, fix string) {
	r.Helper()
	if resp.status/100 == 2 {
		r.Errorf("accepted: status %d, want a refusal (%s). %s", resp.status, c.caseSpec(r), fix)
		return
	}
	defer c.checkEcho(r, resp, secrets)
	switch want {
	case "size":
		if resp.status >= 500 {
			r.Errorf("status %d for an oversized DPoP proof (RFC 6585 §5; RFC 9110 §15.5). Refuse an oversized DPoP header with 4xx (431, 400 or 401), never a server error.", resp.status)
		}
	case "proof", "binding":
		if resp.status != http.StatusUnauthorized && !(resp.status == http.StatusBadRequest && slices.Contains(more, "invalid_request")) {
			r.Errorf("status %d, want 401 with a DPoP challenge (RFC 9449 §7.1). %s", resp.status, fix)
			return
		}
		ch, ok := c.schemeChallenge(r, resp, "DPoP")
		if !ok {
			return
		}
		codes := append([]string{"invalid_dpop_proof"}, more...)
		if want == "binding" {
			codes = []string{rsmeta.ErrorInvalidToken, "invalid_dpop_proof"}
		}
		if !slices.Contains(codes, ch.Error) {
			r.Errorf(`DPoP challenge error=%q, want %q (RFC 9449 §7.1). Send the DPoP challenge error="%s" when %s.`, ch.Error, strings.Join(codes, `" or "`), codes[0], map[bool]string{true: "the token is not bound to the proof's key", false: "the DPoP proof is refused"}[want == "binding"])
		}
	case "bearer":
		if resp.status != http.StatusUnauthorized {
			r.Errorf("status %d, want 401 (RFC 9449 §7.1, RFC 6750 §3.1). %s", resp.status, fix)
			return
		}
		if c.DPoP == DPoPRequired {
			cs := challenges(resp)
			if n := len(ofScheme(cs, "Bearer")); n > 0 {
				r.Errorf("the 401 names a Bearer challenge, yet only DPoP is accepted (RFC 9449 §7.2). Answer with the DPoP challenge only when you require DPoP (or correct ConformanceConfig.DPoP).")
			}
			if ch, ok := c.schemeChallenge(r, resp, "DPoP"); ok && ch.Error != "" && ch.Error != rsmeta.ErrorInvalidToken && ch.Error != rsmeta.ErrorInvalidRequest {
				r.Errorf(`DPoP challenge error=%q, want none or "invalid_token" (RFC 6750 §3.1). Answer a bearer token where only DPoP is accepted with the DPoP challenge, without an error code or with invalid_token.`, ch.Error)
			}
			return
		}
		if ch, ok := c.bearerChallenge(r, resp); ok && ch.Error != rsmeta.ErrorInvalidToken {
			r.Errorf(`Bearer challenge error=%q, want "invalid_token" (RFC 6750 §3.1, RFC 9449 §7.1). Refuse a bound token presented as Bearer with error="invalid_token" on the Bearer challenge.`, ch.Error)
		}
	case "off":
		if resp.status != http.StatusUnauthorized && resp.status != http.StatusBadRequest {
			r.Errorf("status %d, want 401 (or 400) with a Bearer challenge (RFC 6750 §3.1). %s", resp.status, fix)
			return
		}
		if len(ofScheme(challenges(resp), "DPoP")) > 0 {
			r.Errorf("the refusal names a DPoP challenge, which tells clients DPoP is accepted (RFC 9449 §7.1), yet ConformanceConfig.DPoP is off. Set ConformanceConfig.DPoP to the server's DPoP mode, or stop advertising DPoP.")
			return
		}
		c.bearerChallenge(r, resp)
	case "request":
		if resp.status != http.StatusBadRequest && resp.status != http.StatusUnauthorized {
			r.Errorf("status %d, want 400 invalid_request (or 401) (RFC 6750 §3.1, RFC 9449 §7.1). %s", resp.status, fix)
			return
		}
		scheme := "DPoP"
		if len(ofScheme(challenges(resp), "DPoP")) == 0 {
			scheme = "Bearer"
		}
		if ch, ok := c.schemeChallenge(r, resp, scheme); ok && ch.Error != "" &&
			!slices.Contains([]string{rsmeta.ErrorInvalidRequest, rsmeta.ErrorInvalidToken, "invalid_dpop_proof"}, ch.Error) {
			r.Errorf(`challenge error=%q, want "invalid_request" (RFC 6750 §3.1). Answer a request whose credentials are malformed or repeated with 400 error="invalid_request" (or 401).`, ch.Error)
		}
	}
}

// Fixes of the DPoP classes: the sentence that ends the message of an
// accepted case.
const (
	fixProof    = "Check the DPoP proof as RFC 9449 §4.3 says: one compact JWS, typ dpop+jwt, an asymmetric alg on your list, a public jwk fit for that alg that verifies the signature, no other source of keys, no crit, claims read strictly."
	fixHeaders  = "Take the token from one Authorization: DPoP header only and the proof from one DPoP header field holding one proof (RFC 9449 §4.3 step 1, §7.1), and refuse anything else."
	fixReplay   = "Remember each proof's jti, with its key, for as long as its iat is accepted, and refuse the proof a second time, whatever else differs in the request (RFC 9449 §11.1)."
	fixClock    = "Accept a proof only when its iat, a JSON number, is within a short window around your clock (RFC 9449 §4.3 step 11)."
	fixHTM      = "Require htm to equal the request's method exactly (RFC 9449 §4.3 step 8)."
	fixHTU      = "Require htu to equal the configured origin of your resource and the request's path, normalised, never built from Host or X-Forwarded-* (RFC 9449 §4.3 step 9)."
	fixATH      = "Require ath to be the base64url SHA-256, unpadded, of the access token presented with the proof (RFC 9449 §4.3 step 12, §7.1)."
	fixBinding  = "Accept a token under DPoP only when its cnf jkt is the RFC 7638 thumbprint of the proof's key (RFC 9449 §7.1)."
	fixDowngrad = "Refuse a token bound to a key (cnf) presented as Bearer, whatever else comes with it, cached or not (RFC 9449 §7.1)."
)

// checkDPoP runs the DPoP cases that apply to the target.
func (c *Target) checkDPoP(r Reporter) {
	k, err := c.dpopKeysOf()
	if err != nil {
		r.Fatalf("%s: %v", c.Caller, err)
		return
	}
	on := c.DPoP == DPoPAllowed || c.DPoP == DPoPRequired
	offReason := "DPoP is off"
	onOnly := func(dc dcase) dcase {
		if !on {
			dc.notFor = offReason
		}
		return dc
	}
	// accepted: the control — a bound token with a valid proof gets
	// through, so that a refusal below is the case's.
	if on {
		c.runNeeding(r, "accepted", NeedsIssuerKey, whyBound, func(r Reporter) { c.dpopAccepted(r, k.main, c.boundToken(k.main, false, nil)) })
	} else {
		c.run(r, "accepted", func(r Reporter) { r.Skipf("%s: %s", DoesNotApply, offReason) })
	}

	// refuse sends one request made by build and judges the answer.
	refuse := func(want string, more []string, fix string, build func(r Reporter) dpopRequest) func(Reporter) {
		return func(r Reporter) {
			resp, d, err := c.exchange(func() dpopRequest { return build(r) })
			if err != nil {
				r.Errorf("%v. Answer this request with a refusal (4xx, with a challenge: RFC 9449 §7.1) rather than failing the connection.", err)
				return
			}
			c.judgeDPoP(r, want, more, resp, d.secrets, fix)
		}
	}
	// withProof is a DPoP request with a bound token and one proof by k,
	// made as o says (o.Token "" : the token's own ath).
	withProof := func(o ProofOptions) func(Reporter) dpopRequest {
		return func(r Reporter) dpopRequest {
			tok := c.boundToken(k.main, false, nil)
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, o))
		}
	}
	proofCase := func(name string, o ProofOptions) dcase {
		return onOnly(dcase{class: "proof", name: name, run: refuse("proof", nil, fixProof, withProof(o))})
	}
	weakJWK, _ := PublicJWK(k.weak.Public())
	offCurve := k.main.JWK()
	offCurve["y"] = offCurve["x"]
	private := k.main.JWK()
	private["d"] = rawURL64(sha256Of("rsguard-conformance-not-the-key"))
	jwkJSON, _ := marshalJSON(k.main.JWK())
	cases := []dcase{
		proofCase("alg none", ProofOptions{Alg: "none"}),
		proofCase("HS256 keyed with the jwk", ProofOptions{Alg: "HS256", Secret: jwkJSON}),
		proofCase("signed by another key than its jwk", ProofOptions{Signer: k.other.Signer()}),
		proofCase("jwk with a private member", ProofOptions{Header: map[string]any{"jwk": private}}),
		proofCase("jwk of another key type than alg", ProofOptions{Header: map[string]any{"jwk": k.rsa.JWK()}}),
		proofCase("jwk on another curve than alg", ProofOptions{Alg: "ES384", Signer: k.p384.Signer(), Header: map[string]any{"alg": "ES256", "jwk": k.p384.JWK()}}),
		proofCase("jwk point off its curve", ProofOptions{Header: map[string]any{"jwk": offCurve}}),
		proofCase("no jwk", ProofOptions{Header: map[string]any{"jwk": nil}}),
		proofCase("key named by kid only", ProofOptions{Header: map[string]any{"jwk": nil, "kid": k.main.Thumbprint()}}),
		proofCase("key from a jku header", ProofOptions{Header: map[string]any{"jwk": nil, "jku": "https://attacker.invalid/jwks"}}),
		proofCase("key from an x5c header", ProofOptions{Header: map[string]any{"jwk": nil, "x5c": []string{"MIIBkTCB-rsguard-conformance"}}}),
		onOnly(dcase{class: "proof", name: "RSA jwk of 1024 bits", run: refuse("proof", nil, fixProof, func(r Reporter) dpopRequest {
			// A token bound to the weak key, so that only the key's size
			// stands between the proof and acceptance.
			weakKey := &DPoPKey{alg: "RS256", method: nil, signer: k.weak, jwk: weakJWK, jkt: Thumbprint(weakJWK)}
			tok := c.boundToken(weakKey, false, nil)
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{Alg: "RS256", Signer: k.weak, Header: map[string]any{"jwk": weakJWK}}))
		})}),
		proofCase("typ JWT", ProofOptions{Header: map[string]any{"typ": "JWT"}}),
		proofCase("typ absent", ProofOptions{Header: map[string]any{"typ": nil}}),
		proofCase("typ at+jwt", ProofOptions{Header: map[string]any{"typ": "at+jwt"}}),
		proofCase("crit header", ProofOptions{Header: map[string]any{"crit": []string{"rsguard-conformance"}, "rsguard-conformance": true}}),
		onOnly(dcase{class: "proof", name: "the access token as the proof", run: refuse("proof", nil, fixProof, func(Reporter) dpopRequest {
			tok := c.boundToken(k.main, false, nil)
			return dpopProbe("DPoP", tok, tok)
		})}),
		onOnly(dcase{class: "proof", name: "duplicate htm", run: refuse("proof", nil, fixProof, func(r Reporter) dpopRequest {
			tok := c.boundToken(k.main, false, nil)
			method := c.requestMethod()
			payload := fmt.Sprintf(`{"htm":%q,"htm":%q,"htu":%q,"iat":%d,"jti":%q,"ath":%q`, otherMethod(method), method, c.htu(), c.iss.Now().Unix(), randomHex(16), rawURL64(sha256Of(tok)))
			if c.nonce != "" {
				payload += fmt.Sprintf(`,"nonce":%q`, c.nonce)
			}
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{Payload: []byte(payload + "}")}))
		})}),
		onOnly(dcase{class: "proof", name: "oversized proof", run: refuse("size", nil, "Bound the size of the DPoP header and refuse a larger one with 4xx.",
			withProof(ProofOptions{Claims: map[string]any{"pad": strings.Repeat("p", 24<<10)}}))}),
	}

	// headers: where the token and the proof travel.
	headerCase := func(name, want string, build func(r Reporter, tok, proof string) dpopRequest) dcase {
		more := []string{"invalid_request"}
		return onOnly(dcase{class: "headers", name: name, run: refuse(want, more, fixHeaders, func(r Reporter) dpopRequest {
			tok := c.boundToken(k.main, false, nil)
			return build(r, tok, c.proof(r, k.main, tok, ProofOptions{}))
		})})
	}
	cases = append(cases,
		headerCase("no DPoP header", "proof", func(_ Reporter, tok, _ string) dpopRequest { return dpopProbe("DPoP", tok) }),
		headerCase("two DPoP header fields", "proof", func(r Reporter, tok, pr string) dpopRequest {
			return dpopProbe("DPoP", tok, pr, c.proof(r, k.main, tok, ProofOptions{}))
		}),
		headerCase("two proofs in one DPoP field", "proof", func(r Reporter, tok, pr string) dpopRequest {
			return dpopProbe("DPoP", tok, pr+", "+c.proof(r, k.main, tok, ProofOptions{}))
		}),
		headerCase("proof in another header", "proof", func(_ Reporter, tok, pr string) dpopRequest {
			d := dpopProbe("DPoP", tok)
			d.p.headers = append(d.p.headers, [2]string{"DPoP-Proof", pr})
			d.secrets = append(d.secrets, proofParts(pr)...)
			return d
		}),
		headerCase("Bearer and DPoP Authorization headers", "request", func(_ Reporter, tok, pr string) dpopRequest {
			d := dpopProbe("DPoP", tok, pr)
			d.p.authorization = append(d.p.authorization, "Bearer "+tok)
			return d
		}),
		headerCase("two tokens in one DPoP Authorization header", "request", func(_ Reporter, tok, pr string) dpopRequest {
			d := dpopProbe("DPoP", tok, pr)
			d.p.authorization = []string{"DPoP " + tok + ", DPoP " + tok}
			return d
		}),
		headerCase("token in the query string with a proof", "request", func(_ Reporter, tok, pr string) dpopRequest {
			d := dpopProbe("DPoP", tok, pr)
			d.p.query = "access_token=" + url.QueryEscape(tok)
			return d
		}),
	)

	// replay: a proof accepted once is refused after.
	replayCase := func(name string, again func(r Reporter, first dpopRequest, tok string) dpopRequest) dcase {
		return onOnly(dcase{class: "replay", name: name, run: func(r Reporter) {
			tok := c.boundToken(k.main, false, nil)
			var first dpopRequest
			if !c.dpopAcceptedWith(r, func() dpopRequest {
				first = dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{}))
				return first
			}) {
				return
			}
			second := again(r, first, tok)
			resp, err := c.sendProbe(second.p)
			if err != nil {
				r.Errorf("%v. Answer a replayed proof with a refusal (4xx, RFC 9449 §11.1) rather than failing the connection.", err)
				return
			}
			c.judgeDPoP(r, "proof", nil, resp, second.secrets, fixReplay)
		}})
	}
	firstProof := func(d dpopRequest) string { return d.p.headers[0][1] }
	cases = append(cases,
		replayCase("same proof twice", func(_ Reporter, first dpopRequest, _ string) dpopRequest { return first }),
		onOnly(dcase{class: "replay", name: "same proof twice at once", run: func(r Reporter) { c.dpopConcurrentReplay(r, k.main) }}),
		replayCase("same jti in a new proof", func(r Reporter, first dpopRequest, tok string) dpopRequest {
			jti := proofClaim(firstProof(first), "jti")
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{ID: jti, IssuedAt: c.iss.Now().Add(-time.Second)}))
		}),
		replayCase("same jti with another token of the key", func(r Reporter, first dpopRequest, _ string) dpopRequest {
			tok2 := c.boundToken(k.main, false, nil)
			return dpopProbe("DPoP", tok2, c.proof(r, k.main, tok2, ProofOptions{ID: proofClaim(firstProof(first), "jti")}))
		}),
		replayCase("same proof with a query string added", func(_ Reporter, first dpopRequest, _ string) dpopRequest {
			first.p.query = "rsguard-conformance=1"
			return first
		}),
		replayCase("same proof with white space around it", func(_ Reporter, first dpopRequest, _ string) dpopRequest {
			first.p.headers = [][2]string{{"DPoP", " " + firstProof(first) + " "}}
			return first
		}),
		replayCase("same proof under the lower-case scheme", func(_ Reporter, first dpopRequest, tok string) dpopRequest {
			first.p.authorization = []string{"dpop " + tok}
			return first
		}),
	)

	// clock: "iat" outside any sane window.
	now := c.iss.Now()
	clockCase := func(name string, o ProofOptions) dcase {
		return onOnly(dcase{class: "clock", name: name, run: refuse("proof", nil, fixClock, withProof(o))})
	}
	cases = append(cases,
		clockCase("iat an hour ago", ProofOptions{IssuedAt: now.Add(-time.Hour)}),
		clockCase("iat a day ago", ProofOptions{IssuedAt: now.Add(-24 * time.Hour)}),
		clockCase("iat ten minutes ahead", ProofOptions{IssuedAt: now.Add(10 * time.Minute)}),
		clockCase("iat an hour ahead", ProofOptions{IssuedAt: now.Add(time.Hour)}),
		clockCase("iat in the year 3000", ProofOptions{Claims: map[string]any{"iat": int64(32503680000)}}),
		clockCase("iat zero", ProofOptions{Claims: map[string]any{"iat": 0}}),
		clockCase("iat absent", ProofOptions{Claims: map[string]any{"iat": nil}}),
		clockCase("iat a string", ProofOptions{Claims: map[string]any{"iat": fmt.Sprint(now.Unix())}}),
	)

	// mismatch: htm, htu, ath.
	method := c.requestMethod()
	u, _ := url.Parse(c.htu())
	with := func(f func(u *url.URL)) string {
		cp := *u
		f(&cp)
		return cp.String()
	}
	mismatch := func(name, fix string, o ProofOptions) dcase {
		return onOnly(dcase{class: "mismatch", name: name, run: refuse("proof", nil, fix, withProof(o))})
	}
	otherScheme := "http"
	if u.Scheme == "http" {
		otherScheme = "https"
	}
	slashed := with(func(u *url.URL) { u.Path += "/" })
	if strings.HasSuffix(u.Path, "/") {
		slashed = with(func(u *url.URL) { u.Path = strings.TrimSuffix(u.Path, "/") })
	}
	tokenHash := func(tok string) string { s := sha256.Sum256([]byte(tok)); return hex.EncodeToString(s[:]) }
	cases = append(cases,
		mismatch("htm another method", fixHTM, ProofOptions{Method: otherMethod(method)}),
		mismatch("htm in lower case", fixHTM, ProofOptions{Method: strings.ToLower(method)}),
		mismatch("htm absent", fixHTM, ProofOptions{Claims: map[string]any{"htm": nil}}),
		mismatch("htu another path", fixHTU, ProofOptions{URL: with(func(u *url.URL) { u.Path = "/rsguard-conformance-other" })}),
		mismatch("htu another host", fixHTU, ProofOptions{URL: with(func(u *url.URL) { u.Host = "attacker.invalid" })}),
		mismatch("htu another scheme", fixHTU, ProofOptions{URL: with(func(u *url.URL) { u.Scheme = otherScheme })}),
		mismatch("htu another port", fixHTU, ProofOptions{URL: with(func(u *url.URL) { u.Host = u.Hostname() + ":8444" })}),
		mismatch("htu with a trailing slash", fixHTU, ProofOptions{URL: slashed}),
		mismatch("htu absent", fixHTU, ProofOptions{Claims: map[string]any{"htu": nil}}),
		onOnly(dcase{class: "mismatch", name: "htu from a spoofed Host header", run: refuse("proof", nil, fixHTU, func(r Reporter) dpopRequest {
			d := withProof(ProofOptions{URL: with(func(u *url.URL) { u.Host = "attacker.invalid" })})(r)
			d.p.host = "attacker.invalid"
			return d
		})}),
		onOnly(dcase{class: "mismatch", name: "htu from spoofed X-Forwarded headers", run: refuse("proof", nil, fixHTU, func(r Reporter) dpopRequest {
			d := withProof(ProofOptions{URL: with(func(u *url.URL) { u.Host, u.Scheme = "attacker.invalid", otherScheme })})(r)
			d.p.headers = append(d.p.headers, [2]string{"X-Forwarded-Host", "attacker.invalid"}, [2]string{"X-Forwarded-Proto", otherScheme},
				[2]string{"Forwarded", "host=attacker.invalid;proto=" + otherScheme})
			return d
		})}),
		mismatch("ath of another token", fixATH, ProofOptions{Token: "rsguard-conformance-another-token"}),
		mismatch("ath absent", fixATH, ProofOptions{Claims: map[string]any{"ath": nil}}),
		onOnly(dcase{class: "mismatch", name: "ath padded", run: refuse("proof", nil, fixATH, func(r Reporter) dpopRequest {
			tok := c.boundToken(k.main, false, nil)
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{Claims: map[string]any{"ath": rawURL64(sha256Of(tok)) + "="}}))
		})}),
		onOnly(dcase{class: "mismatch", name: "ath in hex", run: refuse("proof", nil, fixATH, func(r Reporter) dpopRequest {
			tok := c.boundToken(k.main, false, nil)
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{Claims: map[string]any{"ath": tokenHash(tok)}}))
		})}),
	)

	// downgrade: bound tokens without their proof, and the schemes.
	bearerBound := func(r Reporter) dpopRequest {
		return dpopProbe("Bearer", c.boundToken(k.main, false, nil))
	}
	var onlyOff, onlyRequired, noIntro string
	if on {
		onlyOff = "DPoP is on"
	}
	if c.DPoP != DPoPRequired {
		onlyRequired = "DPoP is not required"
	}
	if !c.Introspection {
		noIntro = "the server does not introspect opaque tokens"
	}
	cases = append(cases,
		dcase{class: "downgrade", name: "challenges name the accepted schemes", run: c.checkDPoPChallenges},
		dcase{class: "downgrade", name: "bound token as Bearer", run: refuse("bearer", nil, fixDowngrad, bearerBound)},
		dcase{class: "downgrade", name: "bound token as Bearer with its proof", run: refuse("bearer", nil, fixDowngrad, func(r Reporter) dpopRequest {
			tok := c.boundToken(k.main, false, nil)
			return dpopProbe("Bearer", tok, c.proof(r, k.main, tok, ProofOptions{}))
		})},
		onOnly(dcase{class: "downgrade", name: "bound token as Bearer once accepted with DPoP", run: func(r Reporter) {
			tok := c.boundToken(k.main, false, nil)
			if !c.dpopAcceptedWith(r, func() dpopRequest { return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{})) }) {
				return
			}
			refuse("bearer", nil, fixDowngrad+" A verified-token cache must not let it through either.", func(Reporter) dpopRequest { return dpopProbe("Bearer", tok) })(r)
		}}),
		onOnly(dcase{class: "downgrade", name: "unbound token with a valid proof", run: refuse("binding", nil, fixBinding, func(r Reporter) dpopRequest {
			tok := c.token(c.allScopes(), nil)
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{}))
		})}),
		onOnly(dcase{class: "downgrade", name: "mTLS-bound token with a valid proof", run: refuse("binding", nil, fixBinding+" A cnf you cannot verify (x5t#S256 without mutual TLS) is refused.", func(r Reporter) dpopRequest {
			tok := c.token(c.allScopes(), map[string]any{"cnf": map[string]any{"x5t#S256": rawURL64(sha256Of("rsguard-conformance-certificate"))}})
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{}))
		})}),
		dcase{class: "downgrade", name: "bound opaque token as Bearer", notFor: noIntro, run: refuse("bearer", nil, fixDowngrad+" An introspection answer's cnf binds the token as a JWT's does (RFC 9449 §6.2).", func(Reporter) dpopRequest {
			return dpopProbe("Bearer", c.boundToken(k.main, true, nil))
		})},
		dcase{class: "downgrade", name: "bearer token where DPoP is required", notFor: onlyRequired, run: refuse("bearer", nil, "Refuse a bearer token when you accept only DPoP-bound tokens, with the DPoP challenge (RFC 9449 §7.2).", func(Reporter) dpopRequest {
			return dpopProbe("Bearer", c.token(c.allScopes(), nil))
		})},
		dcase{class: "downgrade", name: "DPoP scheme while DPoP is off", notFor: onlyOff, run: refuse("off", nil, "Accept only the schemes you implement: with DPoP off, answer Authorization: DPoP as a request without a bearer token (RFC 6750 §3.1).", func(r Reporter) dpopRequest {
			tok := c.token(c.allScopes(), nil)
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{}))
		})},
		dcase{class: "downgrade", name: "bound token with its proof while DPoP is off", notFor: onlyOff, run: refuse("off", nil, "With DPoP off, refuse bound tokens and the DPoP scheme alike (RFC 9449 §7.1, RFC 6750 §3.1), or set ConformanceConfig.DPoP to the server's mode.", func(r Reporter) dpopRequest {
			tok := c.boundToken(k.main, false, nil)
			return dpopProbe("DPoP", tok, c.proof(r, k.main, tok, ProofOptions{}))
		})},
	)
	c.runCases(r, DPoPCases(), cases)
}

// otherMethod is a method other than m.
func otherMethod(m string) string {
	if m == http.MethodGet {
		return http.MethodPost
	}
	return http.MethodGet
}

// proofClaim returns a string claim of a proof.
func proofClaim(proof, name string) string {
	_, p, _ := splitToken(strings.TrimSpace(proof))
	var m map[string]any
	if b, err := base64.RawURLEncoding.DecodeString(p); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	s, _ := m[name].(string)
	return s
}

// dpopAccepted checks that a bound token with a valid proof gets through.
func (c *Target) dpopAccepted(r Reporter, k *DPoPKey, tok string) bool {
	r.Helper()
	return c.dpopAcceptedWith(r, func() dpopRequest { return dpopProbe("DPoP", tok, c.proof(r, k, tok, ProofOptions{})) })
}

// dpopAcceptedWith sends the request build makes (again with a nonce if
// asked) and requires it to get through.
func (c *Target) dpopAcceptedWith(r Reporter, build func() dpopRequest) bool {
	r.Helper()
	resp, _, err := c.exchange(build)
	if err != nil {
		r.Errorf("request with a DPoP-bound token and a valid proof: %v. Answer a request with a valid DPoP proof (RFC 9449 §7.1).", err)
		return false
	}
	if resp.status/100 != 2 {
		r.Errorf("a DPoP-bound token with a valid proof (ES256, fresh iat, ath, htm and htu of the request) was refused: status %d, WWW-Authenticate %q, body %q. Accept `Authorization: DPoP <token>` with a DPoP proof of the key the token is bound to (RFC 9449 §4.3, §7.1), or correct ConformanceConfig.DPoP.",
			resp.status, redactAll(resp.header.Values("WWW-Authenticate")), truncate(resp.body))
		return false
	}
	return true
}

// dpopConcurrentReplay sends one proof several times at once: at most one
// may be accepted.
func (c *Target) dpopConcurrentReplay(r Reporter, k *DPoPKey) {
	tok := c.boundToken(k, false, nil)
	// A first request learns the server's nonce, if it uses them.
	if !c.dpopAccepted(r, k, c.boundToken(k, false, nil)) {
		return
	}
	d := dpopProbe("DPoP", tok, c.proof(r, k, tok, ProofOptions{}))
	const n = 4
	reqs := make([]*http.Request, n)
	for i := range reqs {
		if c.MCP {
			c.session, c.protocol = "", ""
		}
		req, err := c.request(d.p)
		if err != nil {
			r.Fatalf("%v", err)
			return
		}
		if c.Host != "" {
			req.Host = c.Host
		}
		reqs[i] = req
	}
	type result struct {
		resp *response
		err  error
	}
	results := make(chan result, n)
	for _, req := range reqs {
		go func() {
			resp, err := c.sendHost(req, "")
			results <- result{resp, err}
		}()
	}
	accepted := 0
	var refused []*response
	for range n {
		res := <-results
		switch {
		case res.err != nil:
			r.Errorf("%v. Answer a replayed proof with a refusal (4xx, RFC 9449 §11.1) rather than failing the connection.", res.err)
		case res.resp.status/100 == 2:
			accepted++
		default:
			refused = append(refused, res.resp)
		}
	}
	if accepted > 1 {
		r.Errorf("one proof sent %d times at once was accepted %d times. Record a proof's jti atomically, so that of two requests with one proof at most one gets through (RFC 9449 §11.1).", n, accepted)
	}
	if accepted == 0 {
		r.Errorf("one valid proof sent %d times at once was refused every time: status %d. Accept the first of them (RFC 9449 §11.1 refuses only the replays).", n, refused[0].status)
		return
	}
	for _, resp := range refused {
		c.judgeDPoP(r, "proof", nil, resp, d.secrets, fixReplay)
	}
}

// checkDPoPChallenges: a request without a token gets the challenges of
// the schemes the server accepts (RFC 9449 §7.1).
func (c *Target) checkDPoPChallenges(r Reporter) {
	resp, err := c.sendProbe(probe{})
	if err != nil {
		r.Errorf("request without a token: %v. Answer a request without a token with 401 and the challenges of the schemes you accept (RFC 9449 §7.1; RFC 6750 §3).", err)
		return
	}
	if resp.status != http.StatusUnauthorized {
		r.Errorf("request without a token: status %d, want 401 (RFC 6750 §3.1, RFC 9449 §7.1). Answer a request without a token with 401 and the challenges of the schemes you accept.", resp.status)
		return
	}
	cs := challenges(resp)
	bearer, dpop := len(ofScheme(cs, "Bearer")), len(ofScheme(cs, "DPoP"))
	switch c.DPoP {
	case DPoPOff:
		if dpop > 0 {
			r.Errorf("the 401 names a DPoP challenge, which tells clients DPoP is accepted (RFC 9449 §7.1), yet ConformanceConfig.DPoP is off. Set ConformanceConfig.DPoP to the server's DPoP mode, or stop advertising DPoP.")
		}
		return
	case DPoPAllowed:
		if bearer != 1 || dpop != 1 {
			r.Errorf("the 401 names %d Bearer and %d DPoP challenges, want one of each (RFC 9449 §7.1). Answer with a Bearer and a DPoP challenge when you accept both schemes (or correct ConformanceConfig.DPoP).", bearer, dpop)
			return
		}
	case DPoPRequired:
		if bearer != 0 || dpop != 1 {
			r.Errorf("the 401 names %d Bearer and %d DPoP challenges, want the DPoP challenge alone (RFC 9449 §7.1, §7.2). Answer with the DPoP challenge only when you accept only DPoP (or correct ConformanceConfig.DPoP).", bearer, dpop)
			return
		}
	}
	ch, ok := c.schemeChallenge(r, resp, "DPoP")
	if !ok {
		return
	}
	if ch.Error != "" {
		r.Errorf("the DPoP challenge to a request without credentials carries error=%q (RFC 6750 §3.1). Leave error out of the challenges when the request carried no credentials.", ch.Error)
	}
	algs := ""
	for _, p := range ch.Params {
		if strings.EqualFold(p.Name, "algs") {
			algs = p.Value
		}
	}
	switch {
	case algs == "":
		r.Logf("the DPoP challenge has no algs: clients guess the proof algorithm (RFC 9449 §7.1)")
	case !slices.Contains(strings.Fields(algs), "ES256"):
		r.Logf("the DPoP challenge's algs %q lacks ES256, the algorithm of the kit's proofs", algs)
	}
}
