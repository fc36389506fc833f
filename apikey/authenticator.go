package apikey

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// DefaultHeader is the request header that carries API keys when
// [Config].Header is empty.
const DefaultHeader = "X-API-Key"

// KeyScheme is the auth-scheme of the second challenge sent when
// [Config].AdvertiseKeyChallenge is on: `APIKey header="X-API-Key"`. It is
// not a registered HTTP authentication scheme; it only tells a client which
// header this resource reads keys from.
const KeyScheme = "APIKey"

// Config configures an [Authenticator]. Store and Prefix are required, and
// so is ResourceMetadata when Validator is nil; every other field has a
// documented default.
type Config struct {
	// Store finds key records by hash. Required: New refuses nil, and
	// also a Store that holds a nil pointer, map, func, slice or channel
	// (a "typed nil", such as a nil *MemoryStore), which is not == nil but
	// would fail on the first request.
	Store Store

	// Prefix is the key prefix, such as "sk_live_" (see [CheckPrefix]).
	// Only keys with this prefix are accepted. Required. It is public: a
	// key without it is refused with an error_description that names it
	// ("the API key must start with sk_live_"), so that a client that sent
	// another vendor's key, or a JWT, learns what is expected; the
	// presented key is never echoed.
	Prefix string

	// Validator verifies bearer JWT access tokens. If nil, the
	// Authenticator accepts API keys only: bearer tokens other than keys
	// are refused with 401 invalid_token. A non-nil Validator must come
	// from validate.New: New refuses a zero validate.Validator.
	Validator *validate.Validator

	// ResourceMetadata is the URL of this resource's RFC 9728 metadata
	// document, sent as resource_metadata in every challenge (RFC 9728
	// §5.1) and recorded in the Grant. Ignored when Validator is set: the
	// validator's ([validate.Validator.Challenge]) is used. Required when
	// Validator is nil.
	ResourceMetadata string

	// Header is the request header that carries API keys. If empty,
	// [DefaultHeader] ("X-API-Key"). Must be a valid header name other
	// than Authorization. The header is removed from the request before
	// it reaches the next handler, so a key is never forwarded upstream.
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
	// Header instead ([ErrBearerKey]).
	AcceptBearerKeys bool

	// AdvertiseKeyChallenge adds a second challenge,
	// `APIKey header="<Header>"` ([KeyScheme]), after the Bearer one on 401
	// responses (RFC 9110 §11.6.1 allows several; RFC 9728 §5 keeps
	// resource_metadata on the Bearer one), so clients learn that keys are
	// still accepted. Never sent for keys that are blocked or retired.
	// Default false: only the OAuth challenge is sent.
	AdvertiseKeyChallenge bool

	// Policy is the initial migration policy (see [Policy]); change it
	// later with [Authenticator.SetPolicy]. The zero Policy allows every
	// key.
	Policy Policy

	// OnUse, if set, is called synchronously on every request that
	// presents an API key, accepted or not, with what is known about it
	// (never the key or its hash): feed metrics or an audit log from it.
	// It runs on the request's goroutine, before the next handler or the
	// error response: keep it fast and safe for concurrent use.
	OnUse func(r *http.Request, u Use)

	// OnDecision, if set, receives one authenticate-stage scopes.Decision
	// per request that [Authenticator.Middleware] decides, for API keys and
	// bearer JWTs alike: allowed or refused, a stable reason code (see
	// [ReasonCode]), the credential kind, the key's id as TokenID and its
	// owner, client and tenant (never the key or its hash), or a JWT's
	// verified claims. Set it here rather than on the Validator's Config:
	// the Authenticator verifies JWTs without the Validator's middleware.
	// If nil (the default), no decision is made, at no cost.
	OnDecision scopes.DecisionFunc

	// Now returns the current time, for expiry, cutoffs and usage times.
	// If nil, time.Now.
	Now func() time.Time

	// Logger receives a debug line per key decision and an error line per
	// store failure, naming keys by id only. If nil, nothing is logged. A
	// Logger without a handler (new(slog.Logger)) is refused by New: use
	// nil to log nothing.
	Logger *slog.Logger
}

