package checker

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/internal/conformance"
	"github.com/rsguard/rsguard/internal/loopback"
	"github.com/rsguard/rsguard/rsmeta"
)

// Defaults of Config.
const (
	DefaultTimeout        = 3 * time.Minute
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxRequests is a margin above what a full run with
	// credentials and a step-up tool sends to the test server of this
	// package's tests.
	DefaultMaxRequests = 1000
	// DefaultOtherResource is the resource a token for "another resource"
	// is asked for.
	DefaultOtherResource = "https://other-resource.invalid/mcp"
)

// grace is how long Run waits, past the deadline, for the check that was
// running to return before it reports without it.
const grace = 5 * time.Second

// Config is one run of the checker against one MCP endpoint.
type Config struct {
	// Endpoint is the MCP endpoint (https://mcp.example.com/mcp): where
	// requests go, and the resource identifier its metadata must give,
	// byte for byte (RFC 9728 §3.3). An absolute http or https URL without
	// userinfo or fragment. Required.
	Endpoint string

	// ClientID and ClientSecret are client credentials at the
	// authorization server Issuer, for the client_credentials grant (RFC
	// 6749 §4.4): both, or neither for a black-box run. Never printed.
	ClientID     string
	ClientSecret string

	// Issuer is the issuer identifier (RFC 8414 §2) of the authorization
	// server the credentials are for: the client secret goes only to the
	// token endpoint of the metadata fetched from this issuer, whose
	// "issuer" must be it, and only if the server's metadata names it in
	// authorization_servers. Required with credentials. Without them,
	// optional: forged tokens then claim it and name its key, instead of
	// those of the first authorization server the metadata names whose
	// metadata matches. https, or http on a loopback host when the
	// endpoint is on loopback too; no query, fragment or userinfo.
	Issuer string

	// Scopes, if non-nil, are the scopes the 401 challenge must name, and
	// those of the run's ordinary token. If nil, the challenge must name
	// some (MCP authorization, scope selection strategy), which the token
	// asks for.
	Scopes []string

	// Tool, if set, is a tool the stepup check calls (nothing is called by
	// default: a tool may be destructive), with ToolArguments ({} if nil).
	// ToolScopes, if non-nil, are the scopes a call of Tool needs, all of
	// them: a token lacking one must get 403 insufficient_scope, and those
	// scopes (and exactly the tool's) must let it through. If nil, the
	// tool's scopes are not known: the call is made with the run's token
	// and, refused with 403 insufficient_scope, again with the scopes the
	// 403 names.
	Tool          string
	ToolScopes    []string
	ToolArguments map[string]any

	// OtherResource is the resource a token is asked for, for "a token for
	// another resource is refused": that token, a real one, is then sent
	// to the endpoint. If empty, DefaultOtherResource.
	OtherResource string

	// Timeout bounds the whole run, RequestTimeout each request, and
	// MaxRequests the requests sent. If zero, DefaultTimeout,
	// DefaultRequestTimeout and DefaultMaxRequests.
	Timeout        time.Duration
	RequestTimeout time.Duration
	MaxRequests    int

	// RootCAs are the roots of trust of https. If nil, the system's.
	RootCAs *x509.CertPool

	// net replaces, in tests, name resolution and where connections go.
	net netSeam
}

// ErrConfig marks an error in Config: the command's usage errors.
var ErrConfig = errors.New("checker: bad configuration")

