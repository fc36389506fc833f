package validatetest

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/internal/conformance"
	"github.com/rsguard/rsguard/internal/loopback"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

// ConformanceConfig describes a protected resource for [Conformance]: where
// it is, what it publishes, and which issuer it trusts.
type ConformanceConfig struct {
	// Issuer is the test issuer the server under test trusts: its issuer
	// identifier is Issuer.URL and it fetches keys with Issuer.Client().
	// The kit mints every token with it, and temporarily publishes a few
	// dubious keys in its JWK Set (a key marked "use":"enc", a 1024-bit RSA
	// key), retired when Conformance returns. Required.
	Issuer *Issuer

	// Handler is the server under test, as one http.Handler serving both
	// the protected endpoint (at the path of Resource) and its metadata (at
	// the path of MetadataURL): typically the mux of your server. The kit
	// serves it on 127.0.0.1 and sends requests with the Host of Resource.
	// Set exactly one of Handler and URL.
	Handler http.Handler

	// URL is the protected endpoint of a running server, such as
	// "http://127.0.0.1:8080/mcp". The metadata is fetched from the same
	// origin, at the path of MetadataURL. Set exactly one of Handler and URL.
	URL string

	// Resource is the resource identifier the server publishes as the
	// metadata's "resource" (RFC 9728 §2) and expects in its tokens' "aud"
	// (RFC 8707). Required with Handler; if empty, URL. It must use https,
	// or http on a loopback host (see package validate, "Plain http:
	// loopback hosts only").
	Resource string

	// MetadataURL is the URL of the protected resource metadata, which
	// every challenge must carry as resource_metadata (RFC 9728 §5.1). If
	// empty, the path-inserted well-known URL of Resource (RFC 9728 §3.1).
	MetadataURL string

	// Scopes, if non-nil, are the scopes the 401 challenge of a request
	// without a token must name in its scope auth-param (as a set, RFC 6750
	// §3). If nil, the scope auth-param is optional (MCP: SHOULD), but when
	// present it must be well-formed, never name offline_access, and name
	// only scopes the metadata's scopes_supported lists, if it publishes
	// one.
	Scopes []string

	// MCP makes the kit speak MCP over Streamable HTTP: every request is a
	// POSTed JSON-RPC message with Accept "application/json,
	// text/event-stream"; a session is opened with initialize (its
	// Mcp-Session-Id and negotiated MCP-Protocol-Version are sent on later
	// requests); answers may be JSON or an SSE stream, read up to the
	// JSON-RPC response to the request (the server need not close the
	// stream after it). If the server issues
	// session ids, the session subtests also send GET (the event stream,
	// read up to its headers only) and DELETE in a session, and end it.
	// If false, requests are plain HTTP requests (see Request).
	MCP bool

	// Tools maps MCP tools to the scopes a tools/call of each needs (MCP
	// only), for the step-up subtests (MCP authorization, "Scope Challenge
	// Handling"). For a tool with scopes: a token lacking one of them gets
	// 403 with a Bearer challenge error="insufficient_scope" whose scope,
	// granted, lets the call through; a token with exactly the listed
	// scopes gets through. For a tool with none, any valid token gets
	// through. "Gets through" means an HTTP 2xx answer with a JSON-RPC
	// result that is not a tool error: a 2xx whose answer is a JSON-RPC
	// error or a result with isError fails the subtest if its text reads
	// as a scope refusal (scope, permission, forbidden, unauthorized: that
	// must be a 403 insufficient_scope), and otherwise skips it, saying
	// what the tool answered (check ToolArguments). If nil, no step-up
	// subtests.
	Tools map[string][]string

	// ToolArguments holds the "arguments" of the tools/call of each tool.
	// If a tool has no entry, {} is sent.
	ToolArguments map[string]map[string]any

	// Claims are added to every token the kit mints, over the issuer's
	// defaults and the kit's own (for example a tenant claim your server
	// requires). A nil value removes a claim.
	Claims map[string]any

	// Request builds the request a valid token must get through (2xx) when
	// MCP is false, for the given endpoint URL; the kit adds the
	// Authorization header. If nil, a GET of the endpoint.
	Request func(ctx context.Context, endpoint string) (*http.Request, error)

	// HTTPClient sends the requests when URL is set. If nil, a client with
	// a 10 s timeout that does not follow redirects.
	HTTPClient *http.Client

	// DPoP is the server's DPoP mode (RFC 9449), for the dpop subtests. If
	// zero (validate.DPoPOff), the server accepts bearer tokens only, and
	// the subtests check only that a DPoP-bound token is refused as Bearer
	// and that the DPoP scheme is not accepted; the other DPoP cases are
	// skipped as not applying. With validate.DPoPAllowed or
	// validate.DPoPRequired they check the proofs (see [Conformance]); with
	// validate.DPoPRequired, the accept, session, stepup and attacks
	// subtests also send their tokens bound to the kit's DPoP keys, with
	// proofs. A server that requires server nonces (RFC 9449 §9) gets them:
	// the kit retries once with the nonce of a use_dpop_nonce refusal.
	DPoP validate.DPoPMode

	// Introspection says that the server checks opaque access tokens by
	// token introspection (RFC 7662) at Issuer's endpoint
	// ([Issuer.IntrospectionURL], as a client of [Options].Clients), for
	// the introspection subtests; they replace the endpoint's answers with
	// [Issuer.Handle] while they run. If false, they do not run.
	Introspection bool

	// IntrospectionTimeout is the longest the server waits for an
	// introspection answer (validate.Introspection.Timeout): when the
	// endpoint does not answer, the server must answer 503 within it (the
	// kit waits half as long again, a second at least). IntrospectionRateLimit is its bound on
	// introspection requests per second (validate.Introspection.RateLimit):
	// a flood of made-up tokens must not make more. If zero, validate's
	// defaults: 5 s and 50.
	IntrospectionTimeout   time.Duration
	IntrospectionRateLimit float64

	// Skip names subtests not to run, relative to the test that calls
	// Conformance ("cors", "attacks/request/token in the form body"): for a
	// deliberate deviation, with a comment saying why. A name also skips
	// the subtests under it.
	Skip []string
}

