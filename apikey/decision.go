package apikey

import (
	"errors"
	"net/http"

	"github.com/rsguard/rsguard/scopes"
	"github.com/rsguard/rsguard/validate"
)

// reasonCodes maps the key sentinels to their stable decision codes.
var reasonCodes = [...]struct {
	err  error
	code scopes.Reason
}{
	{ErrMalformed, scopes.ReasonMalformed},
	{ErrChecksum, scopes.ReasonMalformed},
	{ErrUnknown, scopes.ReasonUnknownAPIKey},
	{ErrExpired, scopes.ReasonExpired},
	{ErrRevoked, scopes.ReasonRevoked},
	{ErrBlocked, scopes.ReasonAPIKeyBlocked},
	{ErrRetired, scopes.ReasonAPIKeyRetired},
	{ErrMultipleCredentials, scopes.ReasonInvalidRequest},
	{ErrBearerKey, scopes.ReasonAPIKeyAsBearer},
	{ErrBearerNotAccepted, scopes.ReasonBearerNotAccepted},
	{ErrStore, scopes.ReasonStoreUnavailable},
}

// ReasonCode returns the stable decision code (scopes.Reason) of an error
// returned by [Authenticator.Authenticate]: scopes.ReasonOK for nil, the
// code of the key sentinel err wraps ([ErrUnknown] → "unknown_api_key",
// [ErrRetired] → "api_key_retired", [ErrChecksum] → "malformed", …), else
// that of validate.ReasonCode (bearer JWTs, no credential).
func ReasonCode(err error) scopes.Reason {
	if err == nil {
		return scopes.ReasonOK
	}
	for _, rc := range reasonCodes {
		if errors.Is(err, rc.err) {
			return rc.code
		}
	}
	return validate.ReasonCode(err)
}

// keyDecision completes d, on which authenticate recorded what it knew of
// the key, for a request that did not reach the Validator: an API key, no
// credential, or a refused bearer token.
func (a *Authenticator) keyDecision(d *scopes.Decision, r *http.Request, res *result, err error) {
	d.Stage, d.Allowed, d.Reason = scopes.StageAuthenticate, err == nil, ReasonCode(err)
	d.SetRequest(r)
	if res != nil {
		d.SetGrant(res.grant)
		return
	}
	d.Status = http.StatusUnauthorized // as WriteError answers errors it does not know
	var e *validate.Error
	if errors.As(err, &e) {
		d.Status = e.Status
	}
	switch {
	case errors.Is(err, validate.ErrNoToken):
		d.Credential = ""
	case len(r.Header[a.header]) > 0 || d.TokenID != "" || isKeyError(err):
		d.Credential = scopes.CredentialAPIKey
	default:
		d.Credential = scopes.CredentialJWT
	}
}

// isKeyError reports whether err is about an API key (one sent as a bearer
// token included).
func isKeyError(err error) bool {
	for _, rc := range reasonCodes {
		if rc.err != ErrBearerNotAccepted && errors.Is(err, rc.err) {
			return true
		}
	}
	return false
}
