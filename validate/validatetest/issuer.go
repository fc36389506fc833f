package validatetest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsguard/rsguard/internal/check"
)

// Defaults of [Options].Lifetime and of the claims [Issuer.Token] fills in
// when the caller does not (RFC 9068 §2.2).
const (
	defaultLifetime = 5 * time.Minute
	defaultSubject  = "test-subject"
	defaultClientID = "test-client"
)

// Options configures an [Issuer]. The zero value (or a nil *Options) is a
// usable issuer: HTTPS on 127.0.0.1, issuer at the server's root, RS256,
// PS256, ES256 and EdDSA keys, RS256 tokens living five minutes, both
// discovery documents, and no client registered at the token endpoint.
//
// The issuer copies what it needs: changing Options after [NewIssuer] has no
// effect.
type Options struct {
	// Path is the path component of the issuer identifier, for example
	// "/tenants/a" for an issuer "https://127.0.0.1:port/tenants/a" (RFC 8414
	// §2). It must start with "/" and contain only unreserved characters and
	// "/"; a trailing "/" is kept in the identifier, as some issuers have
	// one, and removed before the well-known suffixes are added (RFC 8414
	// §3.1, OpenID Connect Discovery §4). If empty, the issuer is the
	// server's origin with no path.
	Path string

	// Algorithms lists the JWS "alg" values that get a published signing
	// key, one key each: RS256, RS384, RS512, PS256, PS384, PS512 (2048-bit
	// RSA), ES256, ES384, ES512 (P-256, P-384, P-521) and EdDSA (Ed25519).
	// If empty, the default is RS256, PS256, ES256 and EdDSA (RS256 and
	// PS256 on different keys, as one key should serve one algorithm).
	Algorithms []string

	// DefaultAlgorithm is the "alg" of tokens from [Issuer.Token] and the
	// token endpoint. It must be in Algorithms. If empty, the default is
	// RS256 when Algorithms has it, else Algorithms[0].
	DefaultAlgorithm string

	// Lifetime is how long minted tokens live: "exp" is "iat" plus Lifetime,
	// and the token endpoint's "expires_in" is Lifetime in seconds. It must
	// not be negative. If zero, the default is 5 minutes.
	Lifetime time.Duration

	// Now gives the time for "iat" and "exp". If nil, the default is
	// time.Now.
	Now func() time.Time

	// Audience is the "aud" claim that [Issuer.Token] sets when the claims
	// do not, and that the token endpoint uses when a request names no
	// "resource" (RFC 8707 §2). One value is sent as a string, several as
	// an array. If nil, Token sets no "aud" and the token endpoint answers
	// invalid_target to a request without "resource".
	Audience []string

	// DisableMetadata stops the issuer from serving its RFC 8414
	// authorization server metadata: the well-known URL answers 404. The
	// default (false) serves it.
	DisableMetadata bool

	// DisableOpenIDConfiguration stops the issuer from serving its OpenID
	// Connect Discovery 1.0 document: the well-known URL answers 404. The
	// default (false) serves it.
	DisableOpenIDConfiguration bool

	// Metadata holds members merged into both discovery documents over the
	// generated ones, for tests of a client's metadata checks (a wrong
	// "issuer", a "jwks_uri" elsewhere…), or for a client that requires
	// members the generated documents leave out because the issuer does not
	// serve them: they name only the token endpoint, its client_credentials
	// grant, the introspection endpoint and the keys, with no "response_types_supported" or
	// "code_challenge_methods_supported" (there is no authorization
	// endpoint). A nil value removes the member. If nil, the documents are
	// served as generated.
	Metadata map[string]any

	// Clients are the clients registered at the token endpoint
	// (RFC 6749 §2). If nil, none is: every token request fails with
	// invalid_client.
	Clients []Client

	// PlainHTTP serves the issuer over http:// instead of https://. The
	// default (false) uses TLS with a certificate that only
	// [Issuer.Client] trusts.
	PlainHTTP bool
}