// Authenticator is the dual-mode authentication middleware: it accepts
// either a bearer JWT access token (verified by a [validate.Validator]) or
// an API key (checked against a [Store] under a migration [Policy]), and
// puts the same [scopes.Grant] in the request context for both, so
// scopes.Require and per-tool scope checks work whichever credential was
// used. It is safe for concurrent use. Build it with [New].
type Authenticator struct {
	store        Store
	prefix       string
	v            *validate.Validator
	header       string // canonical, for lookups
	headerName   string // as configured, for messages
	acceptBearer bool
	challenge    rsmeta.Challenge // base challenge (keys-only mode)
	resourceMeta string
	keyChallenge string // second WWW-Authenticate line, or ""
	prefixErr    error  // a key without the prefix: wraps ErrMalformed
	prefixDesc   string // its description, naming the prefix
	policy       atomic.Pointer[Policy]
	onUse        func(*http.Request, Use)
	onDecision   scopes.DecisionFunc
	now          func() time.Time
	logger       *slog.Logger
	usage        usage
}

// New checks cfg and returns an Authenticator. Errors wrap
// [ErrInvalidConfig] (or [ErrInvalidPrefix]) and name the field at fault.
// Besides missing required fields, New refuses values that are set but
// unusable, which would otherwise fail on the first request: a Store holding
// a nil pointer, map, func, slice or channel, a zero validate.Validator, and
// a slog.Logger without a handler.
func New(cfg Config) (*Authenticator, error) {
	switch {
	case cfg.Store == nil:
		return nil, fmt.Errorf("%w: Store is required", ErrInvalidConfig)
	case isNil(cfg.Store):
		return nil, fmt.Errorf("%w: Store is a nil %T", ErrInvalidConfig, cfg.Store)
	case cfg.Validator != nil && cfg.Validator.Challenge().ResourceMetadata == "":
		// validate.New always sets resource_metadata; a zero Validator
		// has none, and would fail on the first bearer token.
		return nil, fmt.Errorf("%w: Validator is a zero validate.Validator: build it with validate.New, or leave it nil to accept keys only", ErrInvalidConfig)
	case cfg.Logger != nil && cfg.Logger.Handler() == nil:
		return nil, fmt.Errorf("%w: Logger has no handler: build it with slog.New, or leave it nil to log nothing", ErrInvalidConfig)
	}
	if err := CheckPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	header := cfg.Header
	if header == "" {
		header = DefaultHeader
	}
	if !validHeaderName(header) || strings.EqualFold(header, "Authorization") {
		return nil, fmt.Errorf("%w: Header %q is not a usable header name", ErrInvalidConfig, header)
	}
	a := &Authenticator{
		store:        cfg.Store,
		prefix:       cfg.Prefix,
		v:            cfg.Validator,
		header:       http.CanonicalHeaderKey(header),
		headerName:   header,
		acceptBearer: cfg.AcceptBearerKeys,
		onUse:        cfg.OnUse,
		onDecision:   cfg.OnDecision,
		now:          cfg.Now,
		logger:       cfg.Logger,
	}
	if a.v != nil {
		a.challenge = a.v.Challenge()
	} else {
		if cfg.ResourceMetadata == "" {
			return nil, fmt.Errorf("%w: ResourceMetadata is required without a Validator", ErrInvalidConfig)
		}
		a.challenge = rsmeta.Challenge{ResourceMetadata: cfg.ResourceMetadata}
		if _, err := a.challenge.Header(); err != nil {
			return nil, fmt.Errorf("%w: ResourceMetadata: %w", ErrInvalidConfig, err)
		}
	}
	a.resourceMeta = a.challenge.ResourceMetadata
	// CheckPrefix allows only letters, digits and "_" in a prefix, all
	// RFC 6750 §3 NQSCHAR: check the description all the same.
	a.prefixErr = fmt.Errorf("%w: expected prefix %q", ErrMalformed, cfg.Prefix)
	a.prefixDesc = "the API key must start with " + cfg.Prefix
	pc := a.challenge
	pc.Error, pc.ErrorDescription = rsmeta.ErrorInvalidToken, a.prefixDesc
	if _, err := pc.Header(); err != nil {
		return nil, fmt.Errorf("%w: Prefix: %w", ErrInvalidConfig, err)
	}
	if cfg.AdvertiseKeyChallenge {
		c := rsmeta.Challenge{Scheme: KeyScheme, Params: []rsmeta.Param{{Name: "header", Value: a.headerName}}}
		s, err := c.Header()
		if err != nil {
			return nil, fmt.Errorf("%w: key challenge: %w", ErrInvalidConfig, err)
		}
		a.keyChallenge = s
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

// isNil reports whether v is nil or holds a nil pointer, map, func, slice
// or channel: an interface value that is != nil, but whose methods would
// fail on their first use.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Slice, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// validHeaderName reports whether s is an RFC 9110 §5.1 field name (token).
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return s != ""
}

// SetPolicy replaces the migration policy, atomically: requests already
// being checked finish under the old one. Use it to move clients one at a
// time without a restart. Errors wrap [ErrInvalidConfig]; on error the
// policy is unchanged.
func (a *Authenticator) SetPolicy(p Policy) error {
	if err := p.Validate(); err != nil {
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

// result is the outcome of a successful authentication.
type result struct {
	grant  *scopes.Grant
	claims *validate.Claims // JWT only
	use    *Use             // API key only
	link   string           // migration documentation, for a key's headers
	strip  string           // header to remove before calling next
}

// Authenticate is the decision method of [Authenticator.Middleware]: it
// finds the request's credential and checks it, and returns the Grant to put
// in the context. It counts the request in [Authenticator.Usage] and calls
// [Config].OnUse for keys, but sets no response headers (the Middleware adds
// the Deprecation, Sunset and Link headers of deprecated keys).
//
// Errors are *validate.Error values, ready for [Authenticator.WriteError]:
//   - no credential: 401, no error code (validate.ErrNoToken);
//   - an API key and a bearer token, or the key header twice: 400
//     invalid_request ([ErrMultipleCredentials]); a malformed Authorization
//     header or an access_token query parameter: 400 invalid_request
//     (validate.ErrInvalidRequest);
//   - a bad key: 401 invalid_token wrapping [ErrMalformed], [ErrChecksum],
//     [ErrUnknown], [ErrExpired], [ErrRevoked], [ErrBlocked] or
//     [ErrRetired]; a key as Bearer when not accepted: [ErrBearerKey]; a
//     bearer token in keys-only mode: [ErrBearerNotAccepted]. A key that
//     does not start with [Config].Prefix (another vendor's key, a prefix
//     in the wrong case or cut short) wraps [ErrMalformed], and both the
//     error and its description ("the API key must start with sk_live_")
//     name the expected prefix; no part of the presented key appears in
//     either;
//   - a store failure: 503 ([ErrStore]);
//   - a bearer token: whatever [validate.Validator.Authenticate] returns.
func (a *Authenticator) Authenticate(r *http.Request) (*scopes.Grant, error) {
	res, err := a.authenticate(r, nil)
	if err != nil {
		return nil, err
	}
	return res.grant, nil
}

// authenticate is Authenticate; a non-nil d receives what is known of the
// credential (see decision.go).
func (a *Authenticator) authenticate(r *http.Request, d *scopes.Decision) (*result, error) {
	// BearerToken also refuses an access_token query parameter, whatever
	// else the request carries.
	tok, berr := validate.BearerToken(r)
	hasBearer := berr == nil
	keys := r.Header[a.header]
	switch {
	case berr != nil && !errors.Is(berr, validate.ErrNoToken):
		if len(keys) > 0 {
			return nil, a.refuseRequest(r, berr)
		}
		return nil, berr
	case len(keys) > 1:
		return nil, a.refuseRequest(r, a.multiple("the "+a.headerName+" header must appear once"))
	case len(keys) == 1 && hasBearer:
		return nil, a.refuseRequest(r, a.multiple("send either an API key or a bearer token, not both"))
	case len(keys) == 1:
		return a.checkKey(r, keys[0], a.headerName, d)
	}
	if hasBearer && strings.HasPrefix(tok, a.prefix) {
		if a.acceptBearer {
			return a.checkKey(r, tok, "Authorization", d)
		}
		a.usage.keyReject.Add(1)
		return nil, a.refuse(r, &Use{Time: a.now(), Header: "Authorization"}, nil, invalidToken(ErrBearerKey, "send API keys in the "+a.headerName+" header, not as a bearer token"))
	}
	if a.v == nil {
		if hasBearer {
			a.usage.jwtSeen.Add(1)
			return nil, invalidToken(ErrBearerNotAccepted, "this resource does not accept bearer tokens")
		}
		a.usage.anonymous.Add(1)
		return nil, &validate.Error{Status: http.StatusUnauthorized, Err: validate.ErrNoToken}
	}
	if !hasBearer {
		a.usage.anonymous.Add(1)
		return nil, berr
	}
	a.usage.jwtSeen.Add(1)
	c, err := a.v.Verify(r.Context(), tok) // BearerToken already ran above
	if d != nil {
		*d = a.v.Decision(r, c, err)
	}
	if err != nil {
		return nil, err
	}
	a.usage.jwtAccepted.Add(1)
	return &result{grant: a.v.Grant(c), claims: c}, nil
}

// refuseRequest refuses a malformed request that carries the key header,
// counting it as a refused key and reporting it to OnUse.
func (a *Authenticator) refuseRequest(r *http.Request, err error) error {
	a.usage.keyReject.Add(1)
	u := Use{Time: a.now(), Header: a.headerName, Err: err}
	if a.onUse != nil {
		a.onUse(r, u)
	}
	return err
}

func (a *Authenticator) multiple(desc string) *validate.Error {
	return &validate.Error{Status: http.StatusBadRequest, Code: rsmeta.ErrorInvalidRequest, Description: desc, Err: ErrMultipleCredentials}
}

func invalidToken(sentinel error, desc string) *validate.Error {
	return &validate.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: desc, Err: sentinel}
}

// Client-facing descriptions of key rejections. They name no key.
const (
	descMalformed = "the API key is malformed"
	descChecksum  = "the API key is malformed (checksum mismatch)"
	descUnknown   = "the API key is not recognised"
	descExpired   = "the API key has expired"
	descRevoked   = "the API key has been revoked"
	descBlocked   = "API keys are no longer accepted for this client: get an OAuth access token (see resource_metadata)"
	descRetired   = "API keys were retired for this client on %s: get an OAuth access token (see resource_metadata)"
	descStore     = "the API key cannot be checked right now"
)

// checkKey checks key, found in header where.
func (a *Authenticator) checkKey(r *http.Request, key, where string, d *scopes.Decision) (*result, error) {
	now := a.now()
	pol := a.policy.Load()
	u := &Use{Time: now, Header: where}
	id, err := Parse(a.prefix, key)
	if err != nil {
		desc := descMalformed
		switch {
		case errors.Is(err, ErrChecksum):
			desc = descChecksum
		case !strings.HasPrefix(key, a.prefix):
			// Say what is expected, never what was sent (the prefix is
			// public; the key may be another service's secret).
			err, desc = a.prefixErr, a.prefixDesc
		}
		a.usage.keyReject.Add(1)
		return nil, a.refuse(r, u, nil, invalidToken(err, desc))
	}
	u.ID = id
	if d != nil {
		d.TokenID = id // the public part of the key
	}
	h := HashKey(key)
	rec, err := a.store.Lookup(r.Context(), h)
	switch {
	case errors.Is(err, ErrUnknown) || err == nil && rec == nil:
		a.usage.keyReject.Add(1)
		return nil, a.refuse(r, u, nil, invalidToken(ErrUnknown, descUnknown))
	case err != nil:
		a.usage.keyReject.Add(1)
		a.logger.ErrorContext(r.Context(), "apikey: key store lookup failed", "key_id", id, "error", err)
		return nil, a.refuse(r, u, nil, &validate.Error{Status: http.StatusServiceUnavailable, Description: descStore, Err: fmt.Errorf("%w: %w", ErrStore, err)})
	}
	// The store found the record by hash; compare again in constant time
	// (a store's index may be looser than equality) and check the id.
	if subtle.ConstantTimeCompare(rec.Hash[:], h[:]) != 1 || rec.ID != id {
		a.usage.keyReject.Add(1)
		return nil, a.refuse(r, u, nil, invalidToken(ErrUnknown, descUnknown))
	}
	u.Owner, u.ClientID, u.Tenant = rec.Owner, rec.ClientID, rec.Tenant
	granted, dropped := scopes.ParseList(rec.Scopes) // a new slice: the request's own
	if len(dropped) > 0 && a.logger.Enabled(r.Context(), slog.LevelDebug) {
		a.logger.DebugContext(r.Context(), "apikey: scope tokens outside RFC 6749 §3.3 not granted", "key_id", id, "dropped", len(dropped))
	}
	if d != nil {
		d.Subject, d.ClientID, d.Tenant, d.Granted = rec.subject(), rec.ClientID, rec.Tenant, granted
	}
	var verr *validate.Error
	switch {
	case rec.Revoked:
		verr = invalidToken(ErrRevoked, descRevoked)
	case !rec.Expires.IsZero() && !now.Before(rec.Expires):
		verr = invalidToken(ErrExpired, descExpired)
	}
	if verr == nil {
		st, perr := pol.Evaluate(rec, now)
		u.Status = st
		switch {
		case errors.Is(perr, ErrBlocked):
			verr = invalidToken(ErrBlocked, descBlocked)
		case errors.Is(perr, ErrRetired):
			verr = invalidToken(ErrRetired, fmt.Sprintf(descRetired, st.Sunset.UTC().Format(time.DateOnly)))
		}
	}
	if verr != nil {
		a.usage.keyReject.Add(1)
		a.usage.recordKey(rec, u.Status.State, now, false)
		return nil, a.refuse(r, u, rec, verr)
	}
	a.usage.keyAccepted.Add(1)
	a.usage.recordKey(rec, u.Status.State, now, true)
	if a.onUse != nil {
		a.onUse(r, *u)
	}
	if a.logger.Enabled(r.Context(), slog.LevelDebug) {
		a.logger.DebugContext(r.Context(), "apikey: key accepted", "key_id", id, "client", rec.Client(), "state", string(u.Status.State))
	}
	return &result{
		grant: &scopes.Grant{
			Scopes:           granted,
			Subject:          rec.subject(),
			ClientID:         rec.ClientID,
			Tenant:           rec.Tenant,
			Credential:       scopes.CredentialAPIKey,
			TokenID:          id, // the key's public id, never the key
			ResourceMetadata: a.resourceMeta,
		},
		use:   u,
		link:  pol.Link,
		strip: where,
	}, nil
}

// refuse reports a refused key to OnUse and the logger, and returns e.
func (a *Authenticator) refuse(r *http.Request, u *Use, rec *Record, e *validate.Error) error {
	u.Err = e
	if a.onUse != nil {
		a.onUse(r, *u)
	}
	if a.logger.Enabled(r.Context(), slog.LevelDebug) {
		client := ""
		if rec != nil {
			client = rec.Client()
		}
		a.logger.DebugContext(r.Context(), "apikey: key refused", "key_id", u.ID, "client", client, "reason", e.Err.Error(), "status", e.Status)
	}
	return e
}

// Middleware requires a valid credential, an API key or a bearer JWT, on
// every request to next; see [Authenticator.Authenticate] for the
// decisions and [Authenticator.WriteError] for the refusals.
//
// On success the request context carries a [scopes.Grant] (Credential
// scopes.CredentialAPIKey or scopes.CredentialJWT), plus the
// validate.Claims for a JWT (validate.ClaimsFromContext) or the [Use] for a
// key ([FromContext]). For a key, the key header (or the Authorization
// header of a bearer key) is removed from the request passed to next, and a
// deprecated key's response carries the Deprecation (RFC 9745), Sunset
// (RFC 8594) and Link headers of its [Policy]. Requests with a bearer JWT
// are handled exactly as validate.Validator.Middleware handles them.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		var d *scopes.Decision
		if a.onDecision != nil {
			start, d = time.Now(), new(scopes.Decision)
		}
		res, err := a.authenticate(r, d) // a JWT's decision is the Validator's
		if d != nil {
			if d.Stage == "" {
				a.keyDecision(d, r, res, err)
			}
			d.Time, d.Latency = start, time.Since(start)
			a.onDecision(r.Context(), *d)
		}
		if err != nil {
			a.WriteError(w, r, err)
			return
		}
		a.serve(w, r, next, res)
	})
}