// check checks cfg and fills in its defaults. It reports whether the
// endpoint is plain http on a host that is not loopback (not an error: a
// failure of the server's, reported without sending anything).
func (cfg *Config) check() (plainHTTP bool, err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(cfg.Endpoint)
	switch {
	case cfg.Endpoint == "":
		return false, bad("the endpoint URL is required")
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return false, bad("%q is not an absolute URL", cfg.Endpoint)
	case u.Scheme != "https" && u.Scheme != "http":
		return false, bad("%q: the scheme must be https (or http)", cfg.Endpoint)
	case u.User != nil:
		return false, bad("%q: an MCP endpoint has no userinfo", cfg.Endpoint)
	case strings.Contains(cfg.Endpoint, "#"):
		return false, bad("%q: a resource identifier has no fragment (RFC 8707 §2)", cfg.Endpoint)
	}
	plainHTTP = !loopback.AllowsScheme(u)
	if !plainHTTP {
		if _, err := rsmeta.WellKnownURL(cfg.Endpoint); err != nil {
			return false, bad("%v", err)
		}
	}
	if (cfg.ClientID == "") != (cfg.ClientSecret == "") {
		return false, bad("give both the client id and the client secret, or neither")
	}
	if cfg.Issuer == "" && cfg.ClientID != "" {
		return false, bad("client credentials need the issuer identifier of the authorization server they are for (-issuer, or MCPCHECK_ISSUER): the secret goes only to that server's token endpoint")
	}
	if cfg.Issuer != "" {
		iu, err := conformance.ParseIssuer(cfg.Issuer)
		if err != nil {
			return false, bad("the issuer %q is not an issuer identifier (RFC 8414 §2): %v", cfg.Issuer, err)
		}
		if strings.EqualFold(iu.Scheme, "http") && !loopback.IsHost(u.Hostname()) {
			return false, bad("the issuer %q is plain http: only for an endpoint on loopback too", cfg.Issuer)
		}
	}
	for _, list := range [][]string{cfg.Scopes, cfg.ToolScopes} {
		for _, s := range list {
			if !check.IsScopeToken(s) {
				return false, bad("scope %q is not an RFC 6749 §3.3 scope token", s)
			}
		}
	}
	if (cfg.ToolArguments != nil || cfg.ToolScopes != nil) && cfg.Tool == "" {
		return false, bad("tool arguments or scopes without a tool")
	}
	if cfg.OtherResource == "" {
		cfg.OtherResource = DefaultOtherResource
	} else if o, err := url.Parse(cfg.OtherResource); err != nil || !o.IsAbs() || o.Host == "" || strings.Contains(cfg.OtherResource, "#") {
		return false, bad("other resource %q is not an absolute URL without a fragment (RFC 8707 §2)", cfg.OtherResource)
	}
	if cfg.Timeout < 0 || cfg.RequestTimeout < 0 || cfg.MaxRequests < 0 {
		return false, bad("the timeouts and the request budget must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	return plainHTTP, nil
}

// Run checks the endpoint: it discovers what a client learns from the
// endpoint URL alone (the challenge, the metadata, the authorization server
// and its keys), gets a token if it has credentials, and runs the checks of
// package conformance, the ones validatetest.Conformance runs. It returns
// an error wrapping ErrConfig for a bad cfg, before sending anything;
// everything the server does wrong, an unreachable endpoint included, is in
// the report. The run ends by cfg.Timeout or when ctx is done, and sends at
// most cfg.MaxRequests requests, all to the endpoint's origin and those of
// the authorization servers its metadata names (and of cfg.Issuer), to
// addresses the dial-time policy allows (see the command's documentation).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	plainHTTP, err := cfg.check()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Endpoint: cfg.Endpoint, Resource: cfg.Endpoint, AuthorizationServers: []string{}, secrets: &secrets{}}
	rep.secrets.add(cfg.ClientSecret)
	d := &discovery{name: "discovery"}
	if plainHTTP {
		d.fail("the endpoint %s is plain http on a host that is not loopback: tokens would cross the network in clear text, and MCP clients refuse it. Serve the MCP endpoint over https (OAuth 2.1 §1.5; MCP authorization, communication security).", cfg.Endpoint)
		rep.finish(d, nil, 0, start, "")
		return rep, nil
	}

	deadline := &cutShort{fmt.Sprintf("%s: its time was up (-timeout %v)", cutShortPrefix, cfg.Timeout)}
	runCtx, cancel := context.WithTimeoutCause(ctx, cfg.Timeout, deadline)
	defer cancel()
	rec := conformance.NewRecorder("mcpcheck")
	eu, _ := url.Parse(cfg.Endpoint) // checked by Config.check
	onLoopback := loopback.IsHost(eu.Hostname())
	dl := &dialer{seam: cfg.net}
	dl.setPolicy(addrPolicy{open: onLoopback})
	g := newGuard(newTransport(dl, cfg.RootCAs), runCtx, cfg.MaxRequests, onLoopback, rec.Halt)
	stopWatch := context.AfterFunc(runCtx, func() { g.stop(g.cutReason()) })
	defer stopWatch()
	client := &http.Client{Transport: g, CheckRedirect: conformance.NoRedirects, Timeout: cfg.RequestTimeout}

	t := d.discover(runCtx, cfg, client, g, dl, onLoopback, rep)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec.Run(func(r conformance.Reporter) { conformance.Run(r, t) })
	}()
	select {
	case <-done:
	case <-runCtx.Done():
		select {
		case <-done:
		case <-time.After(grace):
			rec.Halt(cutShortPrefix + ": a check did not return")
		}
	}
	cut := rec.Halted()
	if cut == "" {
		cut = g.halted()
	}
	rep.finish(d, rec, g.requests(), start, cut)
	return rep, nil
}

