package apikey

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
)

// Sentinel errors. Every error this package returns about a key wraps exactly
// one of them, so callers match with [errors.Is]. [Authenticator.Authenticate]
// returns them inside an [*rsguard.Error] whose Description is a fixed,
// client-safe text and whose Reason is the audit code shown in brackets:
// neither the key nor its hash ever appears in an error.
var (
	// ErrMalformed means the string is not a key of the configured format
	// (wrong prefix, length, separator or alphabet). Detected without a
	// store lookup. When the prefix is wrong, the [Authenticator]'s error
	// and error_description name the expected prefix, never the key.
	// [401 invalid_token, malformed]
	ErrMalformed = errors.New("apikey: malformed key")

	// ErrChecksum means the key has the right shape but its checksum does
	// not match: a typo, a truncated copy or a made-up string. Detected
	// without a store lookup. [401 invalid_token, malformed]
	ErrChecksum = errors.New("apikey: key checksum mismatch")

	// ErrUnknown means the key is well formed but no record has its hash.
	// A [Store] returns it (possibly wrapped) from Lookup. [401
	// invalid_token, unknown_api_key]
	ErrUnknown = errors.New("apikey: unknown key")

	// ErrExpired means the key's record has an expiry time that has passed.
	// [401 invalid_token, expired]
	ErrExpired = errors.New("apikey: key expired")

	// ErrRevoked means the key's record is marked revoked. [401
	// invalid_token, revoked]
	ErrRevoked = errors.New("apikey: key revoked")

	// ErrBlocked means the migration policy blocks API keys for the key's
	// client (state [StateBlocked]). [401 invalid_token, api_key_blocked]
	ErrBlocked = errors.New("apikey: keys blocked for this client")

	// ErrRetired means the key's cutoff date (its client's, or the global
	// one) has passed: API keys are retired for it. [401 invalid_token,
	// api_key_retired]
	ErrRetired = errors.New("apikey: keys retired for this client")

	// ErrMultipleCredentials means a request carried both an API key and a
	// bearer token, or the key header more than once (RFC 6750 §3.1
	// invalid_request). [400 invalid_request, invalid_request]
	ErrMultipleCredentials = errors.New("apikey: more than one credential")

	// ErrBearerKey means an API key was sent as a Bearer token while
	// [Config].AcceptBearerKeys is off. [401 invalid_token,
	// api_key_as_bearer]
	ErrBearerKey = errors.New("apikey: API key sent as bearer token")

	// ErrBearerNotAccepted means a bearer token was sent to an
	// [Authenticator] configured without [Config].Bearer (keys only). [401
	// invalid_token, bearer_not_accepted]
	ErrBearerNotAccepted = errors.New("apikey: bearer tokens not accepted")

	// ErrStore means the [Store] failed for a reason other than an unknown
	// key (a database outage, a cancelled context). [503,
	// store_unavailable]
	ErrStore = errors.New("apikey: key store unavailable")

	// ErrInvalidRecord means a [Record] fails [Record.Validate], or a key
	// file cannot be decoded.
	ErrInvalidRecord = errors.New("apikey: invalid key record")
)

// Client-facing descriptions of key refusals. They name no key.
const (
	descMalformed = "the API key is malformed"
	descChecksum  = "the API key is malformed (checksum mismatch)"
	descUnknown   = "the API key is not recognised"
	descExpired   = "the API key has expired"
	descRevoked   = "the API key has been revoked"
	descBlocked   = "API keys are no longer accepted for this client: get an OAuth access token (see resource_metadata)"
	descRetired   = "API keys were retired for this client on %s: get an OAuth access token (see resource_metadata)"
	descStore     = "the API key cannot be checked right now"
	descNoBearer  = "this resource does not accept bearer tokens"
	descBothCreds = "send either an API key or a bearer token, not both"
)

