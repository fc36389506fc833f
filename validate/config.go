package validate

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/rsguard/rsguard"

	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/rsmeta"
)

// Defaults and bounds of [Config] (Leeway, MaxTokenBytes) and of
// [FetchOptions] (RefreshInterval, MinRefreshInterval, Timeout, MaxBytes).
const (
	defaultLeeway             = 30 * time.Second
	maxLeeway                 = 5 * time.Minute
	defaultRefreshInterval    = time.Hour
	defaultMinRefreshInterval = 10 * time.Second
	defaultFetchTimeout       = 5 * time.Second
	defaultMaxJWKSBytes       = 1 << 20
	defaultMaxTokenBytes      = 16 << 10
)

// defaultAlgorithms returns the allow-list of [Config.Algorithms] when
// empty, in a new slice.
func defaultAlgorithms() []string { return []string{"RS256", "PS256", "ES256", "EdDSA"} }

// supportedAlgorithms are the JWS algorithms a Config may allow: the
// asymmetric ones of RFC 7518 §3.1 and EdDSA (RFC 8037). "none" and the HMAC
// algorithms are never accepted: a resource server verifying with a key
// published in a JWKS must not accept a MAC (RFC 8725 §2.1).
var supportedAlgorithms = map[string]sigAlg{
	"RS256": {kind: sigPKCS1, hash: crypto.SHA256},
	"RS384": {kind: sigPKCS1, hash: crypto.SHA384},
	"RS512": {kind: sigPKCS1, hash: crypto.SHA512},
	"PS256": {kind: sigPSS, hash: crypto.SHA256},
	"PS384": {kind: sigPSS, hash: crypto.SHA384},
	"PS512": {kind: sigPSS, hash: crypto.SHA512},
	"ES256": {kind: sigECDSA, hash: crypto.SHA256, size: 32},
	"ES384": {kind: sigECDSA, hash: crypto.SHA384, size: 48},
	"ES512": {kind: sigECDSA, hash: crypto.SHA512, size: 66},
	"EdDSA": {kind: sigEdDSA},
}

