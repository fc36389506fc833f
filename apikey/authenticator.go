package apikey

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/rsmeta"
)

// defaultHeader is the request header that carries API keys when
// [Config].Header is empty.
const defaultHeader = "X-API-Key"

// keyScheme is the auth-scheme of the second challenge sent when
// [Config].AdvertiseKeyChallenge is on: `APIKey header="X-API-Key"`. It is
// not a registered HTTP authentication scheme; it only tells a client which
// header this resource reads keys from.
const keyScheme = "APIKey"

// Config configures an [Authenticator]. Store and Prefix are required; every
// other field has a documented default. The resource metadata URL, realm and
// audit hook of the answers are configured once, on the rsguard.Config of
// the [rsguard.Guard] that runs the Authenticator.
type Config struct {
	// Store finds key records by hash. Required: New refuses nil, and
	// also a Store that holds a nil pointer, map, func, slice or channel
	// (a "typed nil", such as a nil *MemoryStore), which is not == nil but
	// would fail on the first request.
	Store Store

	// Prefix is the key prefix, such as "sk_live_": 2 to 32 ASCII
	// characters, starting with a letter but not "ey" (as every JWT does,
	// so that a key sent as a bearer token is told from a JWT by its prefix
	// alone), made of letters, digits and "_", and ending with "_" (apart
	// from the id, unambiguous for secret scanners).
	// Only keys with this prefix are accepted. Required. It is public: a
	// key without it is refused with an error_description that names it
	// ("the API key must start with sk_live_"), so that a client that sent
	// another vendor's key, or a JWT, learns what is expected; the
	// presented key is never echoed.
	Prefix string

	// Bearer authenticates the requests that carry no API key: a
	// *validate.Validator for bearer JWTs, or any other
	// [rsguard.Authenticator]. Its principals and its errors are returned
	// as it returns them (see [Authenticator.Authenticate]). It never sees
	// a request that carries an API key, in Header or as a bearer token
	// with the key prefix, nor one that rsguard.BearerToken refuses as
	// malformed.
	//
	// If nil, the Authenticator accepts API keys only: a bearer token that
	// is not a key is refused with 401 invalid_token (reason
	// audit.ReasonBearerNotAccepted). New refuses a Bearer that holds a nil
	// pointer, map, func, slice or channel (a "typed nil").
	Bearer rsguard.Authenticator

	// Header is the request header that carries API keys. If empty,
	// "X-API-Key". Must be a valid header name other
	// than Authorization. Once a key is accepted, the header is removed
	// from the request, so the key never reaches the next handler and is
	// never forwarded upstream.
	Header string

	// AcceptBearerKeys also accepts an API key sent as
	// "Authorization: Bearer <key>", recognised by Prefix, for clients that
	// cannot change the header they send. Default false.
	//
	// Caveat: the MCP authorization specification says a server must not
	// accept tokens that were not issued for it by its authorization
	// server; a key passed as a Bearer token blurs that line for clients
	// and intermediaries (a bearer key may be logged, cached or forwarded
	// as if it were an OAuth token). Turn it on only for a migration, and
	// never advertise it: keys are never listed in the resource metadata's
	// bearer_methods_supported. With it off, a bearer token with the key
	// prefix is refused with a description telling the client to use
	// Header instead (reason audit.ReasonAPIKeyAsBearer). Either way a bearer token with the
	// key prefix never reaches Bearer.
	AcceptBearerKeys bool

	// AdvertiseKeyChallenge adds a second challenge,
	// `APIKey header="<Header>"`, after the Bearer one on 401
	// responses (RFC 9110 §11.6.1 allows several; RFC 9728 §5 keeps
	// resource_metadata on the Bearer one), so clients learn that keys are
	// still accepted: [Authenticator.Authenticate] returns 401 refusals
	// with it in their [rsguard.Error].Header, which the Guard writes.
	// Never sent for keys that are blocked or retired. Default false: only
	// the OAuth challenge is sent.
	AdvertiseKeyChallenge bool

	// Policy is the initial migration policy (see [Policy]); change it
	// later with [Authenticator.SetPolicy]. The zero Policy allows every
	// key.
	Policy Policy

	// OnUse, if set, is called synchronously on every request that
	// presents an API key, accepted or not, with what is known about it
	// (never the key or its hash): feed metrics or an audit log from it.
	// It runs on the request's goroutine, before the next handler or the
	// error response: keep it fast and safe for concurrent use. (For one
	// audit decision per request, whatever the credential, set
	// rsguard.Config.OnDecision.)
	OnUse func(r *http.Request, u Use)

	// Now returns the current time, for expiry, cutoffs and usage times.
	// If nil, time.Now.
	Now func() time.Time

	// Logger receives a debug line per key decision and an error line per
	// store failure (at most one a minute: the others at debug level, so
	// that an outage is not a line per request), naming keys by id only.
	// If nil, nothing is logged. A Logger without a handler
	// (new(slog.Logger)) is refused by New: use nil to log nothing.
	Logger *slog.Logger
}

