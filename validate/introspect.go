package validate

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
)

// Introspection configures OAuth 2.0 Token Introspection (RFC 7662) for one
// trusted issuer ([Config.Introspection] for Config.Issuer,
// [IssuerConfig.Introspection] for one of Config.Issuers): its opaque access
// tokens, and with JWTs its JWS tokens too, are checked by asking its
// introspection endpoint, and the answer is checked as strictly as a JWT's
// claims (see the package documentation, "Introspection").
//
// ClientID is required, and the credential of the chosen AuthMethod. Every
// other field has a default, documented on the field.
type Introspection struct {
	// Endpoint is the issuer's introspection endpoint (RFC 7662 §2). If
	// empty, it is discovered from the issuer's RFC 8414 metadata
	// ("introspection_endpoint"; OpenID Connect Discovery as fallback, whose
	// "issuer" must equal the issuer, as for JWKSURL): by [New], or on the
	// first token when [FetchOptions.Lazy] is set. https, or http on a
	// loopback host, given or discovered.
	Endpoint string

	// ClientID is this resource server's client id at the authorization
	// server, which authenticates to the endpoint (RFC 7662 §2.1). Required.
	ClientID string

	// AuthMethod is how the resource server authenticates to the endpoint:
	// "client_secret_basic" (the default when empty: ClientID and
	// ClientSecret, each form-urlencoded, in HTTP Basic, RFC 6749 §2.3.1),
	// "client_secret_post" (both in the form), or "private_key_jwt" (a JWT
	// signed with PrivateKey, RFC 7523 §2.2, OpenID Connect Core §9).
	AuthMethod string

	// ClientSecret is the client secret of the two client_secret methods;
	// required for them, refused with private_key_jwt. It is never logged
	// nor put in an error.
	ClientSecret string

	// PrivateKey signs the client assertion of private_key_jwt; required
	// for it, refused with the other methods. Its public key chooses the
	// algorithm: *rsa.PublicKey of 2048 bits or more RS256, *ecdsa.PublicKey
	// on P-256 ES256, ed25519.PublicKey EdDSA; any crypto.Signer with one of
	// these public keys (a key in a KMS or an HSM) will do. Each request
	// carries a new assertion: "iss" and "sub" ClientID, "aud" the issuer
	// identifier (draft-ietf-oauth-rfc7523bis; oidc-provider also accepts
	// it), a random "jti", "iat" now and "exp" 60 s later.
	PrivateKey crypto.Signer

	// KeyID, if set, is the "kid" of the client assertion's header: the
	// key's id in the client's registered JWK Set. private_key_jwt only.
	KeyID string

	// JWTs, if true, introspects this issuer's JWS access tokens too,
	// instead of verifying them locally, so that a token revoked at the
	// authorization server is refused at once (or after CacheTTL at most).
	// A JWS whose "iss" names this issuer is then sent to its endpoint
	// after the token's form is checked; the answer decides, and its "iss"
	// must be this issuer. The issuer's keys are then never used: no JWK Set
	// is fetched for it, and JWKSURL and Keys may not be set. If false (the
	// default), only tokens that are not a JWS (opaque tokens) are
	// introspected, and this issuer's JWTs are verified locally with its
	// keys, as without introspection (an issuer that issues opaque tokens
	// only and publishes no JWK Set: set JWTs).
	JWTs bool

	// TokenPrefix, if set, routes the opaque tokens that start with it to
	// this issuer, for deployments with several introspecting issuers. An
	// opaque token carries no issuer: it goes to the issuer whose
	// TokenPrefix it starts with, else to the one introspecting issuer
	// without a TokenPrefix, else it is refused (bad_issuer) — it is never
	// sent to several authorization servers in turn. [New] refuses two
	// prefixes one of which starts the other, two introspecting issuers
	// without a prefix, and a prefix no token can start with (one that is
	// not itself an RFC 6750 b64token: letters, digits, "-._~+/", then
	// only "=").
	TokenPrefix string

	// Timeout bounds each introspection request. If zero,
	// [FetchOptions.Timeout] (whose default is 5 s).
	Timeout time.Duration

	// MaxBytes bounds the size of an introspection answer. If zero, 64 KiB.
	MaxBytes int64

	// CacheTTL is the longest an answer that passed every check is used
	// without asking again: until the token's "exp" or CacheTTL after the
	// answer, whichever comes first. If zero, 1 min. Negative: every request
	// introspects. Past CacheTTL the answer is still kept, stale, until the
	// token's "exp" (within the cache's bounds): it is never used to accept
	// the token (but with FailOpen), and it marks the token as one to
	// re-check from the budget RateLimit reserves for known tokens.
	CacheTTL time.Duration

	// NegativeTTL is how long a refusing answer ("active": false, or an
	// answer refused by the checks: wrong "iss", "aud" or "token_type", …)
	// is remembered, so that a token presented again in a loop costs no
	// request. If zero, 10 s. Negative: refusals are not remembered. A
	// failure (the endpoint down, slow, answering an error or garbage) is
	// never remembered.
	NegativeTTL time.Duration

	// RateLimit bounds the introspection requests to this endpoint, per
	// second (token buckets whose burst is max(1, RateLimit)), so that a
	// flood of distinct made-up tokens cannot become a flood of requests to
	// the authorization server. If zero, 50.
	//
	// There are two budgets of RateLimit each. Every token may draw on the
	// first. The second is reserved for re-checking tokens whose positive
	// answer is cached but past CacheTTL (stale, see CacheTTL): made-up
	// tokens cannot drain it, so a flood of them does not lock out the
	// users whose tokens the endpoint already accepted. The endpoint may
	// thus see up to twice RateLimit requests a second. When the budgets a
	// token may draw on are spent, it gets 503 with Retry-After (reason
	// introspection_unavailable), whatever FailOpen says; fresh cached
	// answers, positive and negative, keep serving.
	//
	// Without the cache ([CacheOptions].Disable) no token is known: every
	// request with an introspected token draws on the first budget, shared
	// with whatever made-up tokens arrive, so a flood of them gets
	// legitimate tokens 503, and one token is accepted at most RateLimit
	// times a second. With a negative CacheTTL, a token is re-checked on
	// every request, from both budgets: at most twice RateLimit times a
	// second.
	RateLimit float64

	// FailOpen chooses the answer when the endpoint cannot answer (down,
	// timing out, answering a 5xx, a redirect or garbage).
	//
	// If false (the default), fail closed: a token whose answer is not
	// fresh in the cache gets 503 with Retry-After (reason
	// introspection_unavailable).
	//
	// If true, a token whose positive answer is cached but past its
	// CacheTTL is accepted on that answer until its "exp" (a token never
	// seen still gets 503), with one warning logged per outage. The risk: a
	// token revoked at the authorization server during the outage (or up to
	// CacheTTL before it) keeps working here until the endpoint answers
	// again or the token expires.
	//
	// FailOpen never applies when RateLimit is spent (anyone could spend it
	// to revive a revoked token: such a token gets 503), nor when the
	// endpoint refuses this resource server's own credentials (401, or 400
	// invalid_client or unauthorized_client: a configuration failure, logged
	// at error level once per outage, every token 503). [New] refuses
	// FailOpen with [CacheOptions].Disable, which leaves no answer to fail
	// open on.
	FailOpen bool
}