// The refusals that do not depend on the configuration. They are never
// handed out: [refusal] returns a fresh copy, so a caller that modifies the
// *rsguard.Error it got cannot change what later requests see. (Those that
// name the prefix or the key header are built by [New], in [templates].)
var (
	errMalformed = invalidKey(ErrMalformed, audit.ReasonMalformed, descMalformed)
	errChecksum  = invalidKey(ErrChecksum, audit.ReasonMalformed, descChecksum)
	errUnknown   = invalidKey(ErrUnknown, audit.ReasonUnknownAPIKey, descUnknown)
	errExpired   = invalidKey(ErrExpired, audit.ReasonExpired, descExpired)
	errRevoked   = invalidKey(ErrRevoked, audit.ReasonRevoked, descRevoked)
	errBlocked   = invalidKey(ErrBlocked, audit.ReasonAPIKeyBlocked, descBlocked)
	errStore     = rsguard.Error{Status: http.StatusServiceUnavailable, Description: descStore, Err: ErrStore,
		Reason: audit.ReasonStoreUnavailable, Credential: audit.CredentialAPIKey,
		RetryAfter: 5 * time.Second} // an outage: a fixed hint, as for the revocation store
	errBothCreds = multiple(descBothCreds)
	// A bearer token refused in keys-only mode: its credential is recorded
	// as a bearer JWT, the kind a bearer token is expected to be.
	errNoBearer = rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: descNoBearer,
		Err: ErrBearerNotAccepted, Reason: audit.ReasonBearerNotAccepted, Credential: audit.CredentialJWT}
)

// templates are the refusals whose descriptions depend on the
// configuration, built once by [New].
type templates struct {
	prefix    rsguard.Error // a key without the prefix: wraps ErrMalformed, names the prefix
	twice     rsguard.Error // the key header twice
	bearerKey rsguard.Error // a key sent as a bearer token, not accepted
}

// newTemplates builds the refusals of a configuration, checking that their
// descriptions can be sent (RFC 6750 §3 NQSCHAR).
func newTemplates(prefix, headerName string) (templates, error) {
	t := templates{
		prefix: invalidKey(fmt.Errorf("%w: expected prefix %q", ErrMalformed, prefix), audit.ReasonMalformed,
			"the API key must start with "+prefix),
		twice: multiple("the " + headerName + " header must appear once"),
		bearerKey: invalidKey(ErrBearerKey, audit.ReasonAPIKeyAsBearer,
			"send API keys in the "+headerName+" header, not as a bearer token"),
	}
	// checkPrefix allows only letters, digits and "_" in a prefix, and the
	// header is an RFC 9110 token: check the descriptions all the same.
	for _, e := range []*rsguard.Error{&t.prefix, &t.twice, &t.bearerKey} {
		if _, err := (rsmeta.Challenge{Error: e.Code, ErrorDescription: e.Description}).Header(); err != nil {
			return templates{}, fmt.Errorf("%w: %w", rsguard.ErrInvalidConfig, err)
		}
	}
	return t, nil
}

func invalidKey(err error, reason audit.Reason, desc string) rsguard.Error {
	return rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: desc, Err: err,
		Reason: reason, Credential: audit.CredentialAPIKey}
}

func multiple(desc string) rsguard.Error {
	return rsguard.Error{Status: http.StatusBadRequest, Code: rsmeta.ErrorInvalidRequest, Description: desc,
		Err: ErrMultipleCredentials, Reason: audit.ReasonInvalidRequest, Credential: audit.CredentialAPIKey}
}

// retired returns the refusal of a key whose cutoff, sunset, has passed.
func retired(sunset time.Time) *rsguard.Error {
	e := invalidKey(ErrRetired, audit.ReasonAPIKeyRetired, fmt.Sprintf(descRetired, sunset.UTC().Format(time.DateOnly)))
	return &e
}

// storeFailed returns the refusal of a key the store could not look up.
func storeFailed(cause error) *rsguard.Error {
	e := errStore
	e.Err = fmt.Errorf("%w: %w", ErrStore, cause)
	return &e
}

// refusal returns a fresh copy of the template t.
func refusal(t rsguard.Error) *rsguard.Error { return &t }

// keyRequestError returns a copy of err, a refusal of rsguard.BearerToken
// (a malformed Authorization header, an access_token query parameter), for
// a request that also carries the key header: the refusal of an API key.
func keyRequestError(err error) error {
	var e *rsguard.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Credential = audit.CredentialAPIKey
	return &c
}

// errNotBuilt returns the refusal of an Authenticator that New did not build (a zero or nil
// Authenticator): a programming error, refused with 500 rather than a panic.
func errNotBuilt() *rsguard.Error {
	return &rsguard.Error{
		Status: http.StatusInternalServerError, Reason: audit.ReasonInternalError,
		Err: fmt.Errorf("%w: the apikey.Authenticator was not built by apikey.New", rsguard.ErrInvalidConfig),
	}
}