// Client is a confidential client registered at the issuer's token endpoint
// (RFC 6749 §2.3.1), allowed the client_credentials grant (RFC 6749 §4.4).
type Client struct {
	// ID is the client identifier (RFC 6749 §2.2). Required; unique.
	ID string

	// Secret is the client password for client_secret_basic or
	// client_secret_post authentication (RFC 6749 §2.3.1). Required.
	Secret string

	// Scopes are the scopes the client may request (RFC 6749 §3.3). A token
	// request without "scope" is granted all of them; a request naming any
	// other scope gets invalid_scope. If nil, the client can only get tokens
	// without a scope.
	Scopes []string
}

// Issuer is an in-process OAuth 2.1 authorization server for tests: it holds
// signing keys, serves its discovery documents, its JWKS and a
// client_credentials token endpoint over a real loopback HTTP server, and
// mints RFC 9068 JWT access tokens, well-formed or deliberately broken.
//
// Its URL fields are set by [NewIssuer] and read-only, like
// httptest.Server's URL: the issuer serves what they said when it started,
// whatever a test writes into them. All methods are safe for concurrent
// use, from any goroutine.
type Issuer struct {
	// URL is the issuer identifier (RFC 8414 §2), the "iss" of its tokens:
	// "https://127.0.0.1:port" followed by [Options].Path.
	URL string

	// MetadataURL is the URL of the RFC 8414 authorization server
	// metadata, with the well-known suffix inserted before the issuer's
	// path (RFC 8414 §3.1):
	// "https://127.0.0.1:port/.well-known/oauth-authorization-server/tenants/a"
	// for the issuer "https://127.0.0.1:port/tenants/a".
	MetadataURL string

	// OpenIDConfigurationURL is the URL of the OpenID Connect Discovery 1.0
	// document (§4): the issuer followed by
	// "/.well-known/openid-configuration".
	OpenIDConfigurationURL string

	// JWKSURL is the URL of the issuer's JWK Set (RFC 7517 §5), the
	// "jwks_uri" of its metadata.
	JWKSURL string

	// TokenURL is the URL of the issuer's token endpoint (RFC 6749 §3.2),
	// the "token_endpoint" of its metadata.
	//
	// The endpoint takes a POSTed form with grant_type=client_credentials
	// (RFC 6749 §4.4) from a client of [Options].Clients, authenticated
	// with HTTP Basic (id and secret form-urlencoded) or with client_id and
	// client_secret in the form, never both (RFC 6749 §2.3.1). "scope" must
	// name only scopes the client is allowed, and defaults to all of them.
	// Each "resource" (RFC 8707 §2), which may repeat, must be an absolute
	// URI without a fragment; together they become "aud", defaulting to
	// [Options].Audience. It answers as RFC 6749 §5.1 says, with an
	// RFC 9068 token signed like [Issuer.Token]'s with "sub" and
	// "client_id" set to the client, "nbf" to "iat", and "scope" when
	// granted. Errors follow RFC 6749 §5.2: invalid_client (401 with
	// "WWW-Authenticate: Basic"), invalid_request, unsupported_grant_type,
	// invalid_scope and invalid_target (400), and 405 for a method other
	// than POST. Every answer has "Cache-Control: no-store". The endpoint
	// keeps working while [Issuer.SetDown] is in force.
	TokenURL string

	// IntrospectionURL is the URL of the issuer's token introspection
	// endpoint (RFC 7662 §2), the "introspection_endpoint" of its metadata.
	//
	// The endpoint takes a POSTed form with "token" (and an optional
	// "token_type_hint") from a client of [Options].Clients, authenticated
	// as at the token endpoint (client_secret_basic or client_secret_post):
	// a resource server introspects as a client of its own (RFC 7662 §2.1).
	// For a token of [Issuer.OpaqueToken] it answers that token's
	// introspection answer; for a JWT access token it issued (signed by a
	// published key, not expired) its claims with "active": true and a
	// "token_type" of "Bearer" ("DPoP" with a "cnf" "jkt"); for anything
	// else {"active": false} (RFC 7662 §2.2). Client errors are answered
	// as at the token endpoint (401 invalid_client, 400 invalid_request,
	// 405). Every answer has "Cache-Control: no-store". The endpoint keeps
	// working while [Issuer.SetDown] is in force; [Issuer.Handle] replaces
	// its answers (slow, huge, malformed…).
	IntrospectionURL string

	tb  testing.TB // nil outside tests: then misuse panics
	srv *httptest.Server

	issuer string               // the issuer identifier
	paths  [numEndpoints]string // by endpoint, for routing
	urls   [numEndpoints]string // by endpoint: srv.URL + path

	now        func() time.Time
	lifetime   time.Duration
	defaultAlg string
	audience   []string
	clients    map[string]Client
	scopes     []string // union of the clients' scopes, for scopes_supported

	serveMetadata bool
	serveOIDC     bool
	metadataExtra map[string]any

	requests [numEndpoints]atomic.Int64

	opaqueMu sync.RWMutex
	opaque   map[string][]byte // opaque token -> its introspection answer

	mu       sync.RWMutex
	keys     []*key          // every key, published or retired, oldest first
	current  map[string]*key // alg -> the key that signs it by default
	down     bool
	handlers [numEndpoints]http.Handler // set by Handle; nil: the issuer's own

	closeOnce sync.Once
}