// Defaults of [Introspection].
const (
	defaultIntrospectionMaxBytes = 64 << 10
	defaultIntrospectionCacheTTL = time.Minute
	defaultNegativeTTL           = 10 * time.Second
	defaultIntrospectionRate     = 50
	assertionLifetime            = 60 * time.Second
	// introspectionWarnInterval spaces the warnings of one endpoint, each
	// kind (outage, rate limit, refused credentials) on its own: an
	// endpoint flapping between up and down logs once per interval.
	introspectionWarnInterval = time.Minute
)

// Client authentication methods of [Introspection.AuthMethod].
const (
	authSecretBasic = "client_secret_basic"
	authSecretPost  = "client_secret_post"
	authPrivateKey  = "private_key_jwt"
)

// The refusals of introspection, beside the templates of errors.go, which
// introspection answers with its own Credential (see introRefusal).
var (
	errInactive            = invalidToken(audit.ReasonInactive, "the access token is not active")
	errIssuerUndetermined  = invalidToken(audit.ReasonBadIssuer, "the token's issuer cannot be determined")
	errNotAccessToken      = invalidToken(audit.ReasonBadTokenType, "the token is not an access token")
	errIntrospectionFailed = unavailable(audit.ReasonIntrospectionUnavailable, "the access token cannot be checked right now", 0)
)