// discovery is what the run learns before the checks, reported as their
// first line, "discovery": notes, and failures that are the server's or the
// credentials'.
type discovery struct {
	name     string
	notes    []string
	failures []string
}

func (d *discovery) note(format string, args ...any) {
	d.notes = append(d.notes, fmt.Sprintf(format, args...))
}

func (d *discovery) fail(format string, args ...any) {
	d.failures = append(d.failures, fmt.Sprintf(format, args...))
}

// discover learns from the endpoint URL alone what a client learns, and
// describes the server to the engine. Nothing it fails to learn stops the
// run: the checks that judge it report it, and those that need it are not
// checkable.
func (d *discovery) discover(ctx context.Context, cfg Config, client *http.Client, g *guard, dl *dialer, onLoopback bool, rep *Report) *conformance.Target {
	metadataURL, _ := rsmeta.WellKnownURL(cfg.Endpoint) // checked by Config.check
	rep.MetadataURL = metadataURL
	g.allow(cfg.Endpoint)
	t := &conformance.Target{
		Caller: "mcpcheck", Endpoint: cfg.Endpoint, Resource: cfg.Endpoint,
		MetadataURL: metadataURL, MetadataGet: metadataURL, Client: client,
		MCP: true, OtherResource: cfg.OtherResource, StreamWait: min(cfg.RequestTimeout, DefaultRequestTimeout),
	}
	if cfg.Scopes != nil {
		t.Scopes, t.TokenScopes = cfg.Scopes, cfg.Scopes
	} else {
		t.ChallengeScopeRequired = true
	}
	if cfg.Tool != "" {
		args := cfg.ToolArguments
		if args == nil {
			args = map[string]any{}
		}
		t.ToolArguments = map[string]map[string]any{cfg.Tool: args}
		if cfg.ToolScopes != nil {
			t.Tools = map[string][]string{cfg.Tool: cfg.ToolScopes}
		} else {
			t.StepUpTools = []string{cfg.Tool}
		}
	}

	// The endpoint's addresses, for the whole run: the dial-time policy
	// follows from them.
	if !onLoopback {
		host := strings.TrimSuffix(strings.TrimPrefix(hostOf(cfg.Endpoint), "["), "]")
		if addrs, err := dl.pin(ctx, host); err == nil {
			p := addrPolicy{}
			for _, a := range addrs {
				if class(a) == "private" {
					p.private = true
				}
			}
			dl.setPolicy(p)
			if p.private {
				d.note("the endpoint's host %s resolves to a private address (%s): private addresses are allowed for its authorization servers", host, addrs[0])
			}
		}
	}

	// The challenge to a request without a token.
	status, values, err := t.Challenge()
	var challengeMetadata string
	var cs *cutShort
	switch {
	case errors.As(err, &cs):
		d.fail("the endpoint did not answer a request without a token before %s.", cs.reason)
	case err != nil:
		d.fail("the endpoint cannot be reached: %v. Make the MCP endpoint reachable at this URL.", err)
	default:
		ci := readChallenges(values)
		d.note("a request without a token got status %d with %s", status, ci.describe())
		t.DPoP = ci.mode()
		if cfg.Scopes == nil {
			t.TokenScopes = ci.scope
		}
		challengeMetadata = ci.resourceMetadata
	}
	rep.DPoP = t.DPoP.String()

	// The authorization servers, from the metadata a client reads: at the
	// challenge's resource_metadata, if it is on the endpoint's origin, or
	// else at the path-inserted URL; a document whose resource is not the
	// endpoint is discarded (RFC 9728 §3.3).
	servers, from := d.authorizationServers(ctx, client, cfg.Endpoint, metadataURL, challengeMetadata)
	if len(servers) > 0 {
		d.note("the metadata at %s names the authorization servers %q", from, servers)
	}
	rep.AuthorizationServers = append(rep.AuthorizationServers, servers...)
	var usable []string
	for _, as := range servers {
		switch u, err := conformance.ParseIssuer(as); {
		case err != nil:
			d.note("authorization server %q not used: not an issuer identifier, %v (RFC 8414 §2)", as, err)
		case strings.EqualFold(u.Scheme, "http") && !onLoopback:
			d.note("authorization server %q not used: plain http, for an endpoint that is not on loopback", as)
		case len(usable) < 5:
			g.allow(as)
			usable = append(usable, as)
		}
	}

	// The issuer: the one named (-issuer), whose metadata is fetched from
	// it, or else the first of the servers whose metadata gives its own
	// identifier; and its keys.
	var as *conformance.ASMetadata
	named := true
	if cfg.Issuer != "" {
		g.allow(cfg.Issuer)
		if !slices.Contains(servers, cfg.Issuer) {
			named = false
			consequence := ""
			if cfg.ClientID != "" {
				consequence = ", so no token was asked for"
			}
			d.fail("the server's metadata does not name the issuer %s (-issuer) in its authorization_servers (%q, from %s): a client would not take tokens from it for this resource (RFC 9728 §2; MCP authorization, authorization server discovery)%s. Publish that issuer identifier in the metadata's authorization_servers, or name with -issuer the issuer it lists.", cfg.Issuer, servers, orNone(from), consequence)
		}
		m, err := conformance.FetchASMetadata(ctx, client, cfg.Issuer)
		switch {
		case err != nil:
			d.fail("the metadata of the issuer %s (-issuer) cannot be fetched: %v. Check -issuer: it must be the authorization server's issuer identifier, serving RFC 8414 or OpenID Connect Discovery metadata (RFC 8414 §3).", cfg.Issuer, err)
		case m.Issuer != cfg.Issuer:
			d.fail(`the metadata at %s gives "issuer" %q, not %s (-issuer): a client stops there (RFC 8414 §3.3), and so does mcpcheck. Name with -issuer the identifier the authorization server's metadata gives.`, m.URL, m.Issuer, cfg.Issuer)
		default:
			as = m
		}
	} else {
		for _, s := range usable {
			m, err := conformance.FetchASMetadata(ctx, client, s)
			if err == nil && m.Issuer == s {
				as = m
				break
			}
		}
		if as == nil && len(usable) > 0 {
			d.note("no authorization server the metadata names serves metadata with its own issuer: forged tokens claim no issuer and the checks that name its key are not checkable")
		}
	}
	if as != nil {
		t.Issuer = as.Issuer
		rep.Issuer = as.Issuer
		d.note("the authorization server %s serves its metadata at %s", as.Issuer, as.URL)
		if as.JWKSURI != "" && d.allowedURL(g, as.JWKSURI, onLoopback, "jwks_uri") {
			t.IssuerKey = d.issuerKey(ctx, client, as.JWKSURI)
		}
	}

	// A token, with credentials.
	if cfg.ClientID == "" {
		d.note("no client credentials: a black-box run, in which the checks that need a token are not checkable")
		return t
	}
	if !named || as == nil {
		return t // failed above: the secret goes nowhere
	}
	if as.TokenEndpoint == "" {
		d.fail(`client credentials were given, but the metadata of %s has no "token_endpoint" (RFC 8414 §2). Publish the token endpoint in the authorization server's metadata.`, as.Issuer)
		return t
	}
	src, err := newClientCredentials(ctx, client, as, cfg.ClientID, cfg.ClientSecret, cfg.Endpoint, rep.secrets)
	if err != nil {
		d.fail("client credentials were given, but cannot be used: %v. Check the authorization server's token endpoint (RFC 8414 §2; OAuth 2.1 §1.5).", err)
		return t
	}
	g.allow(as.TokenEndpoint)
	scopes := t.TokenScopes
	if _, err := src.Token(scopes); err != nil {
		d.fail("client credentials were given, but no token for %s with the scopes %q was issued: %v. Check the client id, secret and allowed scopes at the authorization server (or -scopes; RFC 6749 §4.4, §5.2).", cfg.Endpoint, scopes, err)
		return t
	}
	t.Tokens = src
	rep.Credentials = true
	d.note("a token for %s (RFC 8707 resource) was issued at %s with the client_credentials grant", cfg.Endpoint, as.TokenEndpoint)
	return t
}

