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

// This file builds the refusals of the package, listed with their reasons,
// statuses and codes in the package documentation ("Refusals").

// errShape and errChecksum are what [Parse] returns: not a key of the
// format, and a key whose checksum does not match. Both wrap
// audit.ReasonMalformed; neither names the key.
var (
	errShape    = fmt.Errorf("apikey: %w: not an API key of this format", audit.ReasonMalformed)
	errChecksum = fmt.Errorf("apikey: %w: API key checksum mismatch", audit.ReasonMalformed)
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
	refusedShape    = invalidKey(errShape, audit.ReasonMalformed, descMalformed)
	refusedChecksum = invalidKey(errChecksum, audit.ReasonMalformed, descChecksum)
	refusedUnknown  = invalidKey(audit.ReasonUnknownAPIKey, audit.ReasonUnknownAPIKey, descUnknown)
	refusedExpired  = invalidKey(audit.ReasonExpired, audit.ReasonExpired, descExpired)
	refusedRevoked  = invalidKey(audit.ReasonRevoked, audit.ReasonRevoked, descRevoked)
	refusedBlocked  = invalidKey(audit.ReasonAPIKeyBlocked, audit.ReasonAPIKeyBlocked, descBlocked)
	refusedStore    = rsguard.Error{Status: http.StatusServiceUnavailable, Description: descStore,
		Err: audit.ReasonStoreUnavailable, Reason: audit.ReasonStoreUnavailable, Credential: audit.CredentialAPIKey,
		RetryAfter: 5 * time.Second} // an outage: a fixed hint, as for the revocation store
	refusedBoth = multiple(fmt.Errorf("%w: an API key and a bearer token", audit.ReasonInvalidRequest), descBothCreds)
	// A bearer token refused in keys-only mode: its credential is recorded
	// as a bearer JWT, the kind a bearer token is expected to be.
	refusedBearer = rsguard.Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: descNoBearer,
		Err: audit.ReasonBearerNotAccepted, Reason: audit.ReasonBearerNotAccepted, Credential: audit.CredentialJWT}
)

// templates are the refusals whose descriptions depend on the
// configuration, built once by [New].
type templates struct {
	prefix    rsguard.Error // a key without the prefix: malformed, names the prefix
	twice     rsguard.Error // the key header twice
	bearerKey rsguard.Error // a key sent as a bearer token, not accepted
}

// newTemplates builds the refusals of a configuration, checking that their
// descriptions can be sent (RFC 6750 §3 NQSCHAR).
func newTemplates(prefix, headerName string) (templates, error) {
	t := templates{
		prefix: invalidKey(fmt.Errorf("%w: expected prefix %q", audit.ReasonMalformed, prefix), audit.ReasonMalformed,
			"the API key must start with "+prefix),
		twice: multiple(fmt.Errorf("%w: the %s header twice", audit.ReasonInvalidRequest, headerName),
			"the "+headerName+" header must appear once"),
		bearerKey: invalidKey(audit.ReasonAPIKeyAsBearer, audit.ReasonAPIKeyAsBearer,
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

func multiple(err error, desc string) rsguard.Error {
	return rsguard.Error{Status: http.StatusBadRequest, Code: rsmeta.ErrorInvalidRequest, Description: desc,
		Err: err, Reason: audit.ReasonInvalidRequest, Credential: audit.CredentialAPIKey}
}

// retired returns the refusal of a key whose cutoff, sunset, has passed.
func retired(sunset time.Time) *rsguard.Error {
	e := invalidKey(audit.ReasonAPIKeyRetired, audit.ReasonAPIKeyRetired, fmt.Sprintf(descRetired, sunset.UTC().Format(time.DateOnly)))
	return &e
}

// storeFailed returns the refusal of a key the store could not look up.
func storeFailed(cause error) *rsguard.Error {
	e := refusedStore
	e.Err = fmt.Errorf("%w: %w", audit.ReasonStoreUnavailable, cause)
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