// Config configures a [Validator]. Resource is required, and so is Issuer
// unless Issuers names the trusted issuers; every other field has a safe
// default, documented on the field. Fields come in order of importance: who
// is trusted and for what, then the checks, then tuning ([FetchOptions],
// [CacheOptions]), whose zero values are the defaults.
type Config struct {
	// Issuer is the trusted authorization server's issuer identifier
	// (RFC 8414 §2). A token's "iss" must equal it exactly, byte for byte
	// (RFC 9068 §4): no case folding, no trailing-slash tolerance.
	// JWKSURL, Keys and Algorithms below configure this issuer. Required
	// unless Issuers is set. When its keys are discovered from it (no
	// JWKSURL, no Keys): https, or http on a loopback host (see the package
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

	// Issuers are further trusted authorization servers, each bound to its
	// own key set, audiences and algorithms (see [IssuerConfig]). The token's
	// "iss" chooses the issuer, and only that issuer's keys can verify it: a
	// token claiming issuer A never verifies against B's keys. Issuer may be
	// empty when Issuers is set.
	Issuers []IssuerConfig

	// JWKSURL is Issuer's JWK Set URL. If empty (and Keys is nil), it is
	// discovered from the issuer's RFC 8414 metadata
	// (/.well-known/oauth-authorization-server with path insertion), falling
	// back to OpenID Connect Discovery (<issuer>/.well-known/openid-configuration);
	// the document's "issuer" must equal Issuer. This URL, and a discovered
	// jwks_uri: https, or http on a loopback host.
	JWKSURL string

	// Keys, if set, is Issuer's key set, used instead of its fetched JWK
	// Set: [NewStaticKeySet] for pinned keys, or a [KeySet] of your own
	// (keys from a KMS, shared between replicas), behind the rate limit and
	// the key checks that KeySet documents. Not with JWKSURL. If nil (the
	// default), the JWK Set is fetched from JWKSURL or discovered, cached and
	// refreshed as Fetch says.
	Keys KeySet

	// Introspection, if set, checks Issuer's opaque access tokens (and,
	// with Introspection.JWTs, its JWTs) by OAuth 2.0 Token Introspection
	// (RFC 7662) at its endpoint (see [Introspection] and the package
	// documentation, "Introspection"). If nil (the default), Issuer's tokens
	// are JWTs verified locally, and a token that is not a JWS is refused.
	Introspection *Introspection

	// Algorithms is the allow-list of JWS "alg" values, for Issuer and for
	// every issuer of Issuers without Algorithms of its own. If empty, the
	// default: RS256, PS256, ES256 and EdDSA, one asymmetric algorithm of
	// each key type in common use (RFC 8725 §3.1). Allowed values:
	// RS256/384/512, PS256/384/512, ES256/384/512, EdDSA. "none" and HS*
	// are refused.
	Algorithms []string

	// Leeway is the clock-skew tolerance for "exp", "nbf" and "iat". If
	// zero, 30 s. At most 5 min; a negative value
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

	// TenantClaim, if set, names a string claim (such as "tid" or
	// "org_id"), read at verification: [Claims.Tenant] and
	// rsguard.Principal.Tenant. A token whose tenant claim is neither a
	// string nor null (absent) is refused (reason bad_claims). It may not name
	// a registered claim that verification reads ("iss", "sub", "aud",
	// "exp", "nbf", "iat", "jti", "client_id", "azp", "scope", "scp",
	// "auth_time", "acr", "sid", "cnf"). Which tenants an issuer may serve is
	// Check's to say.
	TenantClaim string

	// Revocations, if set, is asked about every token once it has been
	// fully verified — on every request, cache hits included, before
	// Check — and a token it reports revoked is refused with 401
	// invalid_token, "the access token was revoked" (reason revoked).
	// [DenyList] is a ready in-memory store; see [Revocations] for several
	// replicas. If nil (the default), a token is good until it expires.
	Revocations Revocations

	// RevocationFailOpen chooses the answer when Revocations fails. If
	// false (the default), fail closed: 503 with Retry-After (reason
	// revocation_unavailable), so an outage of the store never lets a
	// revoked token in, but the resource is down while the store is. If
	// true, fail open: the token is accepted and the failure logged at
	// error level, so the resource stays up and revoked tokens get in until
	// the store is back or they expire.
	RevocationFailOpen bool

	// Check, if set, is called on every token after it has been fully
	// verified and Revocations has passed it (cache hits included), to
	// refuse tokens on the application's own grounds: the tenants an issuer
	// may serve (c.Issuer, c.Tenant()), the clients that may call, …. Its
	// error chooses the answer:
	//
	//   - an [*rsguard.Error] in its chain: that answer (status, code,
	//     description, reason; an empty Reason is the reason its Err wraps);
	//   - an error wrapping an [audit.Reason]: answered and audited as that
	//     class, with the class's status and code and a generic
	//     description: fmt.Errorf("tenant %q: %w", t, audit.ReasonBadIssuer)
	//     answers 401 invalid_token, reason "bad_issuer", as a token of an
	//     untrusted issuer would (a reason this package does not refuse
	//     tokens with, such as insufficient_scope, is answered 401
	//     invalid_token, "the access token was rejected");
	//   - any other error: 401 invalid_token, "the access token was
	//     rejected", reason "rejected".
	//
	// In the last two cases the refusal wraps the error, whose text is never
	// sent to the client. Every refusal names the Principal the token
	// proved, for the audit trail.
	Check func(ctx context.Context, c *Claims) error

	// MaxTokenBytes bounds the size of an access token; larger ones are
	// refused before any decoding. If zero, 16 KiB.
	MaxTokenBytes int

	// Fetch tunes how issuers' keys are loaded and refreshed. Its zero
	// value is the default: keys loaded by New, refreshed hourly and on an
	// unknown kid at most every 10 s, each fetch bounded in time and size.
	Fetch FetchOptions

	// Cache tunes the verified-token cache. Its zero value is the default:
	// on, with 10 000 entries and 32 MiB bytes
	// at most.
	Cache CacheOptions

	// DPoP configures DPoP-bound tokens (RFC 9449): bearer tokens only,
	// DPoP only, or both, the proofs' algorithms, lifetime, replay store
	// and nonces. Its zero value is DPoP off: bearer tokens only, tokens
	// bound to a key refused. See the package documentation, "DPoP".
	DPoP DPoPConfig

	// Now returns the current time. If nil, time.Now.
	Now func() time.Time

	// Logger receives key-set events (fetch failures, skipped keys),
	// revocation store failures and dropped scope tokens; the debug line
	// per refused request is the Guard's (rsguard.Config.Logger). It never
	// receives a token. If nil, nothing is logged.
	Logger *slog.Logger
}