// introRefusal returns a fresh copy of the template t as a refusal of an
// introspected token.
func introRefusal(t rsguard.Error) *rsguard.Error {
	t.Credential = audit.CredentialIntrospection
	return &t
}

// introspector is one issuer's introspection endpoint, ready to ask.
type introspector struct {
	issuer      string
	t           *trusted // the issuer whose checks the answers get
	clientID    string
	method      string
	secret      string
	signer      crypto.Signer
	alg         string // of the client assertion
	kid         string
	jwts        bool
	prefix      string
	timeout     time.Duration
	maxBytes    int64
	cacheTTL    time.Duration
	negativeTTL time.Duration
	failOpen    bool
	client      *http.Client // the Validator's, following no redirect
	metaClient  *http.Client // the Validator's, for discovery
	logger      *slog.Logger
	now         func() time.Time
	limiter     tokenBucket // every token's budget
	reserved    tokenBucket // the budget of re-checking tokens with a positive (stale) answer

	endpoint atomic.Pointer[string] // nil until known (given, or discovered)

	// Discovery of the endpoint when Lazy: one at a time, at most one per
	// discoveryInterval.
	discoverMu        sync.Mutex
	discoveryInterval time.Duration
	metaMaxBytes      int64 // FetchOptions.MaxBytes
	nextDiscovery     time.Time
	discoveryErr      error

	// Outage state, for the logs: down after a failure, up after an answer;
	// rejected after the endpoint refused the client's credentials.
	down      atomic.Bool
	rejected  atomic.Bool
	outageLog logInterval
	limitLog  logInterval
	clientLog logInterval
}

// logInterval spaces the log lines of one kind: at most one per
// introspectionWarnInterval.
type logInterval struct {
	mu   sync.Mutex
	last time.Time
}

// allow reports whether a line may be logged at now, and if so notes it.
func (l *logInterval) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < introspectionWarnInterval && !now.Before(l.last) {
		return false
	}
	l.last = now
	return true
}

// introRouting is how a Validator finds the introspector of a token.
type introRouting struct {
	all      []*introspector // configuration order
	prefixed []*introspector // with a TokenPrefix
	fallback *introspector   // the one without a TokenPrefix, if any
	jwts     bool            // some issuer introspects its JWTs
	cache    *introCache     // nil when Cache.Disable
	flight   introFlight
}