// Conformance checks, as subtests of t, that a server is a correctly wired
// OAuth 2.1 resource server in the sense of RFC 6750, RFC 9728, RFC 8707 and
// the MCP authorization specification, by sending it requests with tokens
// minted by cfg.Issuer. It is independent of how the server is built:
// an rsguard.Guard, another library, or hand-written code.
//
// The subtests:
//
//   - metadata: the RFC 9728 document at MetadataURL: 200, JSON, "resource"
//     identical to Resource (RFC 9728 §3.3), "authorization_servers"
//     naming the issuer, each of them https or http on a loopback host
//     (RFC 8414 §2), no "query" bearer method for MCP;
//   - authorization servers: each of the metadata's "authorization_servers"
//     (the first five) on a loopback host serves RFC 8414 metadata (or
//     OpenID Connect Discovery) whose "issuer" is that identifier byte for
//     byte (RFC 8414 §3.3) and which names a token endpoint over https;
//     what only some clients need (an authorization endpoint, PKCE's S256)
//     is logged. Others are logged and not fetched: the kit sends nothing
//     off the machine;
//   - cors: as a browser judges answers to a request without credentials
//     from the origin https://client.example (Fetch Standard, CORS check):
//     the metadata can be fetched (Access-Control-Allow-Origin * or that
//     origin) and preflighted (allowing MCP-Protocol-Version), and a
//     refusal carries Access-Control-Allow-Origin and exposes
//     WWW-Authenticate (Access-Control-Expose-Headers, or *) — unless the
//     endpoint refuses that origin with 403 (MCP transport: Origin
//     validation), which passes;
//   - challenge: a request without a token gets 401 with exactly one Bearer
//     challenge carrying resource_metadata, no error code (RFC 6750 §3.1),
//     and the configured scope;
//   - accept: a valid token gets through (MCP: initialize succeeds);
//   - session/… (MCP, when the server issues an Mcp-Session-Id; a
//     stateless server has nothing to check): a session belongs to the
//     principal that opened it (MCP security best practices, session
//     hijacking), and its id presented by anyone else is answered as one
//     never issued (404), so that ids cannot be probed. The owner opens a
//     session with a valid token; the intruders are "another user",
//     "client named after the user" and "client named after the user (sub
//     = client_id)". Then:
//   - session/unknown session: a made-up id (never issued) with the
//     owner's token gets 404 (to a GET or DELETE, 405 will do);
//   - session/<intruder>/POST, …/GET stream, …/DELETE: in the owner's
//     session, another user's token, and a client-credentials token (no
//     sub, or sub equal to client_id) whose client_id is the owner's sub,
//     get 404 — a 403 fails, for it tells a prober the session exists; the
//     GET is never served a stream (the kit reads its answer up to the
//     headers, then closes it); after an intruder's DELETE the owner is
//     still served;
//   - session/<intruder>/same answer as an unknown session: each of those
//     requests gets the status the made-up id got;
//   - session/renewed token: the owner with a freshly issued token (same
//     sub and client_id, new jti, later exp) is served in its session;
//   - session/owner ends the session: once the owner's DELETE is answered
//     2xx, the session's id gets 404; a DELETE answered 405 (a server that
//     does not let clients end sessions, as MCP allows) skips the subtest;
//   - stepup/<tool>: see ConformanceConfig.Tools; a refusal's scopes are
//     granted alone, and must let the call through;
//   - attacks/<class>/<case>: over seventy tokens and requests that must be
//     refused, in five classes: algorithm (none, HMAC keyed with the public
//     key, foreign keys under known and unknown kids, keys from jku/jwk/x5u
//     headers, alg/key mismatches, stripped and transplanted signatures,
//     crit, keys not meant for signing), claims (expired, not yet valid,
//     wrongly typed, missing, issuer and audience look-alikes, wrong typ,
//     a sender-constrained "cnf" token presented as Bearer, an "auth_time"
//     in the future), malformed (segments, JWE, base64url, JSON, size, and
//     JSON that readers disagree on: duplicate member names, plain,
//     escaped or nested, a lone UTF-16 surrogate, a number out of float64
//     range), request (no or several Authorization headers, other schemes,
//     tokens in the query or the body, a spoofed Host) and, for MCP, method
//     (PUT, PATCH and a lowercase "post" carrying a tools/call the token
//     may not make). A refused token gets 401 with a Bearer challenge
//     error="invalid_token" and resource_metadata; a malformed request 400
//     invalid_request (or 401); a method other than POST, GET, DELETE and
//     OPTIONS 405 with an Allow header listing POST, even in a session the
//     same user opened; and no response echoes any part of the token
//     (any 16 bytes of it, wherever they start);
//   - dpop/accepted, dpop/<class>/<case> (RFC 9449; see DPoP): a token
//     bound to the kit's proof key with a valid proof gets through, and
//     over sixty requests are refused, in six classes: proof (alg none or
//     HMAC, a proof signed by another key than its jwk, a jwk with a
//     private member, of another type or curve, off its curve, or none and
//     a key named by kid, jku or x5c instead, a 1024-bit RSA jwk, typ JWT,
//     at+jwt or none, crit, the access token as the proof, a duplicate
//     "htm", an oversized proof), headers (no DPoP header, two of them, two
//     proofs in one, the proof in another header, Bearer and DPoP
//     Authorization headers, two tokens in one, the token in the query),
//     replay (the same proof twice, several times at once, the same jti in
//     a new proof or with another token of the key, the same proof with a
//     query added, white space around it or the scheme in lower case),
//     clock ("iat" an hour or a day old, ten minutes or an hour ahead, in
//     the year 3000, zero, absent, a string), mismatch ("htm" another
//     method, lower-cased or absent; "htu" another path, host, scheme or
//     port, a trailing slash, absent, or built from a spoofed Host or
//     X-Forwarded header; "ath" of another token, absent, padded or in
//     hex) and downgrade (the challenges name the accepted schemes; a bound
//     token, JWT or opaque, as Bearer, with its proof beside it, or after
//     it was accepted with DPoP; an unbound or mTLS-bound token with a
//     valid proof; a bearer token where DPoP is required; the DPoP scheme
//     while DPoP is off). A refused proof gets 401 with a DPoP challenge
//     error="invalid_dpop_proof" and resource_metadata; a token not bound
//     to the proof's key invalid_token on the DPoP challenge; a bound token
//     as Bearer invalid_token on the Bearer challenge (with DPoP required,
//     the DPoP challenge alone); and no response echoes the token or the
//     proof. The cases that do not apply to the mode are skipped, saying
//     so: with DPoP off, all but the downgrade cases that check that bound
//     tokens and the DPoP scheme are refused; with DPoP required, the
//     cases of the DPoP-off answers. A server that requires nonces (RFC
//     9449 §9) gets the nonce it asks for; with DPoP required, the accept,
//     session, stepup and attacks subtests too (see below);
//   - introspection/accepted, introspection/<class>/<case> (RFC 7662; see
//     Introspection; as DPoP requests when DPoP is required): an active
//     opaque token for the resource gets through, and sixty are refused, in
//     nine classes: iss (absent, another, a trailing slash, upper-cased, a
//     number, the resource), aud (absent, another resource, empty, the
//     origin, a number, an array without the resource, the issuer), active
//     (false, false with every other claim, the string "true", 1, null,
//     absent), token_type (absent — how oidc-provider answers about a
//     refresh token —, refresh_token, N_A, id_token, null, a number, a
//     token_use of refresh_token, DPoP without cnf), exp (past, absent, a
//     string; nbf ahead), slow (no answer, headers then nothing, half an
//     answer, the answer after the request is given up, several requests
//     at once, one token twice), huge (4 MiB with or without a length, a
//     4 MiB sub, 200 000 audiences, 1 GiB announced), malformed (not JSON,
//     truncated, an array, trailing data, empty, duplicate active, aud or
//     iss, a lone surrogate, Content-Type text/html, status 500 or 401, a
//     redirect to the valid answer) and flood (made-up tokens one after
//     another, at once, one again and again, large ones: 401 or 503, and
//     no more introspection requests than IntrospectionRateLimit allows; a
//     token accepted before a flood still accepted during it). A refused
//     answer gets 401 invalid_token; an endpoint that does not answer 503
//     within IntrospectionTimeout; a huge or malformed answer 503 (or 401).
//     The kit keeps its own requests under half the rate limit, waiting
//     when it must, so that the limit decides the floods only.
//
// With DPoP required, the accept, session, stepup and attacks subtests run
// as against a bearer server, but every token they send, forged ones
// included, is bound to a DPoP key of the kit ("cnf" "jkt") and goes as
// `Authorization: DPoP <token>` with a fresh, valid proof of that key for
// the request (htm, htu, ath, a new jti, the server's nonce if it asks for
// one); a session's intruders have keys of their own. So a token must be
// refused for the token itself: 401 with error="invalid_token" on the DPoP
// challenge, which also carries the step-up's insufficient_scope. The
// request attacks send the DPoP form ("empty Bearer" sends the DPoP scheme
// alone; a token in the query, the body, a cookie or another header goes
// with a valid proof for it); the two claims attacks that present a bound
// token as Bearer do not apply (the dpop subtests do that). With DPoP off
// or allowed, they send bearer tokens.
//
// Failures are reported with t.Errorf in the subtest concerned, with what
// was sent and received, never a token or part of one, and end with one
// sentence saying what to change in the server. Conformance calls t.Fatal
// only for a configuration it cannot use.
func Conformance(t *testing.T, cfg ConformanceConfig) {
	t.Helper()
	runConformance(tRunner{t}, cfg)
}

