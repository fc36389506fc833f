package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Reporter is where a check reports, the part of *testing.T the checks use:
// validatetest adapts a *testing.T to it, its own tests record what a run
// reports, and a command prints it. Skipf and Fatalf end the current check
// (runtime.Goexit, as in package testing); Run runs f as a named sub-check
// and reports whether it passed.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	Name() string
	Cleanup(func())
	Run(name string, f func(Reporter)) bool
}

// Target is one run of the checks against one protected resource: where it
// is, what it must publish, and what the run has to make tokens with. The
// front end fills the exported fields (validatetest checks its
// ConformanceConfig and serves a Handler first); [Run] then owns the Target,
// which keeps the run's state (the MCP session, the attacker's keys). A
// Target is used once, from one goroutine.
type Target struct {
	// Caller names the front end in the messages of a fault that stops a
	// check ("validatetest.Conformance").
	Caller string

	// Endpoint is the URL requests are sent to.
	Endpoint string

	// Host, if set, is the Host header of every request, for a server
	// served on 127.0.0.1 that answers as Resource's host.
	Host string

	// Resource is the resource identifier: the metadata's "resource" (RFC
	// 9728 §2) and the "aud" of the run's tokens (RFC 8707).
	Resource string

	// MetadataURL is the resource_metadata every challenge must carry
	// (RFC 9728 §5.1); MetadataGet is where the metadata is fetched (the
	// same path, on the origin of Endpoint).
	MetadataURL string
	MetadataGet string

	// Client sends every request. Required.
	Client *http.Client

	// ASClient, if set, sends the requests to the authorization servers
	// the metadata names (the authorization servers check), instead of
	// Client: for a test issuer whose certificate only its own client
	// trusts. Those requests never carry Host.
	ASClient *http.Client

	// MCP, Tools, ToolArguments, Scopes, Claims, Request and Skip are as
	// validatetest.ConformanceConfig documents them.
	MCP           bool
	Tools         map[string][]string
	ToolArguments map[string]map[string]any
	Scopes        []string
	Claims        map[string]any
	Request       func(ctx context.Context, endpoint string) (*http.Request, error)
	Skip          []string

	// ChallengeScopeRequired, when Scopes is nil (the run does not know
	// which scopes the challenge must name: the checker command without
	// -scopes), fails a 401 challenge that names none (MCP authorization
	// 2025-11-25, scope selection strategy: servers SHOULD). Whatever it
	// says, with Scopes nil the scopes a challenge names must be in the
	// metadata's scopes_supported when that is published.
	ChallengeScopeRequired bool

	// StepUpTools are tools whose scopes the run does not know (the
	// checker command's -tool without -tool-scopes): the stepup check calls
	// each, in a session opened with a token of the run's scopes (see
	// TokenScopes), and, refused with 403 insufficient_scope, again with a
	// token granting those and the scopes the 403 names. A clean 2xx result
	// skips it (the step-up was not exercised); a JSON-RPC error or a tool
	// error (isError) is reported as what it is, and fails if it reads as a
	// scope refusal. A tool named in Tools too is checked as Tools says. No
	// other check calls a tool.
	StepUpTools []string

	// TokenScopes, if non-nil, are the scopes of the run's ordinary token
	// instead of Scopes (the checker command's: -scopes, or else those the
	// 401 challenge names), Scopes remaining what the challenge must name
	// (nil: not known).
	TokenScopes []string

	// OtherResource is the resource a token of the attack case "claims/aud
	// another resource" is for: minted with it as "aud", or asked for from
	// a [ResourceTokenSource]. If empty, https://other-resource.invalid/mcp.
	OtherResource string

	// Tokens is what the run makes tokens with, and so which checks it can
	// run: nil, none but the NeedsNothing checks (black-box); a
	// TokenSource, the NeedsToken checks too; a [Minter], every check.
	Tokens TokenSource

	// Issuer is, without a Minter, the identifier of the authorization
	// server the metadata must name and forged tokens claim to come from
	// ("" checks neither). A Minter's own is used instead.
	Issuer string

	// IssuerKey is, without a Minter, a signing key the authorization
	// server publishes, for the forged tokens that name its kid or use it
	// as an HMAC secret (RFC 8725 §2.1). If nil, those attacks are
	// skipped. A Minter's default key is used instead.
	IssuerKey *PublicKey

	// Now gives the times of forged tokens without a Minter. If nil,
	// time.Now.
	Now func() time.Time

	// StreamWait bounds the wait for the headers of an answer to a GET (an
	// SSE stream). If zero, 10 s.
	StreamWait time.Duration

	// DPoP is the server's DPoP mode, for the dpop check (see DPoPCases).
	DPoP DPoPMode

	// Introspection says that the server checks opaque tokens by
	// introspection at the Minter's issuer (an [Introspector]), for the
	// introspection check (see IntrospectionCases); IntrospectionTimeout
	// bounds the server's wait for an introspection answer (0: 5 s), and
	// IntrospectionRateLimit its introspection requests per second (0: 50).
	Introspection          bool
	IntrospectionTimeout   time.Duration
	IntrospectionRateLimit float64

	ready  bool
	base   string      // the name of the Reporter Run was given
	iss    issuerView  // the Minter, or the forger
	minter Minter      // nil without one
	have   Needs       // what the run can do
	keys   *attackKeys // generated when the attacks first need them

	// The resource metadata at MetadataGet, fetched once (see metadata);
	// and the answer at each challenge's other resource_metadata URL (see
	// namedDocument).
	meta struct {
		done bool
		resp *response
		err  error
	}
	docsMu sync.Mutex
	docs   map[string]fetched

	// MCP session state.
	session  string
	protocol string
	nextID   int

	// DPoP state: the client's proof keys, made when first needed, and the
	// last server nonce seen (RFC 9449 §9).
	dpopKeys *dpopKeys
	nonce    string

	// proving: the running check is one of those whose tokens go as the
	// target takes them (Check.ProvesDPoP) and DPoP is required: its tokens
	// are bound to a kit-held key (dpopKeys.main, or the one provers names)
	// and sent with proofs (see sendAs).
	proving bool
	provers map[string]*DPoPKey // token -> the key it is bound to, if not dpopKeys.main
}