// newIntrospector checks ic.Introspection and returns the issuer's
// introspector. t is the issuer it belongs to.
func (v *Validator) newIntrospector(ic *IssuerConfig, t *trusted, cfg *Config) (*introspector, error) {
	in := ic.Introspection
	field := func(name string) string { return "issuer " + ic.Issuer + ": Introspection." + name }
	if in.ClientID == "" {
		return nil, configErr("%s is required", field("ClientID"))
	}
	r := &introspector{
		issuer:            ic.Issuer,
		t:                 t,
		clientID:          in.ClientID,
		method:            orDefault(in.AuthMethod, authSecretBasic),
		secret:            in.ClientSecret,
		kid:               in.KeyID,
		jwts:              in.JWTs,
		prefix:            in.TokenPrefix,
		timeout:           orDefault(in.Timeout, orDefault(cfg.Fetch.Timeout, defaultFetchTimeout)),
		maxBytes:          orDefault(in.MaxBytes, defaultIntrospectionMaxBytes),
		cacheTTL:          orDefault(in.CacheTTL, defaultIntrospectionCacheTTL),
		negativeTTL:       orDefault(in.NegativeTTL, defaultNegativeTTL),
		failOpen:          in.FailOpen,
		logger:            v.logger,
		now:               v.now,
		discoveryInterval: orDefault(cfg.Fetch.MinRefreshInterval, defaultMinRefreshInterval),
		metaMaxBytes:      cfg.Fetch.MaxBytes,
	}
	switch r.method {
	case authSecretBasic, authSecretPost:
		if in.ClientSecret == "" {
			return nil, configErr("%s is required with AuthMethod %s", field("ClientSecret"), r.method)
		}
		if in.PrivateKey != nil || in.KeyID != "" {
			return nil, configErr("%s and KeyID are for private_key_jwt, not %s", field("PrivateKey"), r.method)
		}
	case authPrivateKey:
		if in.PrivateKey == nil || check.IsNil(in.PrivateKey) {
			return nil, configErr("%s is required with AuthMethod private_key_jwt", field("PrivateKey"))
		}
		if in.ClientSecret != "" {
			return nil, configErr("%s is not used with AuthMethod private_key_jwt", field("ClientSecret"))
		}
		alg, err := assertionAlgorithm(in.PrivateKey.Public())
		if err != nil {
			return nil, configErr("%s: %v", field("PrivateKey"), err)
		}
		r.signer, r.alg = in.PrivateKey, alg
	default:
		return nil, configErr("%s %q is not one of client_secret_basic, client_secret_post, private_key_jwt", field("AuthMethod"), in.AuthMethod)
	}
	if in.Timeout < 0 || in.MaxBytes < 0 || in.RateLimit < 0 || math.IsNaN(in.RateLimit) || math.IsInf(in.RateLimit, 0) {
		return nil, configErr("%s, MaxBytes and RateLimit must be finite and not negative", field("Timeout"))
	}
	if in.FailOpen && cfg.Cache.Disable {
		return nil, configErr("%s needs the introspection cache, which Cache.Disable turns off: there would be no answer to fail open on", field("FailOpen"))
	}
	if in.TokenPrefix != "" && !check.B64Token(in.TokenPrefix) {
		return nil, configErr("%s %q: no access token can start with it (RFC 6750 b64token: letters, digits, \"-._~+/\", then only \"=\")", field("TokenPrefix"), in.TokenPrefix)
	}
	if in.JWTs && (ic.JWKSURL != "" || ic.Keys != nil) {
		return nil, configErr("%s is set: the issuer's tokens are all introspected, and JWKSURL and Keys would never be used", field("JWTs"))
	}
	if in.Endpoint != "" {
		if err := checkFetchURL(in.Endpoint); err != nil {
			return nil, configErr("%s: %v", field("Endpoint"), err)
		}
		ep := in.Endpoint
		r.endpoint.Store(&ep)
	} else if err := checkFetchURL(ic.Issuer); err != nil {
		// Discovery fetches from the issuer itself.
		return nil, configErr("Issuer (introspection endpoint discovery): %v", err)
	}
	rate := in.RateLimit
	if rate == 0 {
		rate = defaultIntrospectionRate
	}
	r.limiter = tokenBucket{rate: rate, burst: max(1, rate)}
	r.limiter.tokens = r.limiter.burst
	r.reserved = tokenBucket{rate: rate, burst: max(1, rate)}
	r.reserved.tokens = r.reserved.burst
	// The token and the client's credentials must not follow a redirect
	// anywhere: a 3xx answer is a failure of the endpoint.
	c := *v.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r.client, r.metaClient = &c, v.client
	return r, nil
}

// assertionAlgorithm returns the JWS algorithm of a client assertion signed
// by a key whose public part is pub.
func assertionAlgorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", errors.New("an RSA key must have 2048 bits or more")
		}
		return "RS256", nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("an ECDSA key must be on P-256 (ES256)")
		}
		return "ES256", nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("not an Ed25519 key")
		}
		return "EdDSA", nil
	}
	return "", fmt.Errorf("a %T key is not supported (RSA, ECDSA P-256 or Ed25519)", pub)
}

