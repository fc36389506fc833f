package conformance

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The attacks of Conformance: requests a resource server must refuse, by
// class, and how each refusal is checked.

// attack is one request that must be refused.
type attack struct {
	name string
	// token is sent as the target takes tokens (sendAs: "Bearer " + token,
	// or "DPoP " + token with its proof) unless probe or method is set.
	token string
	// probe, if set, is the request: with the token where it says, and,
	// DPoP required, with a proof for proofFor.
	probe *probe
	// method, if set, makes the attack an MCP tools/call sent with this
	// HTTP method in a session the same user opened (see checkMethod); want
	// is then "method".
	method string
	call   map[string]any // the params of that tools/call; nil: tools/list
	// want: "token" (401 invalid_token), "request" (400 invalid_request,
	// or 401), "none" (401 without an error code, or 400), "method" (405
	// with an Allow header that lists POST), "size" (any 4xx).
	want string
	// needs is the case's Needs, from AttackCases.
	needs Needs
	why   string
	// fix is the sentence that ends the message of an accepted attack: what
	// to change in the server. If empty, its class's (see withFix).
	fix string
	// notFor, if set, says why the case does not apply to the target (it
	// is then skipped as DoesNotApply).
	notFor string
	// skip, if set, is the message the case is skipped with when the run
	// can make it but could not (notIssued…); note is then logged first.
	skip, note string
}

type attackClass struct {
	name  string
	cases []attack
}