// FetchOptions tunes how a [Validator] loads issuers' keys ([Config.Fetch]).
// Each zero field is its default. Lazy, RefreshInterval, MaxBytes and
// HTTPClient concern fetched JWK Sets only; MinRefreshInterval and Timeout
// also bound the questions asked of a [KeySet] of yours.
type FetchOptions struct {
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
	// background. If zero, 1 h.
	RefreshInterval time.Duration

	// MinRefreshInterval rate-limits refetches triggered by tokens whose
	// "kid" is unknown: at most one fetch per interval, shared by all
	// concurrent requests (single flight); tokens arriving in between are
	// refused at once. If zero, 10 s: a key
	// rotated in is accepted within that interval, and a flood of random
	// kids costs the issuer one fetch per interval. For a [KeySet] of yours,
	// at most one question per interval about a kid it has not returned a
	// key for.
	MinRefreshInterval time.Duration

	// Timeout bounds each key-set refresh (discovery, when needed, and the
	// JWKS fetch together), and so the longest a request waits for one;
	// New's initial load waits at most twice as long. It bounds each
	// question to a KeySet of yours too. If zero, 5 s
	// (5 s).
	Timeout time.Duration

	// MaxBytes bounds the size of metadata and JWKS responses. If zero,
	// 1 MiB.
	MaxBytes int64

	// HTTPClient fetches metadata and keys. If nil, a client with no
	// overall timeout of its own (each fetch is bounded by Timeout).
	// Either way, a redirect to anything but https, or http on a loopback
	// host, is refused before it is followed.
	HTTPClient *http.Client
}

// CacheOptions tunes the verified-token cache of a [Validator]
// ([Config.Cache]; see the package documentation, "Verified-token cache").
// Each zero field is its default.
type CacheOptions struct {
	// Disable turns the cache off. By default a token that passed
	// verification is remembered until it expires, so that repeated
	// requests with the same token skip the signature check; "exp", "nbf",
	// the key's presence in the key set, Revocations and Check still run on
	// every request. It also turns off the cache of introspection answers
	// (see [Introspection]): every request with an introspected token then
	// asks the authorization server, from the one budget of
	// Introspection.RateLimit that made-up tokens share (none is known, so
	// none gets the reserved budget): a flood of made-up tokens gets
	// legitimate tokens 503, and one token is accepted at most RateLimit
	// times a second. [New] refuses it with Introspection.FailOpen. The
	// memo of verified protected headers (see the package documentation,
	// Verified-token cache), which holds no tokens, stays on.
	Disable bool

	// MaxEntries bounds the number of cached tokens. If zero,
	// 10 000.
	MaxEntries int

	// MaxBytes bounds the memory of the cache (tokens and their claims,
	// plus a fixed overhead per entry). If zero, 32 MiB
	// (32 MiB).
	MaxBytes int64
}

