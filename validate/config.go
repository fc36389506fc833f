package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
)

// Defaults and bounds of [Config].
const (
	DefaultLeeway             = 30 * time.Second
	MaxLeeway                 = 5 * time.Minute
	DefaultRefreshInterval    = time.Hour
	DefaultMinRefreshInterval = 10 * time.Second
	DefaultFetchTimeout       = 5 * time.Second
	DefaultMaxJWKSBytes       = 1 << 20
	DefaultMaxTokenBytes      = 16 << 10
)

// DefaultAlgorithms returns the algorithm allow-list used when
// [Config.Algorithms] is empty: asymmetric algorithms only (RFC 8725 §3.1),
// RS256, PS256, ES256 and EdDSA. It returns a new slice on each call: a
// package-level slice could be changed by any importer.
func DefaultAlgorithms() []string { return []string{"RS256", "PS256", "ES256", "EdDSA"} }

// supportedAlgorithms are the JWS algorithms a Config may allow: the
// asymmetric ones golang-jwt verifies. "none" and the HMAC algorithms are never
// accepted: a resource server verifying with a key published in a JWKS must
// not accept a MAC (RFC 8725 §2.1).
var supportedAlgorithms = map[string]jwt.SigningMethod{
	"RS256": jwt.SigningMethodRS256, "RS384": jwt.SigningMethodRS384, "RS512": jwt.SigningMethodRS512,
	"PS256": jwt.SigningMethodPS256, "PS384": jwt.SigningMethodPS384, "PS512": jwt.SigningMethodPS512,
	"ES256": jwt.SigningMethodES256, "ES384": jwt.SigningMethodES384, "ES512": jwt.SigningMethodES512,
	"EdDSA": jwt.SigningMethodEdDSA,
}

// ErrConfig is wrapped by every error [New] returns for a configuration it
// refuses (as opposed to a failure to reach the issuer).
var ErrConfig = errors.New("validate: invalid configuration")