// Authenticator is the [rsguard.Authenticator] of a migration from API keys
// to OAuth: it accepts an API key (checked against a [Store] under a
// migration [Policy]) and hands every other request to [Config].Bearer
// (bearer JWTs, or any other credential kind), and returns the same
// [rsguard.Principal] for both, so scope checks work whichever credential
// was used. Run it in an [rsguard.Guard]:
//
//	auth, err := apikey.New(apikey.Config{Store: store, Prefix: "sk_live_", Bearer: validator})
//	guard, err := rsguard.New(rsguard.Config{Authenticator: auth, ResourceMetadata: meta.URL()})
//	mux.Handle("/mcp", guard.Middleware(mcpHandler))
//
// It is safe for concurrent use. Build it with [New].
type Authenticator struct {
	store        Store
	prefix       string
	bearer       rsguard.Authenticator // nil: keys only
	header       string                // canonical, for lookups
	headerName   string                // as configured, for messages
	acceptBearer bool
	keyChallenge string // second WWW-Authenticate line, or ""
	refusals     templates
	policy       atomic.Pointer[Policy]
	onUse        func(*http.Request, Use)
	now          func() time.Time
	logger       *slog.Logger
	usage        usage
	storeLog     atomic.Int64 // unix nanoseconds of the last store failure logged at error level
}

// New checks cfg and returns an Authenticator. Errors wrap
// [rsguard.ErrInvalidConfig] and name the field at fault.
// Besides missing required fields, New refuses values that are set but
// unusable, which would otherwise fail on the first request: a Store or a
// Bearer holding a nil pointer, map, func, slice or channel, and a
// slog.Logger without a handler.
func New(cfg Config) (*Authenticator, error) {
	switch {
	case cfg.Store == nil:
		return nil, fmt.Errorf("%w: Store is required", rsguard.ErrInvalidConfig)
	case check.IsNil(cfg.Store):
		return nil, fmt.Errorf("%w: Store is a nil %T", rsguard.ErrInvalidConfig, cfg.Store)
	case cfg.Bearer != nil && check.IsNil(cfg.Bearer):
		return nil, fmt.Errorf("%w: Bearer is a nil %T: leave it nil to accept keys only", rsguard.ErrInvalidConfig, cfg.Bearer)
	case cfg.Logger != nil && cfg.Logger.Handler() == nil:
		return nil, fmt.Errorf("%w: Logger has no handler: build it with slog.New, or leave it nil to log nothing", rsguard.ErrInvalidConfig)
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, err // names the key prefix
	}
	header := cfg.Header
	if header == "" {
		header = defaultHeader
	}
	if !check.IsToken(header) || strings.EqualFold(header, "Authorization") {
		return nil, fmt.Errorf("%w: Header %q is not a usable header name", rsguard.ErrInvalidConfig, header)
	}
	a := &Authenticator{
		store:        cfg.Store,
		prefix:       cfg.Prefix,
		bearer:       cfg.Bearer,
		header:       http.CanonicalHeaderKey(header),
		headerName:   header,
		acceptBearer: cfg.AcceptBearerKeys,
		onUse:        cfg.OnUse,
		now:          cfg.Now,
		logger:       cfg.Logger,
	}
	var err error
	if a.refusals, err = newTemplates(cfg.Prefix, header); err != nil {
		return nil, err
	}
	if cfg.AdvertiseKeyChallenge {
		c := rsmeta.Challenge{Scheme: keyScheme, Params: []rsmeta.Param{{Name: "header", Value: header}}}
		if a.keyChallenge, err = c.Header(); err != nil {
			return nil, fmt.Errorf("%w: key challenge: %w", rsguard.ErrInvalidConfig, err)
		}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := a.SetPolicy(cfg.Policy); err != nil {
		return nil, err
	}
	return a, nil
}

// SetPolicy replaces the migration policy, atomically: requests already
// being checked finish under the old one. Use it to move clients one at a
// time without a restart. Errors wrap [rsguard.ErrInvalidConfig]; on error the
// policy is unchanged.
func (a *Authenticator) SetPolicy(p Policy) error {
	if err := p.validate(); err != nil {
		return err
	}
	a.policy.Store(p.clone())
	return nil
}

// Policy returns a copy of the current migration policy.
func (a *Authenticator) Policy() Policy {
	return *a.policy.Load().clone()
}

// Usage returns a snapshot of the usage counters: requests by credential
// type, and by key and client with totals and last-seen times.
func (a *Authenticator) Usage() Snapshot {
	return a.usage.snapshot(a.now())
}