// allowedURL lets the guard through to u, a URL the issuer's metadata
// names (what), if it is absolute and https (http only on a loopback host
// when the endpoint is on loopback); else it notes why not and reports
// false.
func (d *discovery) allowedURL(g *guard, u string, onLoopback bool, what string) bool {
	pu, err := url.Parse(u)
	switch {
	case err != nil || !pu.IsAbs() || pu.Host == "" || !loopback.AllowsScheme(pu):
		d.note("the issuer's %s %q is not an https URL: not fetched", what, u)
		return false
	case strings.EqualFold(pu.Scheme, "http") && !onLoopback:
		d.note("the issuer's %s %q is plain http, for an endpoint that is not on loopback: not fetched", what, u)
		return false
	}
	return g.allow(u)
}

// hostOf is the host of the URL u (checked), without its port.
func hostOf(u string) string {
	pu, _ := url.Parse(u)
	return pu.Hostname()
}

// authorizationServers reads the authorization_servers of the resource
// metadata a client reads, in the order MCP clients (2025-11-25) look for
// it: at the challenge's resource_metadata, if it is on the endpoint's
// origin (another origin's is never fetched), then at the path-inserted
// URL. A document whose "resource" is not the endpoint is discarded, and
// noted: a client must not use it (RFC 9728 §3.3). It returns the servers
// of the first usable document and where it was found.
func (d *discovery) authorizationServers(ctx context.Context, client *http.Client, endpoint, metadataURL, challengeURL string) ([]string, string) {
	var candidates []string
	if challengeURL != "" && challengeURL != metadataURL {
		cu, err1 := url.Parse(challengeURL)
		mu, err2 := url.Parse(metadataURL)
		if err1 == nil && err2 == nil && cu.IsAbs() && originOf(cu) == originOf(mu) {
			candidates = append(candidates, challengeURL)
		} else {
			d.note("the challenge's resource_metadata %s is not on the endpoint's origin: not fetched", challengeURL)
		}
	}
	candidates = append(candidates, metadataURL)
	for _, u := range candidates {
		body, _, err := conformance.FetchDocument(ctx, client, u)
		if err != nil {
			d.note("no metadata at %s: %v", u, err)
			continue
		}
		var doc struct {
			Resource *string `json:"resource"`
		}
		_ = json.Unmarshal(body, &doc)
		switch {
		case doc.Resource == nil:
			d.note(`the metadata at %s is discarded: it has no "resource" string (RFC 9728 §2)`, u)
			continue
		case *doc.Resource != endpoint:
			d.note(`the metadata at %s is discarded: its "resource" %q is not the endpoint, and a client must not use it (RFC 9728 §3.3)`, u, *doc.Resource)
			continue
		}
		servers, err := conformance.AuthorizationServers(body)
		if err != nil {
			d.note("no authorization servers from the metadata at %s: %v", u, err)
			continue
		}
		return servers, u
	}
	return nil, ""
}