// attacks builds the attack corpus for the issuer and resource under test.
func (c *Target) attacks(r Reporter) []attackClass {
	if err := c.attackerKeys(); err != nil {
		r.Fatalf("%s: %v", c.Caller, err)
		return nil
	}
	is := c.iss
	now := is.Now()
	tok := func(opts TokenOptions, claims map[string]any) string { return c.tokenWith(opts, c.allScopes(), claims) }
	kid := is.Kid("")
	defaultAlg := is.DefaultAlg()
	var foreign crypto.Signer = c.keys.rsa
	var otherFamily crypto.Signer = c.keys.ec
	switch algFamily(defaultAlg) {
	case "EC":
		foreign, otherFamily = c.keys.ec, c.keys.rsa
	case "OKP":
		foreign, otherFamily = c.keys.ed, c.keys.rsa
	}
	good := tok(TokenOptions{}, nil)
	if good == "" {
		// Black-box: a forged token, under the issuer's kid, stands in for
		// the valid one the cases that need it do not run without.
		good = tok(TokenOptions{Signer: foreign}, nil)
	}
	h, p, s := splitToken(good)

	// Dubious keys, published for this run only (a Minter only: the cases
	// that use them need the issuer's key).
	var encKid, weakKid string
	if m := c.minter; m != nil {
		encKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		weakKey, _ := rsa.GenerateKey(rand.Reader, 1024)
		encKid = m.AddKey(encKey, map[string]any{"use": "enc"})
		weakKid = m.AddKey(weakKey, nil)
		r.Cleanup(func() { m.Retire(encKid); m.Retire(weakKid) })
	}
	attackerJWK, _ := PublicJWK(c.keys.rsa.Public())
	attackerJWK["kid"] = "rsguard-conformance-attacker"
	aud := c.Resource
	u, _ := url.Parse(aud)
	origin := u.Scheme + "://" + u.Host
	iss := is.Issuer()
	pubDER, pubPEM := pkixPublicKey(is.PublicKey(kid))

	algorithm := []attack{
		{name: "alg none", token: tok(TokenOptions{Alg: "none"}, nil)},
		{name: "alg None", token: tok(TokenOptions{Alg: "None"}, nil)},
		{name: "alg NONE with a signature", token: tok(TokenOptions{Alg: "NONE"}, nil) + s},
		{name: "HS256 keyed with the public key PEM", token: tok(TokenOptions{Alg: "HS256", Key: kid, Secret: pubPEM}, nil)},
		{name: "HS256 keyed with the public key DER", token: tok(TokenOptions{Alg: "HS256", Key: kid, Secret: pubDER}, nil)},
		{name: "HS256 keyed with the JWK", token: tok(TokenOptions{Alg: "HS256", Key: kid, Secret: is.PublicJWK(kid)}, nil)},
		{name: "HS512 keyed with the public key PEM", token: tok(TokenOptions{Alg: "HS512", Key: kid, Secret: pubPEM}, nil)},
		{name: "foreign key under the issuer's kid", token: tok(TokenOptions{Signer: foreign, Key: kid}, nil)},
		{name: "foreign key under an unknown kid", token: tok(TokenOptions{Signer: foreign, Header: map[string]any{"kid": "rsguard-conformance-unknown"}}, nil)},
		{name: "foreign key without kid", token: tok(TokenOptions{Signer: foreign, Header: map[string]any{"kid": nil}}, nil)},
		{name: "foreign key of another type under the issuer's kid", token: tok(TokenOptions{Signer: otherFamily, Key: kid}, nil)},
		{name: "foreign key in a jwk header", token: tok(TokenOptions{Signer: c.keys.rsa, Header: map[string]any{"jwk": attackerJWK, "kid": attackerJWK["kid"]}}, nil)},
		{name: "foreign key in a jku header", token: tok(TokenOptions{Signer: c.keys.rsa, Header: map[string]any{"jku": "https://attacker.invalid/jwks", "kid": attackerJWK["kid"]}}, nil)},
		{name: "foreign key in an x5u header", token: tok(TokenOptions{Signer: c.keys.rsa, Header: map[string]any{"x5u": "https://attacker.invalid/cert.pem", "kid": attackerJWK["kid"]}}, nil)},
		{name: "stripped signature", token: tok(TokenOptions{NoSignature: true}, nil)},
		{name: "signature of another token", token: joinToken(splitFirst2(tok(TokenOptions{}, map[string]any{"sub": "mallory"})), s)},
		{name: "payload tampered", token: h + "." + rawURL64(mustJSON(c.bind(map[string]any{"iss": iss, "aud": aud, "exp": now.Add(time.Hour).Unix(), "scope": "admin"}))) + "." + s},
		{name: "crit header", token: tok(TokenOptions{Header: map[string]any{"crit": []string{"exp"}, "exp": now.Unix()}}, nil)},
		{name: "crit b64", token: tok(TokenOptions{Header: map[string]any{"crit": []string{"b64"}, "b64": false}}, nil)},
		{name: "key published with use enc", token: tok(TokenOptions{Key: encKid}, nil)},
		{name: "RSA key of 1024 bits", token: tok(TokenOptions{Key: weakKid}, nil)},
		{name: "hostile kid", token: tok(TokenOptions{Key: kid, Header: map[string]any{"kid": "../../../../etc/passwd' OR '1'='1"}}, nil)},
	}
	// The cases of an RS256 key: made with it if the run knows one; not
	// checkable if the run knows no key of the issuer at all (their token
	// stays ""); not applying if it knows keys, none of them RS256.
	rsCases := []attack{{name: "PS256 signature by the RS256 key"}, {name: "header ES256 on the RS256 key"}}
	switch k := is.Kid("RS256"); {
	case k != "":
		rsCases[0].token = tok(TokenOptions{Key: k, Alg: "PS256"}, nil)
		rsCases[1].token = tok(TokenOptions{Signer: c.keys.ec, Key: k}, nil)
	case kid != "":
		for i := range rsCases {
			rsCases[i].notFor = "the authorization server has no RS256 key the run knows of"
		}
	}
	algorithm = append(algorithm, rsCases...)
	for i := range algorithm {
		algorithm[i].want = "token"
	}
	withFix(algorithm, "Verify signatures only with the issuer's published signing keys, under a fixed list of asymmetric algorithms each tied to its key type, ignoring jku, jwk and x5u headers.",
		"crit", "Refuse a token whose crit header names an extension you do not implement (RFC 7515 §4.1.11).",
		"key published with use enc", `Verify only with keys whose JWK "use" is "sig" (or absent) and whose "key_ops", if any, include "verify" (RFC 7517 §4.2, §4.3).`,
		"RSA key of 1024 bits", "Refuse RSA keys shorter than 2048 bits (RFC 7518 §3.3).",
		"hostile kid", "Use kid only to look a key up in the issuer's JWK Set, never as a path or in a query.")

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
		{name: "aud another resource", token: tok(TokenOptions{}, map[string]any{"aud": c.otherResource()})},
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
	if c.minter == nil && c.Tokens != nil && !c.proving {
		// Without the issuer's key, a token the authorization server
		// issued for another resource (RFC 8707).
		for i := range claims {
			if claims[i].name == "aud another resource" {
				claims[i].token, claims[i].skip, claims[i].note = c.otherResourceToken()
			}
		}
	}
	if c.proving {
		// Every token of the run is sent with a proof of the key it is
		// bound to: a bound token as Bearer is the dpop check's.
		for i := range claims {
			if strings.HasPrefix(claims[i].name, "cnf ") {
				claims[i].notFor = "DPoP is required, so every token goes as DPoP with its proof (dpop/downgrade sends bound tokens as Bearer)"
			}
		}
	}
	if strings.HasPrefix(aud, "https://") {
		claims = append(claims, attack{name: "aud over http", token: tok(TokenOptions{}, map[string]any{"aud": "http://" + strings.TrimPrefix(aud, "https://")})})
	}
	for i := range claims {
		claims[i].want = "token"
	}
	withFix(claims, "Check the claims of RFC 9068 §4: iss and aud exactly, exp, nbf and iat against the clock, typ at+jwt.",
		"expired", "Refuse a token whose exp is past (RFC 7519 §4.1.4), with at most a small leeway.",
		"not yet valid", "Refuse a token whose nbf is ahead (RFC 7519 §4.1.5), with at most a small leeway.",
		"issued in the future", "Refuse a token whose iat is ahead of the clock, with at most a small leeway.",
		"no exp", "Require exp (RFC 9068 §2.2).",
		"exp as a string", "Require exp to be a JSON number (RFC 7519 §2, NumericDate).",
		"no iss", `Require iss and compare it with the issuer identifier byte for byte (RFC 9068 §4).`,
		"other issuer", `Compare iss with the issuer identifier byte for byte (RFC 9068 §4).`,
		"issuer", `Compare iss with the issuer identifier byte for byte (RFC 9068 §4).`,
		"no aud", `Require aud to name the resource identifier, compared byte for byte (RFC 8707, RFC 9068 §4).`,
		"aud", `Require aud to name the resource identifier, compared byte for byte (RFC 8707, RFC 9068 §4).`,
		"typ", `Require the typ header "at+jwt" (RFC 9068 §2.1, §4).`,
		"cnf", "Refuse a token bound to a key (cnf) presented as a bearer token, without its proof (RFC 9449 §7, RFC 8705 §3).",
		"auth_time", "Refuse a token whose auth_time is ahead of the clock (RFC 9068 §2.2.1).")

	// JSON that a map cannot express, spliced into the valid token's claims:
	// each payload has one more trap than the good one.
	sub, _ := is.Claims(nil)["sub"].(string)
	if v, ok := c.Claims["sub"].(string); ok {
		sub = v
	}
	custom, customValue := "tid", any("tenant-a")
	for _, k := range slices.Sorted(maps.Keys(c.Claims)) {
		if v := c.Claims[k]; v != nil && !registeredClaims[k] {
			custom, customValue = k, v
			break
		}
	}
	customJSON, err := marshalJSON(customValue)
	if err != nil {
		r.Fatalf("%s: encode claim %q: %v", c.Caller, custom, err)
		return nil
	}
	raw := func(drop string, members string) []byte {
		b, err := c.rawClaims(drop, members)
		if err != nil {
			r.Fatalf("%s: encode claims: %v", c.Caller, err)
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
	withFix(jsonTraps, "Parse the token's JSON strictly: refuse duplicate member names (RFC 7515 §5.2), lone UTF-16 surrogates and numbers out of range (RFC 8259 §6, §8.2).")

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
	withFix(malformed, "Accept only a JWS in compact form: three base64url segments whose header and payload are JSON objects (RFC 7515 §7.1), refusing JWE.",
		"deeply nested", "Bound the depth of the JSON you parse, and refuse a token that exceeds it.")
	malformed = append(malformed, jsonTraps...)
	malformed = append(malformed, attack{name: "oversized token", token: tok(TokenOptions{}, map[string]any{"pad": strings.Repeat("p", 24<<10)}), want: "size",
		fix: "Bound the size of the Authorization header and refuse a larger one with 4xx (431, 400 or 401)."})

	// With DPoP required, the scheme is DPoP ("empty Bearer" sends "DPoP"
	// alone), and each request that carries the valid token, wherever,
	// carries a valid proof for it too: only where the token travels stands
	// between it and acceptance.
	scheme := c.scheme()
	request := []attack{
		{name: "no Authorization header", probe: &probe{}, want: "none"},
		{name: "Basic scheme", probe: &probe{proofFor: good, authorization: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+good))}}, want: "none"},
		{name: "token without scheme", probe: &probe{proofFor: good, authorization: []string{good}}, want: "request"},
		{name: "empty Bearer", probe: &probe{proofFor: good, authorization: []string{scheme}}, want: "request"},
		{name: "two tokens in one header", probe: &probe{proofFor: good, authorization: []string{scheme + " " + good + ", " + scheme + " " + good}}, want: "request"},
		{name: "two Authorization headers", probe: &probe{proofFor: good, authorization: []string{scheme + " " + good, scheme + " " + good}}, want: "request"},
		{name: "token in the query string", probe: &probe{proofFor: good, query: "access_token=" + url.QueryEscape(good)}, want: "request"},
		{name: "token in the form body", probe: &probe{proofFor: good, formToken: good}, want: "none"},
		{name: "token in a cookie", probe: &probe{proofFor: good, headers: [][2]string{{"Cookie", "access_token=" + good}}}, want: "none"},
		{name: "token in a custom header", probe: &probe{proofFor: good, headers: [][2]string{{"X-Access-Token", good}}}, want: "none"},
		// The challenge points at this resource's metadata whatever the
		// request claims about the host: a resource_metadata built from
		// Host or X-Forwarded-* lets anyone send clients elsewhere (and
		// poison caches).
		// A server that refuses a foreign Host outright (403 or 421:
		// DNS-rebinding protection, RFC 9110 §15.5.20) derives nothing from
		// it either.
		{name: "spoofed Host header", probe: &probe{host: "attacker.invalid"}, want: "host"},
		{name: "spoofed X-Forwarded headers", probe: &probe{headers: [][2]string{
			{"X-Forwarded-Host", "attacker.invalid"}, {"X-Forwarded-Proto", "http"}, {"Forwarded", "host=attacker.invalid;proto=http"}}}, want: "none"},
	}
	for i := range request {
		request[i].token = good
	}
	withFix(request, "Take the token only from a single Authorization: "+scheme+" header (RFC 6750 §2.1, RFC 9449 §7.1; MCP forbids the query string), and refuse a request that carries it elsewhere or twice.",
		"no Authorization header", "Require a valid "+scheme+" token on every request to the protected endpoint.",
		"spoofed", "Require a valid "+scheme+" token on every request to the protected endpoint, whatever its Host or X-Forwarded headers say.",
		"Basic scheme", "Accept credentials only in the "+scheme+" scheme of the Authorization header.")
	if kid == "" {
		// Forged without the issuer's public key: the cases that name its
		// kid cannot be made.
		for i := range algorithm {
			if strings.Contains(algorithm[i].name, "the issuer's kid") {
				algorithm[i].token = ""
			}
		}
	}
	classes := []attackClass{{"algorithm", algorithm}, {"claims", claims}, {"malformed", malformed}, {"request", request}}
	if c.MCP {
		classes = append(classes, attackClass{"method", c.methodAttacks()})
	}
	for _, class := range classes {
		for i := range class.cases {
			a := &class.cases[i]
			ac, ok := attackCase(class.name, a.name)
			if !ok {
				r.Fatalf("%s: attack %s/%s is not in AttackCases", c.Caller, class.name, a.name)
				return nil
			}
			a.needs, a.why = ac.Needs, ac.Why
		}
	}
	return classes
}