// runner is the part of *testing.T the kit uses, so that its own tests can
// run it against broken servers and watch it fail: the engine's Reporter.
type runner = conformance.Reporter

// tRunner adapts a *testing.T to runner.
type tRunner struct{ *testing.T }

func (r tRunner) Run(name string, f func(runner)) bool {
	return r.T.Run(name, func(t *testing.T) { f(tRunner{t}) })
}

// runConformance checks cfg and runs the engine's checks
// (internal/conformance) with the issuer as their Minter.
func runConformance(r runner, cfg ConformanceConfig) {
	r.Helper()
	c, err := newTarget(r, cfg)
	if err != nil {
		r.Fatalf("validatetest.Conformance: %v", err)
		return
	}
	conformance.Run(r, c)
}

// newTarget checks cfg and describes the server under test to the engine,
// serving cfg.Handler on 127.0.0.1 (until r's cleanup).
func newTarget(r runner, cfg ConformanceConfig) (*conformance.Target, error) {
	if cfg.Issuer == nil {
		return nil, errors.New("Issuer is required")
	}
	if (cfg.Handler == nil) == (cfg.URL == "") {
		return nil, errors.New("set exactly one of Handler and URL")
	}
	c := &conformance.Target{
		Caller:        "validatetest.Conformance",
		Resource:      cfg.Resource,
		MCP:           cfg.MCP,
		Tools:         cfg.Tools,
		ToolArguments: cfg.ToolArguments,
		Scopes:        cfg.Scopes,
		Claims:        cfg.Claims,
		Request:       cfg.Request,
		Skip:          cfg.Skip,

		DPoP:                   conformance.DPoPMode(cfg.DPoP),
		Introspection:          cfg.Introspection,
		IntrospectionTimeout:   cfg.IntrospectionTimeout,
		IntrospectionRateLimit: cfg.IntrospectionRateLimit,
	}
	switch cfg.DPoP {
	case validate.DPoPOff, validate.DPoPAllowed, validate.DPoPRequired:
	default:
		return nil, fmt.Errorf("DPoP %d is not a validate.DPoPMode", int(cfg.DPoP))
	}
	if cfg.IntrospectionTimeout < 0 || cfg.IntrospectionRateLimit < 0 {
		return nil, errors.New("IntrospectionTimeout and IntrospectionRateLimit must not be negative")
	}
	if c.Resource == "" {
		if cfg.URL == "" {
			return nil, errors.New("validatetest: Resource is required with Handler")
		}
		c.Resource = cfg.URL
	}
	c.Tokens = &issuerTokens{is: cfg.Issuer, resource: c.Resource}
	c.ASClient = issuerOnly(cfg.Issuer)
	ru, err := url.Parse(c.Resource)
	if err != nil || !ru.IsAbs() || ru.Host == "" {
		return nil, fmt.Errorf("validatetest: Resource %q is not an absolute URL", c.Resource)
	}
	if !loopback.AllowsScheme(ru) {
		return nil, fmt.Errorf("validatetest: Resource %q must use https (http only on loopback hosts; RFC 9728 §1.2)", c.Resource)
	}
	c.MetadataURL = cfg.MetadataURL
	if c.MetadataURL == "" {
		if c.MetadataURL, err = rsmeta.WellKnownURL(c.Resource); err != nil {
			return nil, fmt.Errorf("cannot derive MetadataURL: %w", err)
		}
	}
	mu, err := url.Parse(c.MetadataURL)
	if err != nil || !mu.IsAbs() {
		return nil, fmt.Errorf("MetadataURL %q is not an absolute URL", c.MetadataURL)
	}
	var origin string
	if cfg.Handler != nil {
		srv := httptest.NewServer(cfg.Handler)
		r.Cleanup(srv.Close)
		c.Client = srv.Client()
		c.Client.CheckRedirect = conformance.NoRedirects
		origin = srv.URL
		c.Endpoint = srv.URL + ru.EscapedPath()
		if ru.RawQuery != "" {
			c.Endpoint += "?" + ru.RawQuery
		}
		c.Host = ru.Host
	} else {
		eu, err := url.Parse(cfg.URL)
		if err != nil || !eu.IsAbs() || eu.Host == "" {
			return nil, fmt.Errorf("URL %q is not an absolute URL", cfg.URL)
		}
		c.Client = cfg.HTTPClient
		if c.Client == nil {
			c.Client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: conformance.NoRedirects}
		}
		origin = eu.Scheme + "://" + eu.Host
		c.Endpoint = cfg.URL
	}
	c.MetadataGet = origin + mu.EscapedPath()
	if mu.RawQuery != "" {
		c.MetadataGet += "?" + mu.RawQuery
	}
	return c, nil
}