// Validator verifies bearer JWT access tokens for one resource, issued by its
// trusted issuers. It is safe for concurrent use. Build it with [New].
type Validator struct {
	resource      string              // as configured
	issuers       map[string]*trusted // by issuer identifier
	order         []string            // issuer identifiers, configuration order
	only          *trusted            // the single issuer, when there is one
	methods       map[string]sigAlg   // union of the issuers' allowed algorithms
	client        *http.Client        // for metadata and keys, see fetchClient
	leeway        time.Duration
	strictType    bool
	tenantClaim   string
	check         func(context.Context, *Claims) error // Revocations, then Config.Check
	maxTokenBytes int
	now           func() time.Time
	logger        *slog.Logger
	cache         *tokenCache // nil when disabled
	headers       knownHeaders
	dpop          dpopState // Config.DPoP

	intro *introRouting // nil when no issuer introspects
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{rsguard.ErrInvalidConfig}, args...)...)
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
// start-up timeout). Unless cfg.Fetch.Lazy is set, New also discovers every
// trusted issuer whose keys it fetches and loads them before returning, each
// refresh bounded by cfg.Fetch.Timeout, and fails if it cannot.
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
	if cfg.Issuer == "" && (cfg.JWKSURL != "" || cfg.Keys != nil || cfg.Introspection != nil) {
		return nil, configErr("JWKSURL, Keys and Introspection configure Issuer, which is empty (set them on Issuers)")
	}
	f := &cfg.Fetch
	v := &Validator{
		resource:      cfg.Resource,
		strictType:    cfg.RequireAccessTokenType,
		tenantClaim:   cfg.TenantClaim,
		maxTokenBytes: orDefault(cfg.MaxTokenBytes, defaultMaxTokenBytes),
		client:        fetchClient(f.HTTPClient),
		now:           cfg.Now,
		logger:        cfg.Logger,
		issuers:       make(map[string]*trusted),
		methods:       make(map[string]sigAlg),
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.logger == nil {
		v.logger = discardLogger()
	}
	if cfg.Revocations != nil && check.IsNil(cfg.Revocations) {
		return nil, configErr("Revocations is a nil %T", cfg.Revocations)
	}
	v.check = v.afterVerify(cfg.Revocations, cfg.RevocationFailOpen, cfg.Check)
	switch cfg.TenantClaim {
	case "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "azp", "scope", "scp", "auth_time", "acr", "sid", "cnf":
		return nil, configErr("TenantClaim %q is a registered claim", cfg.TenantClaim)
	}
	switch {
	case cfg.Leeway < 0:
		v.leeway = 0
	case cfg.Leeway == 0:
		v.leeway = defaultLeeway
	case cfg.Leeway > maxLeeway:
		return nil, configErr("Leeway %v exceeds the maximum %v", cfg.Leeway, maxLeeway)
	default:
		v.leeway = cfg.Leeway
	}
	if cfg.MaxTokenBytes < 0 || cfg.Cache.MaxEntries < 0 || cfg.Cache.MaxBytes < 0 {
		return nil, configErr("MaxTokenBytes, Cache.MaxEntries and Cache.MaxBytes must not be negative")
	}
	if f.Timeout < 0 || f.MinRefreshInterval < 0 || f.MaxBytes < 0 || f.RefreshInterval < 0 {
		return nil, configErr("Fetch: durations and sizes must not be negative")
	}
	if err := v.initDPoP(cfg.DPoP); err != nil {
		return nil, err
	}
	if !cfg.Cache.Disable {
		v.cache = newTokenCache(orDefault(cfg.Cache.MaxEntries, defaultCacheEntries), orDefault(cfg.Cache.MaxBytes, defaultCacheBytes))
	}

	// Trusted issuers, each with its own key set.
	list := cfg.Issuers
	if cfg.Issuer != "" {
		list = append([]IssuerConfig{{Issuer: cfg.Issuer, JWKSURL: cfg.JWKSURL, Keys: cfg.Keys, Algorithms: cfg.Algorithms, Introspection: cfg.Introspection}}, cfg.Issuers...)
	}
	var remotes []*remoteKeys
	var sets []IssuerConfig // with a comparable Keys, to refuse one set shared by two issuers
	for _, ic := range list {
		if ic.Keys != nil && reflect.TypeOf(ic.Keys).Comparable() {
			for _, prev := range sets {
				if prev.Keys == ic.Keys {
					// One issuer, one key set: else a token of either verifies with the other's keys.
					return nil, configErr("issuers %s and %s share one Keys: give each issuer its own key set", prev.Issuer, ic.Issuer)
				}
			}
			sets = append(sets, ic)
		}
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
	if err := v.setupIntrospection(ctx, &cfg); err != nil {
		return nil, err
	}
	if !f.Lazy {
		// Load every fetched key set concurrently; fail if any cannot load.
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
		go rk.run(ctx, orDefault(f.RefreshInterval, defaultRefreshInterval))
	}
	return v, nil
}

// Issuers returns the identifiers of the trusted issuers, in configuration
// order: the list to publish as authorization_servers in the resource's
// metadata (RFC 9728 §2).
func (v *Validator) Issuers() []string { return append([]string(nil), v.order...) }