// attackKeys are the attacker's keys: keys the server cannot know.
type attackKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

// Run runs [Checks], in order, as sub-checks of r: each that applies to the
// target, unless Skip names it, or skipped as [NotCheckable] when it needs
// more than t.Tokens gives.
func Run(r Reporter, t *Target) {
	r.Helper()
	t.prepare(r)
	for _, ch := range Checks() {
		if ch.When != nil && !ch.When(t) {
			continue
		}
		if ch.NotFor != nil {
			if why := ch.NotFor(t); why != "" {
				t.runNeeding(r, ch.Name, NeedsNothing, "", func(r Reporter) { r.Skipf("%s: %s", DoesNotApply, why) })
				continue
			}
		}
		needs, why := ch.Needs, ""
		t.proving = ch.ProvesDPoP && t.DPoP == DPoPRequired
		if t.proving {
			needs, why = t.boundNeeds(needs, why)
		}
		t.runNeeding(r, ch.Name, needs, why, func(r Reporter) {
			if t.proving {
				if _, err := t.dpopKeysOf(); err != nil {
					r.Fatalf("%s: %v", t.Caller, err)
					return
				}
			}
			ch.Run(t, r)
		})
		t.proving = false
	}
}

// prepare sets up the run's state, once.
func (c *Target) prepare(r Reporter) {
	if c.ready {
		return
	}
	c.ready = true
	c.base = r.Name()
	c.nextID = 1
	if c.StreamWait <= 0 {
		c.StreamWait = streamTimeout
	}
	switch tok := c.Tokens.(type) {
	case nil:
		c.have = NeedsNothing
	case Minter:
		c.have, c.minter = NeedsIssuerKey, tok
	default:
		c.have = NeedsToken
	}
	if c.minter != nil {
		c.iss = c.minter
	} else {
		now := c.Now
		if now == nil {
			now = time.Now
		}
		c.iss = &forger{issuer: c.Issuer, key: c.IssuerKey, now: now}
	}
}

// attackerKeys generates the attacker's keys, when the attacks subtest
// first needs them (a run that skips it does without).
func (c *Target) attackerKeys() error {
	if c.keys != nil {
		return nil
	}
	var k attackKeys
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return err
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return err
	}
	c.keys = &k
	return nil
}

// NoRedirects is an http.Client CheckRedirect that follows no redirect: the
// checks judge the answer they get.
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// run runs f as the subtest name, unless Skip names it.
func (c *Target) run(r Reporter, name string, f func(Reporter)) {
	c.runNeeding(r, name, NeedsNothing, "", f)
}

// runNeeding runs f as the subtest name, unless Skip names it or it needs
// more than the run has: then the subtest is skipped, the latter as
// NotCheckable (see notCheckable) followed by why ("": what needs says).
func (c *Target) runNeeding(r Reporter, name string, needs Needs, why string, f func(Reporter)) {
	r.Run(name, func(r Reporter) {
		// t.Run writes spaces as underscores; Skip entries may use either.
		path := strings.ReplaceAll(strings.TrimPrefix(r.Name(), c.base+"/"), " ", "_")
		for _, s := range c.Skip {
			s = strings.ReplaceAll(s, " ", "_")
			if path == s || strings.HasPrefix(path, s+"/") {
				r.Skipf("skipped by ConformanceConfig.Skip")
				return
			}
		}
		if needs > c.have {
			if why == "" {
				why = needs.why()
			}
			r.Skipf("%s", c.notCheckable(why))
			return
		}
		f(r)
	})
}