// NewIssuer starts an [Issuer] on 127.0.0.1 with the given options (nil
// means all defaults) and registers its shutdown with tb.Cleanup.
//
// NewIssuer calls tb.Fatal on bad options or when it cannot start, so call
// it from the test goroutine. tb may be nil outside tests, as in this
// package's examples: then NewIssuer panics instead, and the caller must
// call [Issuer.Close].
func NewIssuer(tb testing.TB, opts *Options) *Issuer {
	if tb != nil {
		tb.Helper()
	}
	if opts == nil {
		opts = &Options{}
	}
	is, err := newIssuer(tb, opts)
	if err != nil {
		if tb == nil {
			panic("validatetest: " + err.Error())
		}
		tb.Fatalf("validatetest: %v", err)
		return nil
	}
	if tb != nil {
		tb.Cleanup(is.Close)
	}
	return is
}

func newIssuer(tb testing.TB, opts *Options) (*Issuer, error) {
	if err := checkPath(opts.Path); err != nil {
		return nil, err
	}
	if opts.Lifetime < 0 {
		return nil, fmt.Errorf("negative Lifetime %v", opts.Lifetime)
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = []string{"RS256", "PS256", "ES256", "EdDSA"}
	}
	for i, alg := range algs {
		if !canGenerate(alg) {
			return nil, fmt.Errorf("cannot generate a key for algorithm %q", alg)
		}
		if slices.Contains(algs[:i], alg) {
			return nil, fmt.Errorf("algorithm %q listed twice", alg)
		}
	}
	defaultAlg := opts.DefaultAlgorithm
	switch {
	case defaultAlg == "" && slices.Contains(algs, "RS256"):
		defaultAlg = "RS256"
	case defaultAlg == "":
		defaultAlg = algs[0]
	case !slices.Contains(algs, defaultAlg):
		return nil, fmt.Errorf("DefaultAlgorithm %q is not in Algorithms", defaultAlg)
	}
	clients := make(map[string]Client, len(opts.Clients))
	var scopes []string
	for _, c := range opts.Clients {
		if c.ID == "" || c.Secret == "" {
			return nil, fmt.Errorf("client %q: ID and Secret are required", c.ID)
		}
		if _, dup := clients[c.ID]; dup {
			return nil, fmt.Errorf("client %q registered twice", c.ID)
		}
		for _, s := range c.Scopes {
			if !check.IsScopeToken(s) {
				return nil, fmt.Errorf("client %q: invalid scope %q (RFC 6749 §3.3)", c.ID, s)
			}
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		c.Scopes = slices.Clone(c.Scopes)
		clients[c.ID] = c
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	lifetime := opts.Lifetime
	if lifetime == 0 {
		lifetime = defaultLifetime
	}

	is := &Issuer{
		tb:            tb,
		now:           now,
		lifetime:      lifetime,
		defaultAlg:    defaultAlg,
		audience:      slices.Clone(opts.Audience),
		clients:       clients,
		scopes:        scopes,
		serveMetadata: !opts.DisableMetadata,
		serveOIDC:     !opts.DisableOpenIDConfiguration,
		metadataExtra: maps.Clone(opts.Metadata),
		current:       make(map[string]*key),
		opaque:        make(map[string][]byte),
	}
	for _, alg := range algs {
		k, err := generateKey(alg)
		if err != nil {
			return nil, err
		}
		is.keys = append(is.keys, k)
		is.current[alg] = k
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	is.srv = &httptest.Server{
		Listener: ln,
		Config:   &http.Server{Handler: http.HandlerFunc(is.serveHTTP), ReadHeaderTimeout: 10 * time.Second},
	}
	// Every field the handler reads is set before the server starts, so that
	// no request, from this process or another, can race with them.
	base := "https://" + ln.Addr().String() // as httptest.Server sets its URL
	if opts.PlainHTTP {
		base = "http://" + ln.Addr().String()
	}

	trimmed := strings.TrimSuffix(opts.Path, "/")
	is.issuer = base + opts.Path
	is.paths = [numEndpoints]string{
		metadataEndpoint: "/.well-known/oauth-authorization-server" + trimmed,
		oidcEndpoint:     trimmed + "/.well-known/openid-configuration",
		jwksEndpoint:     trimmed + "/jwks",
		tokenEndpoint:    trimmed + "/token",
		introEndpoint:    trimmed + "/introspect",
	}
	for e, p := range is.paths {
		is.urls[e] = base + p
	}
	is.URL = is.issuer
	is.MetadataURL = is.urls[metadataEndpoint]
	is.OpenIDConfigurationURL = is.urls[oidcEndpoint]
	is.JWKSURL = is.urls[jwksEndpoint]
	is.TokenURL = is.urls[tokenEndpoint]
	is.IntrospectionURL = is.urls[introEndpoint]
	if opts.PlainHTTP {
		is.srv.Start()
	} else {
		is.srv.StartTLS()
	}
	if is.srv.URL != base {
		is.srv.Close()
		return nil, fmt.Errorf("validatetest: the server's URL %s is not %s", is.srv.URL, base)
	}
	return is, nil
}

// endpoint is one of the URLs the issuer serves.
type endpoint int

const (
	metadataEndpoint endpoint = iota // RFC 8414 §3.1, path-inserted
	oidcEndpoint                     // OpenID Connect Discovery §4
	jwksEndpoint
	tokenEndpoint
	introEndpoint // RFC 7662 §2
	numEndpoints
)

// endpointOf returns the endpoint served at url, one of the issuer's URL
// fields as NewIssuer set them.
func (is *Issuer) endpointOf(url string) (endpoint, bool) {
	for e, u := range is.urls {
		if url == u {
			return endpoint(e), true
		}
	}
	return 0, false
}

// checkPath refuses an issuer path that is not a plain absolute path.
func checkPath(p string) error {
	if p == "" {
		return nil
	}
	if p[0] != '/' || strings.Contains(p, "//") {
		return fmt.Errorf("path %q: want \"\" or an absolute path such as \"/tenants/a\"", p)
	}
	for _, c := range p {
		if !isUnreserved(c) && c != '/' {
			return fmt.Errorf("path %q: only unreserved characters (RFC 3986 §2.3) and \"/\" are allowed", p)
		}
	}
	return nil
}

func isUnreserved(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// Close shuts the server down and blocks until its requests have finished.
// [NewIssuer] registers it with tb.Cleanup; calling it again does nothing.
func (is *Issuer) Close() {
	is.closeOnce.Do(is.srv.Close)
}

// Client returns an HTTP client that trusts the issuer's TLS certificate,
// for the code under test to fetch metadata and keys with (the HTTPClient
// of a validating configuration: validate.Config.Fetch.HTTPClient). It is closed with the issuer.
func (is *Issuer) Client() *http.Client { return is.srv.Client() }

// SetDown makes the metadata and JWKS URLs answer 503 Service Unavailable
// while down is true, to test behaviour during an issuer outage. The token
// endpoint keeps working. Requests are still counted.
func (is *Issuer) SetDown(down bool) {
	is.mu.Lock()
	is.down = down
	is.mu.Unlock()
}

// Handle makes h answer the requests for the endpoint at url —
// [Issuer.MetadataURL], OpenIDConfigurationURL, JWKSURL, TokenURL or
// IntrospectionURL — instead
// of the issuer, to serve garbage, huge or slow responses, or a document of
// the test's own (also at a discovery URL that [Options] disables). A nil h
// restores the issuer's own endpoint. [Issuer.SetDown] takes precedence at
// the URLs it takes down; requests are still counted ([Issuer.Requests]). A
// slow h should return once r.Context() is done: [Issuer.Close] waits for
// running requests. Any other url is reported to the test as an error.
func (is *Issuer) Handle(url string, h http.Handler) {
	if is.tb != nil {
		is.tb.Helper()
	}
	e, ok := is.endpointOf(url)
	if !ok {
		is.fail("Handle: %q is none of the issuer's endpoint URLs", url)
		return
	}
	is.mu.Lock()
	is.handlers[e] = h
	is.mu.Unlock()
}

// Requests returns how many requests the endpoint at url —
// [Issuer.MetadataURL], OpenIDConfigurationURL, JWKSURL, TokenURL or
// IntrospectionURL — has
// received, whatever the answer: 404 for a disabled discovery document, 503
// while down, and those answered by a handler of [Issuer.Handle] included.
// Any other url is reported to the test as an error, and Requests returns 0.
func (is *Issuer) Requests(url string) int {
	if is.tb != nil {
		is.tb.Helper()
	}
	e, ok := is.endpointOf(url)
	if !ok {
		is.fail("Requests: %q is none of the issuer's endpoint URLs", url)
		return 0
	}
	return int(is.requests[e].Load())
}

// handler returns the handler Handle set for e, or nil.
func (is *Issuer) handler(e endpoint) http.Handler {
	is.mu.RLock()
	defer is.mu.RUnlock()
	return is.handlers[e]
}

// serveHTTP routes by exact path; anything else is 404.
func (is *Issuer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	for e, p := range is.paths {
		if r.URL.Path != p {
			continue
		}
		is.requests[e].Add(1)
		switch endpoint(e) {
		case metadataEndpoint, oidcEndpoint:
			is.serveMetadataDoc(w, r, endpoint(e))
		case jwksEndpoint:
			is.serveJWKS(w, r)
		case tokenEndpoint:
			if h := is.handler(tokenEndpoint); h != nil {
				h.ServeHTTP(w, r)
				return
			}
			is.serveToken(w, r)
		case introEndpoint:
			if h := is.handler(introEndpoint); h != nil {
				h.ServeHTTP(w, r)
				return
			}
			is.serveIntrospection(w, r)
		}
		return
	}
	http.NotFound(w, r)
}

// fail reports a misuse of the issuer by test code: tb.Errorf (safe from any
// goroutine) or, without tb, a panic.
func (is *Issuer) fail(format string, args ...any) {
	if is.tb == nil {
		panic("validatetest: " + fmt.Sprintf(format, args...))
	}
	is.tb.Helper()
	is.tb.Errorf("validatetest: "+format, args...)
}

// merge applies overrides to m in place: a nil value deletes the member.
func merge(m, overrides map[string]any) {
	for k, v := range overrides {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}