// setupIntrospection builds the routing of opaque tokens once every issuer
// is built, and, unless lazy, discovers the endpoints not given. It is a
// no-op when no issuer introspects.
func (v *Validator) setupIntrospection(ctx context.Context, cfg *Config) error {
	var r introRouting
	for _, iss := range v.order {
		in := v.issuers[iss].intro
		if in == nil {
			continue
		}
		r.all = append(r.all, in)
		r.jwts = r.jwts || in.jwts
		if in.prefix == "" {
			if r.fallback != nil {
				return configErr("issuers %s and %s both introspect without a TokenPrefix: an opaque token's issuer could not be determined", r.fallback.issuer, in.issuer)
			}
			r.fallback = in
			continue
		}
		for _, p := range r.prefixed {
			if strings.HasPrefix(p.prefix, in.prefix) || strings.HasPrefix(in.prefix, p.prefix) {
				return configErr("issuers %s and %s: Introspection.TokenPrefix %q and %q overlap (one starts the other)", p.issuer, in.issuer, p.prefix, in.prefix)
			}
		}
		r.prefixed = append(r.prefixed, in)
	}
	if len(r.all) == 0 {
		return nil
	}
	if !cfg.Cache.Disable {
		r.cache = newIntroCache(orDefault(cfg.Cache.MaxEntries, defaultCacheEntries), orDefault(cfg.Cache.MaxBytes, defaultCacheBytes))
	}
	r.flight.calls = make(map[[sha256.Size]byte]*introCall)
	v.intro = &r
	if cfg.Fetch.Lazy {
		return nil
	}
	errs := make([]error, len(r.all))
	var wg sync.WaitGroup
	for i, in := range r.all {
		if in.endpoint.Load() != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, 2*in.timeout)
			defer cancel()
			if _, err := in.discoverEndpoint(dctx, true); err != nil {
				errs[i] = fmt.Errorf("validate: discovering the introspection endpoint of issuer %s: %w", in.issuer, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// endpointURL returns the introspection endpoint, discovering it first if
// needed (at most once per discoveryInterval, one discovery at a time).
func (in *introspector) endpointURL(ctx context.Context) (string, error) {
	if ep := in.endpoint.Load(); ep != nil {
		return *ep, nil
	}
	return in.discoverEndpoint(ctx, false)
}

func (in *introspector) discoverEndpoint(ctx context.Context, force bool) (string, error) {
	in.discoverMu.Lock()
	defer in.discoverMu.Unlock()
	if ep := in.endpoint.Load(); ep != nil {
		return *ep, nil
	}
	now := in.now()
	if !force && now.Before(in.nextDiscovery) {
		return "", in.discoveryErr
	}
	in.nextDiscovery = now.Add(in.discoveryInterval)
	m, err := discoverMetadata(ctx, in.metaClient, in.issuer, orDefault(in.metaMaxBytes, defaultMaxJWKSBytes))
	if err == nil {
		switch {
		case m.IntrospectionEndpoint == "":
			err = fmt.Errorf("%s: metadata has no introspection_endpoint", m.url)
		default:
			if cerr := checkFetchURL(m.IntrospectionEndpoint); cerr != nil {
				err = fmt.Errorf("%s: introspection_endpoint: %w", m.url, cerr)
			}
		}
	}
	if err != nil {
		in.discoveryErr = err
		return "", err
	}
	ep := m.IntrospectionEndpoint
	in.endpoint.Store(&ep)
	return ep, nil
}

// introspectRoute is Verify's first step when some issuer introspects: it
// returns done false for a token that is verified as a JWT (a JWS of an
// issuer that does not introspect its JWTs), and otherwise the outcome of
// its introspection. A token that is not a JWS compact serialisation (see
// jwsShaped) is introspected at the issuer its prefix names, or at the one
// issuer without a prefix; a JWS at the issuer its "iss" names, if that
// issuer introspects its JWTs.
func (v *Validator) introspectRoute(ctx context.Context, raw string, now time.Time) (c *Claims, e *rsguard.Error, done bool) {
	r := v.intro
	if r == nil {
		return nil, nil, false
	}
	var in *introspector
	if !jwsShaped(raw) {
		if in = r.forOpaque(raw); in == nil {
			return nil, introRefusal(errIssuerUndetermined), true
		}
	} else if !r.jwts {
		return nil, nil, false
	} else if in = v.jwsIntrospector(raw); in == nil {
		return nil, nil, false
	}
	// Nothing that could not come in an Authorization header (RFC 6750
	// §2.1) is sent to an authorization server: a JWS routed here had its
	// header and claims decoded, not its signature segment.
	if !check.B64Token(raw) {
		return nil, introRefusal(errMalformed), true
	}
	c, e = v.introspect(ctx, in, raw, now)
	return c, e, true
}

// jwsShaped reports whether raw is shaped as a JWS compact serialisation
// (RFC 7515 §7.1): three dot-separated segments, the first the base64url
// encoding of a JSON object, the JOSE header. Whether that header, and the
// rest, are well-formed is for JWT verification to judge. Any other token,
// one with two dots included, is opaque to the introspection routing.
func jwsShaped(raw string) bool {
	hSeg, rest, _ := strings.Cut(raw, ".")
	if strings.Count(rest, ".") != 1 || strings.IndexByte(hSeg, '\n') >= 0 || strings.IndexByte(hSeg, '\r') >= 0 {
		return false
	}
	var buf [384]byte
	h, ok := decodeSegmentInto(buf[:0], hSeg)
	return ok && bytes.HasPrefix(bytes.TrimLeft(h, " \t\n\r"), []byte("{")) && json.Valid(h)
}

// forOpaque returns the introspector of an opaque token, or nil.
func (r *introRouting) forOpaque(raw string) *introspector {
	for _, in := range r.prefixed {
		if strings.HasPrefix(raw, in.prefix) {
			return in
		}
	}
	return r.fallback
}

// jwsIntrospector returns the introspector of a JWS whose header and claims
// are well-formed and whose "iss" names an issuer that introspects its JWTs;
// nil otherwise (JWT verification then refuses or verifies the token).
func (v *Validator) jwsIntrospector(raw string) *introspector {
	if strings.IndexByte(raw, '\n') >= 0 || strings.IndexByte(raw, '\r') >= 0 {
		return nil
	}
	hSeg, rest, _ := strings.Cut(raw, ".")
	pSeg, _, _ := strings.Cut(rest, ".")
	hb, ok := decodeSegment(hSeg)
	if !ok {
		return nil
	}
	if h, err := decodeHeader(hb); err != nil || h.hasEnc {
		return nil
	}
	pb, ok := decodeSegment(pSeg)
	if !ok {
		return nil
	}
	p := payload{tenantClaim: v.tenantClaim}
	if decodePayload(pb, &p) != nil || p.seen&claimIss == 0 {
		return nil
	}
	t := v.issuerOf(p.iss)
	if t == nil || t.intro == nil || !t.intro.jwts {
		return nil
	}
	return t.intro
}

// introspect returns the verdict on raw of in's endpoint: from the cache
// when fresh, else from one request shared by every concurrent caller with
// the same token (single flight), rate-limited per endpoint. Then, on every
// request: "exp" and "nbf" against the clock, and the application's checks.
func (v *Validator) introspect(ctx context.Context, in *introspector, raw string, now time.Time) (*Claims, *rsguard.Error) {
	var buf [128]byte // most tokens: hashed from the stack, not a copy on the heap
	key := sha256.Sum256(append(buf[:0], raw...))
	cache := v.intro.cache
	var stale *introEntry
	if cache != nil {
		if ent := cache.get(key, now); ent != nil {
			if now.Before(ent.fresh) {
				return v.introVerdict(ctx, ent.claims, ent.refusal, now)
			}
			// A positive answer past its CacheTTL: the token is re-checked
			// from the reserved budget, and the answer serves with FailOpen
			// while the endpoint cannot answer.
			stale = ent
		}
	}
	call, e := v.intro.flight.join(key, func() (*introCall, *rsguard.Error) {
		if ok, wait := in.take(now, stale != nil); !ok {
			e := introRefusal(errIntrospectionFailed)
			e.Err = fmt.Errorf("%w: the introspection rate limit is spent", audit.ReasonIntrospectionUnavailable)
			e.RetryAfter = max(time.Second, wait.Truncate(time.Second)+time.Second)
			return nil, e
		}
		call := &introCall{done: make(chan struct{})}
		go v.runIntrospection(context.WithoutCancel(ctx), in, key, raw, call)
		return call, nil
	})
	if e != nil {
		// The rate limit is spent. Never fail open here: anyone can spend
		// it, which would revive every revoked token with a stale answer.
		if in.limitLog.allow(now) {
			in.logger.Warn("rsguard: introspection rate limit reached; tokens whose answer is not fresh in the cache get 503", "issuer", in.issuer)
		}
		return nil, reject(*e)
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		e = introRefusal(errIntrospectionFailed)
		e.Err = fmt.Errorf("%w: %w", audit.ReasonIntrospectionUnavailable, ctx.Err())
		e.RetryAfter = time.Second
		return nil, e
	}
	if !call.unavailable {
		return v.introVerdict(ctx, call.claims, call.refusal, v.now())
	}
	if stale != nil && stale.claims != nil && in.failOpen && !call.rejected {
		return v.introVerdict(ctx, stale.claims, nil, v.now())
	}
	return nil, reject(*call.refusal)
}

// take takes a request from in's budgets at now: a token with a positive
// answer in the cache (known) from the reserved budget first, then from
// every token's; others from every token's only. Else it reports how long
// until there is one.
func (in *introspector) take(now time.Time, known bool) (bool, time.Duration) {
	var waitReserved time.Duration
	if known {
		ok, wait := in.reserved.take(now)
		if ok {
			return true, 0
		}
		waitReserved = wait
	}
	ok, wait := in.limiter.take(now)
	if !ok && known {
		wait = min(wait, waitReserved)
	}
	return ok, wait
}

// introVerdict turns the (shared, never handed out) outcome of an
// introspection into the request's answer: a copy of the refusal, or a copy
// of the claims that passed the clock and the application's checks.
func (v *Validator) introVerdict(ctx context.Context, shared *Claims, refusal *rsguard.Error, now time.Time) (*Claims, *rsguard.Error) {
	if refusal != nil {
		return nil, reject(*refusal)
	}
	if !now.Before(shared.ExpiresAt.Add(v.leeway)) {
		return nil, introRefusal(errExpired)
	}
	if now.Add(v.leeway).Before(shared.NotBefore) {
		return nil, introRefusal(errNotYetValid)
	}
	c := shared.clone()
	if e := v.applicationChecks(ctx, c); e != nil {
		if e.Credential == "" || e.Credential == audit.CredentialJWT {
			e.Credential = audit.CredentialIntrospection
		}
		return nil, e
	}
	return c, nil
}

// runIntrospection asks the endpoint about raw, detached from the
// cancellation of the request that started it (the others may still wait),
// bounded by the introspector's Timeout; it records the outcome in the cache
// and hands it to every caller waiting for it.
func (v *Validator) runIntrospection(ctx context.Context, in *introspector, key [sha256.Size]byte, raw string, call *introCall) {
	ctx, cancel := context.WithTimeout(ctx, in.timeout)
	defer cancel()
	claims, refusal, cacheable, err := v.askEndpoint(ctx, in, raw)
	now := v.now()
	switch {
	case err != nil:
		var rejected *clientRejected
		call.rejected = errors.As(err, &rejected)
		in.failed(now, err, call.rejected)
		e := introRefusal(errIntrospectionFailed)
		e.Err = fmt.Errorf("%w: %w", audit.ReasonIntrospectionUnavailable, err)
		e.RetryAfter = in.timeout.Truncate(time.Second) + time.Second
		call.refusal, call.unavailable = e, true
	default:
		in.answered()
		call.claims, call.refusal = claims, refusal
		if c := v.intro.cache; c != nil {
			var ent *introEntry // nil: drops what the cache held, a stale answer included
			if cacheable {
				ent = in.entry(claims, refusal, now)
			}
			c.put(key, ent, now)
		}
	}
	v.intro.flight.done(key, call)
}

// entry returns the cache entry of an answer received at now.
func (in *introspector) entry(claims *Claims, refusal *rsguard.Error, now time.Time) *introEntry {
	if refusal != nil {
		if in.negativeTTL < 0 {
			return nil
		}
		until := now.Add(in.negativeTTL)
		return &introEntry{refusal: refusal, fresh: until, until: until}
	}
	fresh := now
	if in.cacheTTL > 0 {
		fresh = now.Add(in.cacheTTL)
	}
	fresh = minTime(fresh, claims.ExpiresAt)
	// Kept, stale, until the token expires: for FailOpen, and so that the
	// token is re-checked from the reserved budget (see take).
	until := claims.ExpiresAt
	if !now.Before(until) {
		return nil
	}
	return &introEntry{claims: claims, fresh: fresh, until: until}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// askEndpoint sends one introspection request and checks the answer. err
// is a failure of the endpoint (unreachable, slow, an error status, not a
// JSON object of the expected form); otherwise exactly one of claims and
// refusal is set, and cacheable says whether the answer may be remembered.
func (v *Validator) askEndpoint(ctx context.Context, in *introspector, raw string) (claims *Claims, refusal *rsguard.Error, cacheable bool, err error) {
	endpoint, err := in.endpointURL(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return nil, nil, false, err
	}
	if err := in.authenticate(req, form); err != nil {
		return nil, nil, false, err
	}
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := in.client.Do(req)
	if err != nil {
		// The client's error names the URL, never the body: no token in it.
		return nil, nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if code, ok := clientAuthFailure(resp.StatusCode, body); ok {
			return nil, nil, false, &clientRejected{endpoint: endpoint, status: resp.StatusCode, code: code}
		}
		return nil, nil, false, fmt.Errorf("POST %s: status %d", endpoint, resp.StatusCode)
	}
	if mt, _, perr := mime.ParseMediaType(resp.Header.Get("Content-Type")); perr != nil || mt != "application/json" {
		return nil, nil, false, fmt.Errorf("POST %s: content type %q is not application/json", endpoint, resp.Header.Get("Content-Type"))
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, in.maxBytes+1))
	if err != nil {
		return nil, nil, false, fmt.Errorf("POST %s: %w", endpoint, err)
	}
	if int64(len(answer)) > in.maxBytes {
		return nil, nil, false, fmt.Errorf("POST %s: answer larger than %d bytes", endpoint, in.maxBytes)
	}
	// No member of the answer whose value is the token itself is kept (in
	// the claims, the cache, or a log line).
	a, err := parseIntrospection(withoutValue(answer, raw), v.tenantClaim)
	if err != nil {
		return nil, nil, false, fmt.Errorf("POST %s: %w", endpoint, err)
	}
	claims, refusal, cacheable = v.checkAnswer(context.WithoutCancel(ctx), in, a, raw, v.now())
	return claims, refusal, cacheable, nil
}

// clientRejected is the failure of an endpoint that refused this resource
// server's own client authentication: its credentials are wrong, revoked
// or not allowed to introspect. A configuration failure, not an outage:
// FailOpen does not apply.
type clientRejected struct {
	endpoint string
	status   int
	code     string // the RFC 6749 §5.2 error code, if any
}

func (e *clientRejected) Error() string {
	msg := fmt.Sprintf("POST %s: status %d: the authorization server refused this resource server's client authentication", e.endpoint, e.status)
	if e.code != "" {
		msg += " (" + e.code + ")"
	}
	return msg
}

// clientAuthFailure reports whether an error answer of the endpoint says
// that the client's authentication failed: 401 (RFC 7662 §2.3, RFC 6749
// §5.2), or 400 with the error code invalid_client or unauthorized_client.
// It returns the code if the body has one of them (only those: the body is
// the server's text, not logged otherwise).
func clientAuthFailure(status int, body []byte) (string, bool) {
	if status != http.StatusUnauthorized && status != http.StatusBadRequest {
		return "", false
	}
	var e struct {
		Error string `json:"error"`
	}
	code := ""
	if json.Unmarshal(body, &e) == nil && (e.Error == "invalid_client" || e.Error == "unauthorized_client") {
		code = e.Error
	}
	return code, status == http.StatusUnauthorized || code != ""
}

// failed notes a failure of the endpoint: the first of an outage is logged
// at warning level, and the endpoint refusing the client's credentials at
// error level (each kind at most once per introspectionWarnInterval), the
// others at debug level. Neither the token nor the client's credentials are
// ever in err.
func (in *introspector) failed(now time.Time, err error, rejected bool) {
	wasDown := in.down.Swap(true)
	switch {
	case rejected:
		if !in.rejected.Swap(true) && in.clientLog.allow(now) {
			in.logger.Error("rsguard: the introspection endpoint refused this resource server's client credentials (Introspection.ClientID and its secret or key); every introspected token gets 503, FailOpen or not",
				"issuer", in.issuer, "error", err.Error())
			return
		}
	case !wasDown:
		msg := "rsguard: introspection endpoint unavailable; tokens whose answer is not fresh in the cache get 503"
		if in.failOpen {
			msg = "rsguard: introspection endpoint unavailable; accepting stale cached answers until their tokens expire (FailOpen)"
		}
		if in.outageLog.allow(now) {
			in.logger.Warn(msg, "issuer", in.issuer, "error", err.Error())
			return
		}
	}
	in.logger.Debug("rsguard: introspection failed", "issuer", in.issuer, "error", err.Error())
}

// answered notes an answer of the endpoint, ending an outage.
func (in *introspector) answered() {
	in.rejected.Store(false)
	if in.down.CompareAndSwap(true, false) {
		in.logger.Info("rsguard: introspection endpoint answering again", "issuer", in.issuer)
	}
}

// credential returns the kind of credential the claims were verified as.
func (c *Claims) credential() audit.Credential {
	if c.introspected {
		return audit.CredentialIntrospection
	}
	return audit.CredentialJWT
}