// issuerOnly is the client of the authorization servers check: it fetches
// from loopback hosts (the test issuer's, and those of other test servers),
// trusting the test issuer's certificate, without following redirects, and
// from nowhere else (an authorization server of the metadata off the
// machine is noted, not fetched: a test makes no request off the machine).
func issuerOnly(is *Issuer) *http.Client {
	base := is.Client()
	return &http.Client{Timeout: 10 * time.Second, CheckRedirect: conformance.NoRedirects,
		Transport: roundTripper(func(req *http.Request) (*http.Response, error) {
			if !loopback.IsHost(req.URL.Hostname()) {
				return nil, fmt.Errorf("validatetest.Conformance fetches only from loopback hosts such as the test issuer's: %w", conformance.ErrNotFetched)
			}
			return base.Transport.RoundTrip(req)
		})}
}

// roundTripper is an http.RoundTripper made of a function.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// issuerTokens is the engine's Minter over an Issuer.
type issuerTokens struct {
	is       *Issuer
	resource string
}

func (t *issuerTokens) Token(scopes []string) (string, error) {
	claims := map[string]any{"aud": t.resource}
	if scopes != nil {
		claims["scope"] = strings.Join(scopes, " ")
	}
	if tok := t.is.Token(claims); tok != "" {
		return tok, nil
	}
	return "", errors.New("the issuer could not mint a token")
}