// Config configures a [Validator]. Resource is required, and so is Issuer
// unless Issuers names the trusted issuers; every other field has a safe
// default, documented on the field.
type Config struct {
	// Issuers are further trusted authorization servers, each bound to its
	// own key set, audiences and algorithms (see [IssuerConfig]). The token's
	// "iss" chooses the issuer, and only that issuer's keys can verify it: a
	// token claiming issuer A never verifies against B's keys. Issuer may be
	// empty when Issuers is set.
	Issuers []IssuerConfig

	// AllowTenant, if set, is asked for every verified token whether the
	// tenant in its TenantClaim may be served by its issuer (for example a
	// multi-tenant issuer whose tokens must carry one of your customers'
	// tenant ids). Returning false refuses the token with [ErrIssuer].
	// Requires TenantClaim.
	AllowTenant func(issuer, tenant string) bool

	// Issuer is the trusted authorization server's issuer identifier
	// (RFC 8414 §2). A token's "iss" must equal it exactly, byte for byte
	// (RFC 9068 §4): no case folding, no trailing-slash tolerance.
	// JWKSURL, JWKS and Algorithms below configure this issuer. Required
	// unless Issuers is set. When keys are discovered from it (no JWKSURL,
	// no JWKS): https, or http on a loopback host (see the package
	// documentation, "Plain http: loopback hosts only").
	Issuer string

	// Resource is this protected resource's canonical URI (RFC 8707 §2,
	// RFC 9728 "resource"), e.g. "https://api.example.com/mcp". A token's
	// "aud" must contain it (or, for an issuer of Issuers with Audiences, one
	// of those). Compared in canonical form: scheme and host
	// case-insensitively, default ports ignored, and a trailing slash on the
	// path ignored. Required; https, or http on a loopback host (an IP
	// literal in 127.0.0.0/8, ::1 or an IPv4-mapped form of one, or
	// "localhost"; no other name).
	Resource string

	// JWKSURL is the issuer's JWK Set URL. If empty, it is discovered from
	// the issuer's RFC 8414 metadata
	// (/.well-known/oauth-authorization-server with path insertion), falling
	// back to OpenID Connect Discovery (<issuer>/.well-known/openid-configuration);
	// the document's "issuer" must equal Issuer. This URL, and a discovered
	// jwks_uri: https, or http on a loopback host.
	JWKSURL string

	// JWKS, if set, is a static JWK Set document (RFC 7517 §5) used instead
	// of fetching one: no discovery, no HTTP, no refresh. For tests and for
	// deployments that pin keys.
	JWKS json.RawMessage

	// Algorithms is the allow-list of JWS "alg" values, for Issuer and for
	// every issuer of Issuers without Algorithms of its own. If empty,
	// [DefaultAlgorithms] (RS256, PS256, ES256, EdDSA). Allowed values:
	// RS256/384/512, PS256/384/512, ES256/384/512, EdDSA. "none" and HS*
	// are refused.
	Algorithms []string

	// Leeway is the clock-skew tolerance for "exp", "nbf" and "iat". If
	// zero, [DefaultLeeway] (30 s). At most [MaxLeeway]; a negative value
	// means no leeway.
	Leeway time.Duration

	// RequireAccessTokenType enforces RFC 9068 strictly: the header "typ"
	// must be "at+jwt" (or "application/at+jwt"), and the claims "sub",
	// "client_id", "iat" and "jti" must be present.
	//
	// If false (the default), "typ" may also be "JWT" or absent, because
	// several widely deployed authorization servers (Microsoft Entra, Auth0,
	// Keycloak, AWS Cognito) send those, and only "iss", "aud" and "exp" are
	// required. Any other "typ" — an ID token's "id_token+jwt", a DPoP
	// proof's "dpop+jwt", a logout token — is refused in both modes.
	RequireAccessTokenType bool

	// ResourceMetadata is the URL of this resource's RFC 9728 metadata,
	// sent as resource_metadata in every challenge. If empty, the
	// path-inserted well-known URL of Resource
	// (rsmeta.WellKnownURL(Resource)). Like every URL a client or rsguard
	// fetches: https, or http on a loopback host only.
	ResourceMetadata string

	// ChallengeScopes, if set, are sent as the scope auth-param of 401
	// challenges: the scopes a client should request to use this resource
	// (MCP: SHOULD). "offline_access" is never sent.
	ChallengeScopes []string

	// Realm, if set, is sent as the realm auth-param of challenges.
	Realm string

	// TenantClaim, if set, names a string claim (such as "tid" or
	// "org_id"), read at verification and copied into scopes.Grant.Tenant. A
	// token whose tenant claim is neither a string nor null (absent) is
	// refused with [ErrClaims]. It may not name a registered claim that
	// verification reads ("iss", "sub", "aud", "exp", "nbf", "iat", "jti",
	// "client_id", "azp", "scope", "scp", "auth_time", "acr", "sid", "cnf").
	TenantClaim string

	// Check, if set, is called on every token after it has been fully
	// verified and Revocations has passed it (cache hits included), to
	// refuse tokens on the application's own grounds (tenant rules, …).
	// Returning an *Error controls the answer; any other error answers 401
	// invalid_token with a generic description (its text is not sent to the
	// client) and wraps [ErrRejected].
	Check func(ctx context.Context, c *Claims) error

	// Revocations, if set, is asked about every token once it has been
	// fully verified — on every request, cache hits included, before
	// Check — and a token it reports revoked is refused with 401
	// invalid_token, "the access token was revoked" ([ErrRevoked]).
	// [DenyList] is a ready in-memory store; see [Revocations] for several
	// replicas. If nil (the default), a token is good until it expires.
	Revocations Revocations

	// RevocationFailOpen chooses the answer when Revocations fails. If
	// false (the default), fail closed: 503 with Retry-After
	// ([ErrRevocationUnavailable]), so an outage of the store never lets a
	// revoked token in, but the resource is down while the store is. If
	// true, fail open: the token is accepted and the failure logged at
	// error level, so the resource stays up and revoked tokens get in until
	// the store is back or they expire.
	RevocationFailOpen bool

	// OnDecision, if set, receives one authenticate-stage scopes.Decision
	// per request that [Validator.Middleware] decides, allowed or refused,
	// with its stable reason code ([ReasonCode]), the identity from the
	// verified claims (never the token) and the time the middleware took:
	// use scopes.SlogDecisions for an audit log, scopes.MetricsDecisions
	// for metrics. If nil (the default), no decision is made, at no cost.
	// Verify and Authenticate alone do not call it (see
	// [Validator.Decision]).
	OnDecision scopes.DecisionFunc

	// Lazy chooses what [New] does when the issuer cannot be reached.
	//
	// If false (the default), New discovers the issuer and fetches its key
	// set before returning, and returns the error if that fails: a
	// misconfigured or unreachable issuer stops the server at start-up.
	//
	// If true, New returns at once and keys are fetched in the background,
	// retried with backoff; until the first fetch succeeds, requests with a
	// token get 503 with Retry-After (and requests without one still get
	// the 401 challenge).
	Lazy bool

	// RefreshInterval is how often the key set is refetched in the
	// background. If zero, [DefaultRefreshInterval] (1 h).
	RefreshInterval time.Duration

	// MinRefreshInterval rate-limits refetches triggered by tokens whose
	// "kid" is unknown: at most one fetch per interval, shared by all
	// concurrent requests (single flight); tokens arriving in between are
	// refused at once. If zero, [DefaultMinRefreshInterval] (10 s): a key
	// rotated in is accepted within that interval, and a flood of random
	// kids costs the issuer one fetch per interval.
	MinRefreshInterval time.Duration

	// FetchTimeout bounds each key-set refresh (discovery, when needed, and
	// the JWKS fetch together), and so the longest a request waits for one.
	// New's initial load waits at most twice as long. If zero,
	// [DefaultFetchTimeout] (5 s).
	FetchTimeout time.Duration

	// MaxJWKSBytes bounds the size of metadata and JWKS responses. If zero,
	// [DefaultMaxJWKSBytes] (1 MiB).
	MaxJWKSBytes int64

	// MaxTokenBytes bounds the size of an access token; larger ones are
	// refused before any decoding. If zero, [DefaultMaxTokenBytes] (16 KiB).
	MaxTokenBytes int

	// DisableCache turns off the verified-token cache. By default a token
	// that passed verification is remembered until it expires, so that
	// repeated requests with the same token skip the signature check; "exp",
	// "nbf", the key's presence in the key set and Check still run on every
	// request (see the package documentation, "Verified-token cache").
	DisableCache bool

	// CacheEntries bounds the number of cached tokens. If zero,
	// [DefaultCacheEntries] (10 000).
	CacheEntries int

	// CacheBytes bounds the memory of the cache (tokens and their claims,
	// plus a fixed overhead per entry). If zero, [DefaultCacheBytes] (32 MiB).
	CacheBytes int64

	// Now returns the current time. If nil, time.Now.
	Now func() time.Time

	// HTTPClient fetches metadata and keys. If nil, a client with no
	// overall timeout of its own (each fetch is bounded by FetchTimeout).
	// Either way, a redirect to anything but https, or http on a loopback
	// host, is refused before it is followed.
	HTTPClient *http.Client

	// Logger receives key-set events (fetch failures, skipped keys) and a
	// debug line per rejected token with its reason. It never receives a
	// token. If nil, nothing is logged.
	Logger *slog.Logger
}