// issuerKey fetches the JWK Set and returns its first signing key, or nil.
func (d *discovery) issuerKey(ctx context.Context, client *http.Client, jwksURI string) *conformance.PublicKey {
	body, _, err := conformance.FetchDocument(ctx, client, jwksURI)
	if err != nil {
		d.note("the JWK Set at %s cannot be fetched (%v): the forged tokens that name or use the issuer's key are not checkable", jwksURI, err)
		return nil
	}
	k, err := signingKey(body)
	if err != nil {
		d.note("%v (%s): the forged tokens that name or use the issuer's key are not checkable", err, jwksURI)
		return nil
	}
	d.note("the issuer's signing key %q (%s) from %s stands for its keys in the forged tokens", k.Kid, k.Alg, jwksURI)
	return k
}

// challengeInfo is what a client reads of the challenges of a 401.
type challengeInfo struct {
	bearer, dpop     bool
	resourceMetadata string
	scope            []string
	unparsed         int
}

// readChallenges reads WWW-Authenticate field values: the schemes, and the
// resource_metadata and scope of the first Bearer challenge (else of the
// first DPoP one). Lines that do not parse are counted (the challenge check
// reports them).
func readChallenges(values []string) challengeInfo {
	var ci challengeInfo
	var bearer, dpop *rsmeta.Challenge
	for _, v := range values {
		cs, err := rsmeta.ParseChallenges(v)
		if err != nil {
			ci.unparsed++
			continue
		}
		for i := range cs {
			switch {
			case strings.EqualFold(cs[i].Scheme, "Bearer") && bearer == nil:
				bearer = &cs[i]
			case strings.EqualFold(cs[i].Scheme, "DPoP") && dpop == nil:
				dpop = &cs[i]
			}
		}
	}
	ci.bearer, ci.dpop = bearer != nil, dpop != nil
	if ch := cmp.Or(bearer, dpop); ch != nil {
		ci.resourceMetadata = ch.ResourceMetadata
		ci.scope = slices.Clone(ch.Scope)
	}
	return ci
}

// mode is the server's DPoP mode as its challenges say it (RFC 9449 §7.1).
func (ci challengeInfo) mode() conformance.DPoPMode {
	switch {
	case ci.dpop && ci.bearer:
		return conformance.DPoPAllowed
	case ci.dpop:
		return conformance.DPoPRequired
	}
	return conformance.DPoPOff
}

func (ci challengeInfo) describe() string {
	var schemes []string
	if ci.bearer {
		schemes = append(schemes, "Bearer")
	}
	if ci.dpop {
		schemes = append(schemes, "DPoP")
	}
	if len(schemes) == 0 {
		return "no Bearer or DPoP challenge (DPoP off assumed)"
	}
	s := fmt.Sprintf("the challenges %s (DPoP %s)", strings.Join(schemes, " and "), ci.mode())
	if ci.resourceMetadata != "" {
		s += fmt.Sprintf(", resource_metadata %s", ci.resourceMetadata)
	}
	if ci.scope != nil {
		s += fmt.Sprintf(", scope %q", ci.scope)
	}
	return s
}