func (t *issuerTokens) Issuer() string                             { return t.is.issuer }
func (t *issuerTokens) Now() time.Time                             { return t.is.now() }
func (t *issuerTokens) Claims(extra map[string]any) map[string]any { return t.is.claims(extra) }
func (t *issuerTokens) Kid(alg string) string                      { return t.is.Kid(alg) }
func (t *issuerTokens) DefaultAlg() string                         { return t.is.defaultAlg }
func (t *issuerTokens) PublicKey(kid string) crypto.PublicKey      { return t.is.PublicKey(kid) }
func (t *issuerTokens) PublicJWK(kid string) []byte                { return t.is.PublicJWK(kid) }
func (t *issuerTokens) Retire(kid string)                          { t.is.Retire(kid) }

func (t *issuerTokens) OpaqueToken(claims map[string]any) string { return t.is.OpaqueToken(claims) }
func (t *issuerTokens) HandleIntrospection(h http.Handler)       { t.is.Handle(t.is.IntrospectionURL, h) }
func (t *issuerTokens) IntrospectionRequests() int               { return t.is.Requests(t.is.IntrospectionURL) }

func (t *issuerTokens) AddKey(signer crypto.Signer, jwk map[string]any) string {
	return t.is.AddKey(Key{Signer: signer, JWK: jwk})
}

func (t *issuerTokens) Mint(o conformance.TokenOptions, claims map[string]any) string {
	return t.is.TokenWith(TokenOptions{Alg: o.Alg, Key: o.Key, Signer: o.Signer, Secret: o.Secret, Header: o.Header,
		Payload: o.Payload, NoSignature: o.NoSignature}, claims)
}