// Validator verifies bearer JWT access tokens for one resource, issued by its
// trusted issuers. It is safe for concurrent use. Build it with [New].
type Validator struct {
	resource      string                       // as configured
	issuers       map[string]*trusted          // by issuer identifier
	order         []string                     // issuer identifiers, configuration order
	only          *trusted                     // the single issuer, when there is one
	methods       map[string]jwt.SigningMethod // union of the issuers' allowed algorithms
	allowTenant   func(issuer, tenant string) bool
	fetchTimeout  time.Duration
	client        *http.Client // for metadata and keys, see fetchClient
	leeway        time.Duration
	strictType    bool
	tenantClaim   string
	check         func(context.Context, *Claims) error // Revocations, then Config.Check
	onDecision    scopes.DecisionFunc
	maxTokenBytes int
	now           func() time.Time
	logger        *slog.Logger
	challenge     rsmeta.Challenge
	answers       map[answerKey]*answer // pre-built refusals, see answers.go
	cache         *tokenCache           // nil when disabled
}

// keySource is where a Validator finds verification keys.
type keySource interface {
	snapshot() *keySnapshot
	// rateLimited reports, without locking, that a refresh for an unknown
	// kid would be refused now (and none is in flight to wait for).
	rateLimited() bool
	// refresh refetches the keys if the rate limit allows (force: ignore
	// it), waiting for the fetch at most until ctx ends.
	refresh(ctx context.Context, force bool) error
}