// withFix sets the fix of the cases that have none: that of the first
// (name prefix, fix) pair of rules whose prefix the case's name has, else
// def.
func withFix(cases []attack, def string, rules ...string) {
	for i := range cases {
		if cases[i].fix != "" {
			continue
		}
		cases[i].fix = def
		for j := 0; j+1 < len(rules); j += 2 {
			if strings.HasPrefix(cases[i].name, rules[j]) {
				cases[i].fix = rules[j+1]
				break
			}
		}
	}
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
func (c *Target) rawClaims(drop, members string) ([]byte, error) {
	m := map[string]any{"aud": c.Resource}
	if s := c.allScopes(); s != nil {
		m["scope"] = strings.Join(s, " ")
	}
	for k, v := range c.Claims {
		m[k] = v // a nil value removes a default claim, as in tokenWith
	}
	all := c.iss.Claims(c.bind(m))
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
func (c *Target) thumbprint() string {
	jwk, err := PublicJWK(c.keys.ec.Public())
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
func (c *Target) methodAttacks() []attack {
	// The tool: the first one that needs a scope beyond the run's token
	// scopes (what a client holds when it starts), called with a token
	// holding every scope of the kit's valid token but those; else any tool
	// (or tools/list) with the valid token, which the method alone must
	// stop.
	tokScopes, params, held := c.allScopes(), map[string]any(nil), c.tokenScopes()
	tools := slices.Sorted(maps.Keys(c.Tools))
	for _, tool := range tools {
		beyond := func(s string) bool { return slices.Contains(c.Tools[tool], s) && !slices.Contains(held, s) }
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

// Attack is one case of the attacks check as a run builds it, for tests of
// the corpus and for listings.
type Attack struct {
	Class  string
	Name   string
	Needs  Needs
	Token  string         // sent as the target takes tokens (Bearer, or DPoP with a proof), unless the case is a request or method case
	Method string         // a method case's HTTP method
	Call   map[string]any // a method case's tools/call params; nil: tools/list
	Fix    string         // what to change in a server that accepts it
}

// Attacks builds the attack corpus of this target, as the attacks check
// would (reporting to r, which gets the cleanup of the keys it publishes).
func (c *Target) Attacks(r Reporter) []Attack {
	c.prepare(r)
	var out []Attack
	for _, class := range c.attacks(r) {
		for _, a := range class.cases {
			out = append(out, Attack{Class: class.name, Name: a.name, Needs: a.needs, Token: a.token, Method: a.method, Call: a.call, Fix: a.fix})
		}
	}
	return out
}
