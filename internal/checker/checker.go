package checker

import (
	"context"
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

	// ClientID and ClientSecret are client credentials at the server's
	// authorization server, for the client_credentials grant (RFC 6749
	// §4.4): both, or neither for a black-box run. Never printed.
	ClientID     string
	ClientSecret string

	// Scopes are the scopes the run's ordinary token asks for. If nil, the
	// scopes the 401 challenge names (none: the authorization server's
	// default).
	Scopes []string

	// Tool, if set, is a tool the stepup check calls (nothing is called by
	// default: a tool may be destructive), with ToolArguments ({} if nil).
	Tool          string
	ToolArguments map[string]any

	// OtherResource is the resource a token is asked for, for "a token for
	// another resource is refused". If empty, DefaultOtherResource.
	OtherResource string

	// Timeout bounds the whole run, RequestTimeout each request, and
	// MaxRequests the requests sent. If zero, DefaultTimeout,
	// DefaultRequestTimeout and DefaultMaxRequests.
	Timeout        time.Duration
	RequestTimeout time.Duration
	MaxRequests    int

	// Transport sends the requests the run lets through. If nil, a clone
	// of http.DefaultTransport: the system's roots of trust, no proxy
	// unless the environment names one.
	Transport http.RoundTripper
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
	for _, s := range cfg.Scopes {
		if !check.IsScopeToken(s) {
			return false, bad("scope %q is not an RFC 6749 §3.3 scope token", s)
		}
	}
	if cfg.ToolArguments != nil && cfg.Tool == "" {
		return false, bad("tool arguments without a tool")
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
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport.(*http.Transport).Clone()
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
// the authorization servers its metadata names.
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
		rep.finish(d, nil, 0, start)
		return rep, nil
	}

	deadline := fmt.Errorf("the run was cut short: its time was up (-timeout %v)", cfg.Timeout)
	runCtx, cancel := context.WithTimeoutCause(ctx, cfg.Timeout, deadline)
	defer cancel()
	rec := conformance.NewRecorder("mcpcheck")
	g := newGuard(cfg.Transport, runCtx, cfg.MaxRequests, rec.Halt)
	stopWatch := context.AfterFunc(runCtx, func() {
		cause := context.Cause(runCtx)
		if errors.Is(cause, context.Canceled) {
			cause = errors.New("the run was cut short: it was interrupted")
		}
		g.stop(cause.Error())
	})
	defer stopWatch()
	client := &http.Client{Transport: g, CheckRedirect: conformance.NoRedirects, Timeout: cfg.RequestTimeout}

	t := d.discover(runCtx, cfg, client, g, rep)
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
			rec.Halt("the run was cut short: a check did not return")
		}
	}
	rep.finish(d, rec, g.requests(), start)
	if halt := rec.Halted(); halt != "" {
		rep.CutShort = halt
	} else if halt := g.halted(); halt != "" {
		rep.CutShort = halt
	}
	if rep.CutShort != "" {
		rep.Passed = false
	}
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
func (d *discovery) discover(ctx context.Context, cfg Config, client *http.Client, g *guard, rep *Report) *conformance.Target {
	metadataURL, _ := rsmeta.WellKnownURL(cfg.Endpoint) // checked by Config.check
	rep.MetadataURL = metadataURL
	g.allow(cfg.Endpoint)
	t := &conformance.Target{
		Caller: "mcpcheck", Endpoint: cfg.Endpoint, Resource: cfg.Endpoint,
		MetadataURL: metadataURL, MetadataGet: metadataURL, Client: client,
		MCP: true, OtherResource: cfg.OtherResource, StreamWait: min(cfg.RequestTimeout, DefaultRequestTimeout),
	}
	if cfg.Scopes != nil {
		t.TokenScopes = cfg.Scopes
	}
	if cfg.Tool != "" {
		args := cfg.ToolArguments
		if args == nil {
			args = map[string]any{}
		}
		t.StepUpTools = []string{cfg.Tool}
		t.ToolArguments = map[string]map[string]any{cfg.Tool: args}
	}

	// The challenge to a request without a token.
	status, values, err := t.Challenge()
	var challengeMetadata string
	if err != nil {
		d.fail("the endpoint cannot be reached: %v. Make the MCP endpoint reachable at this URL.", err)
	} else {
		ci := readChallenges(values)
		d.note("a request without a token got status %d with %s", status, ci.describe())
		t.DPoP = ci.mode()
		t.Scopes = ci.scope
		challengeMetadata = ci.resourceMetadata
	}
	rep.DPoP = t.DPoP.String()

	// The authorization servers, from the metadata at the path-inserted
	// URL, or else at the challenge's URL on the endpoint's origin.
	servers, from := d.authorizationServers(ctx, client, metadataURL, challengeMetadata)
	if len(servers) > 0 {
		d.note("the metadata at %s names the authorization servers %q", from, servers)
	}
	rep.AuthorizationServers = append(rep.AuthorizationServers, servers...)
	var usable []string
	for _, as := range servers {
		if u, err := url.Parse(as); err == nil && u.IsAbs() && u.Host != "" && loopback.AllowsScheme(u) && len(usable) < 5 {
			g.allow(as)
			usable = append(usable, as)
		}
	}

	// The first of them whose metadata gives its issuer, and its keys.
	var as *conformance.ASMetadata
	for _, s := range usable {
		m, err := conformance.FetchASMetadata(ctx, client, s)
		if err == nil && m.Issuer == s {
			as = m
			break
		}
	}
	if as == nil {
		if len(usable) > 0 {
			d.note("no authorization server the metadata names serves metadata with its own issuer: forged tokens claim no issuer and the checks that name its key are not checkable")
		}
	} else {
		t.Issuer = as.Issuer
		rep.Issuer = as.Issuer
		d.note("the authorization server %s serves its metadata at %s", as.Issuer, as.URL)
		if as.JWKSURI != "" && allowed(g, as.JWKSURI) {
			t.IssuerKey = d.issuerKey(ctx, client, as.JWKSURI)
		}
	}

	// A token, with credentials.
	if cfg.ClientID == "" {
		d.note("no client credentials: a black-box run, in which the checks that need a token are not checkable")
		return t
	}
	switch {
	case as == nil:
		d.fail("client credentials were given, but no authorization server was found to use them with (see the metadata and authorization servers checks). Publish the authorization server in the metadata's authorization_servers, with metadata whose issuer matches.")
		return t
	case as.TokenEndpoint == "" || !allowed(g, as.TokenEndpoint):
		d.fail("client credentials were given, but the authorization server %s names no token endpoint mcpcheck may use (%q). Publish an https token_endpoint in its metadata.", as.Issuer, as.TokenEndpoint)
		return t
	}
	src, err := newClientCredentials(ctx, client, as, cfg.ClientID, cfg.ClientSecret, cfg.Endpoint, rep.secrets)
	if err != nil {
		d.fail("client credentials were given, but cannot be used: %v. Check the authorization server's token endpoint.", err)
		return t
	}
	scopes := t.TokenScopes
	if scopes == nil {
		scopes = t.Scopes
	}
	if _, err := src.Token(scopes); err != nil {
		d.fail("client credentials were given, but no token for %s with the scopes %q was issued: %v. Check the client id, secret and allowed scopes at the authorization server (or -scopes).", cfg.Endpoint, scopes, err)
		return t
	}
	t.Tokens = src
	rep.Credentials = true
	d.note("a token for %s (RFC 8707 resource) was issued at %s with the client_credentials grant", cfg.Endpoint, as.TokenEndpoint)
	return t
}