func (r *remoteKeys) snapshot() *keySnapshot { return r.snap.Load() }

func (s *staticKeys) snapshot() *keySnapshot              { return s.snap }
func (s *staticKeys) refresh(context.Context, bool) error { return errRateLimited }
func (s *staticKeys) rateLimited() bool                   { return true }
func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// New checks cfg and returns a Validator.
//
// ctx bounds the Validator's background work: the periodic key refresh stops
// when ctx ends. Pass a context that lives as long as the server (not a
// start-up timeout). Unless cfg.Lazy is set, New also discovers every trusted
// issuer and fetches its keys before returning, each refresh bounded by
// cfg.FetchTimeout, and fails if it cannot.
func New(ctx context.Context, cfg Config) (*Validator, error) {
	if cfg.Issuer == "" && len(cfg.Issuers) == 0 {
		return nil, configErr("Issuer (or Issuers) is required")
	}
	if cfg.Resource == "" {
		return nil, configErr("Resource is required")
	}
	if _, err := rsmeta.CanonicalResource(cfg.Resource); err != nil {
		return nil, configErr("Resource: %v", err)
	}
	v := &Validator{
		resource:      cfg.Resource,
		strictType:    cfg.RequireAccessTokenType,
		tenantClaim:   cfg.TenantClaim,
		allowTenant:   cfg.AllowTenant,
		onDecision:    cfg.OnDecision,
		maxTokenBytes: orDefault(cfg.MaxTokenBytes, DefaultMaxTokenBytes),
		fetchTimeout:  orDefault(cfg.FetchTimeout, DefaultFetchTimeout),
		client:        fetchClient(cfg.HTTPClient),
		now:           cfg.Now,
		logger:        cfg.Logger,
		issuers:       make(map[string]*trusted),
		methods:       make(map[string]jwt.SigningMethod),
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.logger == nil {
		v.logger = discardLogger()
	}
	if cfg.Revocations != nil {
		if rv := reflect.ValueOf(cfg.Revocations); (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Map || rv.Kind() == reflect.Func) && rv.IsNil() {
			return nil, configErr("Revocations is a nil %T", cfg.Revocations)
		}
	}
	v.check = v.afterVerify(cfg.Revocations, cfg.RevocationFailOpen, cfg.Check)
	if cfg.AllowTenant != nil && cfg.TenantClaim == "" {
		return nil, configErr("AllowTenant needs TenantClaim")
	}
	switch cfg.TenantClaim {
	case "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "azp", "scope", "scp", "auth_time", "acr", "sid", "cnf":
		return nil, configErr("TenantClaim %q is a registered claim", cfg.TenantClaim)
	}
	switch {
	case cfg.Leeway < 0:
		v.leeway = 0
	case cfg.Leeway == 0:
		v.leeway = DefaultLeeway
	case cfg.Leeway > MaxLeeway:
		return nil, configErr("Leeway %v exceeds the maximum %v", cfg.Leeway, MaxLeeway)
	default:
		v.leeway = cfg.Leeway
	}
	if cfg.MaxTokenBytes < 0 || cfg.CacheEntries < 0 || cfg.CacheBytes < 0 {
		return nil, configErr("MaxTokenBytes, CacheEntries and CacheBytes must not be negative")
	}
	if cfg.FetchTimeout < 0 || cfg.MinRefreshInterval < 0 || cfg.MaxJWKSBytes < 0 || cfg.RefreshInterval < 0 {
		return nil, configErr("durations and sizes must not be negative")
	}
	if !cfg.DisableCache {
		v.cache = newTokenCache(orDefault(cfg.CacheEntries, DefaultCacheEntries), orDefault(cfg.CacheBytes, DefaultCacheBytes))
	}

	// The challenge every 401 carries.
	rm := cfg.ResourceMetadata
	if rm != "" {
		if err := checkFetchURL(rm); err != nil { // clients fetch it
			return nil, configErr("ResourceMetadata: %v", err)
		}
	} else {
		var err error
		if rm, err = rsmeta.WellKnownURL(cfg.Resource); err != nil {
			return nil, configErr("cannot derive ResourceMetadata: %v", err)
		}
	}
	v.challenge = rsmeta.Challenge{Realm: cfg.Realm, ResourceMetadata: rm}
	for _, s := range cfg.ChallengeScopes {
		if s != "offline_access" {
			v.challenge.Scope = append(v.challenge.Scope, s)
		}
	}
	if _, err := v.challenge.Header(); err != nil {
		return nil, configErr("challenge parameters: %v", err)
	}
	v.recordAnswers()

	// Trusted issuers, each with its own key set.
	list := cfg.Issuers
	if cfg.Issuer != "" {
		list = append([]IssuerConfig{{Issuer: cfg.Issuer, JWKSURL: cfg.JWKSURL, JWKS: cfg.JWKS, Algorithms: cfg.Algorithms}}, cfg.Issuers...)
	}
	var remotes []*remoteKeys
	for _, ic := range list {
		t, rk, err := v.newTrusted(ic, &cfg)
		if err != nil {
			return nil, err
		}
		if v.issuers[t.issuer] != nil {
			return nil, configErr("issuer %q is listed twice", t.issuer)
		}
		v.issuers[t.issuer] = t
		v.order = append(v.order, t.issuer)
		for a, m := range t.methods {
			v.methods[a] = m
		}
		if rk != nil {
			remotes = append(remotes, rk)
		}
	}
	if len(v.issuers) == 1 {
		v.only = v.issuers[v.order[0]]
	}
	if !cfg.Lazy {
		// Load every issuer's keys concurrently; fail if any cannot load.
		errs := make([]error, len(remotes))
		var wg sync.WaitGroup
		for i, rk := range remotes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fctx, cancel := context.WithTimeout(ctx, 2*rk.fetchTimeout)
				defer cancel()
				if err := rk.refresh(fctx, true); err != nil {
					errs[i] = fmt.Errorf("validate: loading keys of issuer %s: %w", rk.issuer, err)
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	for _, rk := range remotes {
		go rk.run(ctx, orDefault(cfg.RefreshInterval, DefaultRefreshInterval))
	}
	return v, nil
}

// Issuers returns the identifiers of the trusted issuers, in configuration
// order: the list to publish as authorization_servers in the resource's
// metadata (RFC 9728 §2).
func (v *Validator) Issuers() []string { return append([]string(nil), v.order...) }