// serve passes the request authenticated as res to next.
func (a *Authenticator) serve(w http.ResponseWriter, r *http.Request, next http.Handler, res *result) {
	var ctx context.Context
	if res.claims != nil {
		ctx = a.v.NewContext(r.Context(), res.claims) // exactly as validate's middleware
	} else {
		ctx = scopes.NewContext(r.Context(), res.grant)
	}
	if res.use != nil {
		ctx = context.WithValue(ctx, useKey, res.use)
	}
	r2 := r.WithContext(ctx)
	if res.use != nil {
		// r2 shares r's Header map: copy it before removing the key.
		r2.Header = r.Header.Clone()
		r2.Header.Del(res.strip)
		res.use.Status.setHeaders(w.Header(), res.link)
	}
	next.ServeHTTP(w, r2)
}

// WriteError answers a request refused with err, as validate's bearer
// middleware does: the status, RFC 6750 error code and description of the
// *validate.Error in err's chain, a Bearer challenge with this resource's
// resource_metadata (so the client learns where to get a token), and, when
// [Config].AdvertiseKeyChallenge is on, the key challenge after it (not for
// blocked or retired keys). With a Validator its WriteError writes the
// response; without one, rsmeta.WriteChallenge does. Any other error is
// answered as 401 invalid_token.
func (a *Authenticator) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *validate.Error
	if !errors.As(err, &e) {
		e = invalidToken(errors.Join(validate.ErrRejected, err), "the credential was rejected")
		err = e
	}
	if a.keyChallenge != "" && e.Status == http.StatusUnauthorized && !errors.Is(err, ErrBlocked) && !errors.Is(err, ErrRetired) {
		w = &extraChallenge{ResponseWriter: w, value: a.keyChallenge}
	}
	if a.v != nil {
		a.v.WriteError(w, r, err)
		return
	}
	c := a.challenge
	if e.Code != "" {
		c.Error, c.ErrorDescription = e.Code, e.Description
	}
	rsmeta.WriteChallenge(w, e.Status, c)
}

// extraChallenge appends one WWW-Authenticate line when the status is
// written, after the ones the wrapped writer's caller set.
type extraChallenge struct {
	http.ResponseWriter
	value string
	done  bool
}

func (x *extraChallenge) WriteHeader(status int) {
	if !x.done {
		x.done = true
		x.Header().Add("WWW-Authenticate", x.value)
	}
	x.ResponseWriter.WriteHeader(status)
}

func (x *extraChallenge) Write(b []byte) (int, error) {
	if !x.done {
		x.WriteHeader(http.StatusOK)
	}
	return x.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (x *extraChallenge) Unwrap() http.ResponseWriter { return x.ResponseWriter }

type useKeyType struct{ name string }

var useKey = &useKeyType{"rsguard-apikey-use"}

// FromContext returns the [Use] of the API key that authenticated the
// request, and whether there was one: false when the request was
// authenticated by a bearer token (use scopes.FromContext for what both
// have in common, and its Credential to tell them apart).
func FromContext(ctx context.Context) (Use, bool) {
	u, ok := ctx.Value(useKey).(*Use)
	if !ok || u == nil {
		return Use{}, false
	}
	return *u, true
}