// allowed lets the guard through to u if it is https (or http on a
// loopback host).
func allowed(g *guard, u string) bool {
	pu, err := url.Parse(u)
	if err != nil || !pu.IsAbs() || pu.Host == "" || !loopback.AllowsScheme(pu) {
		return false
	}
	return g.allow(u)
}

// authorizationServers reads the metadata's authorization_servers at the
// path-inserted URL or, if it has none there, at the challenge's
// resource_metadata if that is on the same origin (another origin's is
// never fetched). It returns them and where they were found.
func (d *discovery) authorizationServers(ctx context.Context, client *http.Client, metadataURL, challengeURL string) ([]string, string) {
	body, _, err := conformance.FetchDocument(ctx, client, metadataURL)
	if err == nil {
		servers, perr := conformance.AuthorizationServers(body)
		if perr == nil {
			return servers, metadataURL
		}
		err = perr
	}
	d.note("no authorization servers from the metadata at %s: %v", metadataURL, err)
	if challengeURL == "" || challengeURL == metadataURL {
		return nil, ""
	}
	cu, err1 := url.Parse(challengeURL)
	mu, err2 := url.Parse(metadataURL)
	if err1 != nil || err2 != nil || !cu.IsAbs() || originOf(cu) != originOf(mu) {
		d.note("the challenge's resource_metadata %s is on another origin: not fetched", challengeURL)
		return nil, ""
	}
	body, _, err = conformance.FetchDocument(ctx, client, challengeURL)
	if err == nil {
		servers, perr := conformance.AuthorizationServers(body)
		if perr == nil {
			return servers, challengeURL
		}
		err = perr
	}
	d.note("no authorization servers from the challenge's resource_metadata %s either: %v", challengeURL, err)
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
	if ch := cmpOr(bearer, dpop); ch != nil {
		ci.resourceMetadata = ch.ResourceMetadata
		ci.scope = slices.Clone(ch.Scope)
	}
	return ci
}

func cmpOr(a, b *rsmeta.Challenge) *rsmeta.Challenge {
	if a != nil {
		return a
	}
	return b
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
