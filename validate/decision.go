package validate

import (
	"errors"
	"net/http"

	"github.com/rsguard/rsguard/scopes"
)

// reasonCodes maps the sentinels to their stable decision codes, in the
// order they are tried.
var reasonCodes = [...]struct {
	err  error
	code scopes.Reason
}{
	{ErrNoToken, scopes.ReasonNoCredential},
	{ErrInvalidRequest, scopes.ReasonInvalidRequest},
	{ErrMalformed, scopes.ReasonMalformed},
	{ErrAlgorithm, scopes.ReasonBadAlgorithm},
	{ErrTokenType, scopes.ReasonBadTokenType},
	{ErrCritical, scopes.ReasonCriticalHeader},
	{ErrUnknownKey, scopes.ReasonUnknownKey},
	{ErrSignature, scopes.ReasonBadSignature},
	{ErrIssuer, scopes.ReasonBadIssuer},
	{ErrAudience, scopes.ReasonBadAudience},
	{ErrExpired, scopes.ReasonExpired},
	{ErrNotYetValid, scopes.ReasonNotYetValid},
	{ErrClaims, scopes.ReasonBadClaims},
	{ErrKeysUnavailable, scopes.ReasonKeysUnavailable},
	{ErrRevoked, scopes.ReasonRevoked},
	{ErrSenderConstrained, scopes.ReasonSenderConstrained},
	{ErrRevocationUnavailable, scopes.ReasonRevocationUnavailable},
	{ErrRejected, scopes.ReasonRejected},
}

// ReasonCode returns the stable decision code (scopes.Reason) of an error
// returned by [Validator.Verify], [Validator.Authenticate] or [BearerToken]:
// scopes.ReasonOK for nil, the code of the package's sentinel err wraps
// (ErrExpired → "expired", ErrAudience → "bad_audience", ErrRevoked →
// "revoked", …), and scopes.ReasonRejected for anything else.
func ReasonCode(err error) scopes.Reason {
	if err == nil {
		return scopes.ReasonOK
	}
	for _, rc := range reasonCodes {
		if errors.Is(err, rc.err) {
			return rc.code
		}
	}
	return scopes.ReasonRejected
}

// Decision returns the authenticate-stage scopes.Decision for r, whose
// bearer token was verified into c (err nil) or refused with err: reason
// code ([ReasonCode]), status, credential kind, request method, path and MCP
// session, and — from verified claims only — issuer, principal (Subject),
// client id, tenant, token id ("jti") and granted scopes. A token refused
// after verification (revoked, refused by Config.Check) has them; one refused
// before (expired, bad signature…) does not. Time and Latency are left zero
// for the caller.
//
// [Validator.Middleware] sends it to Config.OnDecision; middlewares that
// verify tokens with [Validator.Authenticate] themselves (package apikey)
// use it to report the same decision.
func (v *Validator) Decision(r *http.Request, c *Claims, err error) scopes.Decision {
	d := scopes.Decision{Stage: scopes.StageAuthenticate, Allowed: err == nil, Reason: scopes.ReasonOK}
	d.SetRequest(r)
	if err != nil {
		e := asError(err)
		d.Reason, d.Status, c = ReasonCode(e), e.Status, e.claims
		if !errors.Is(e, ErrNoToken) {
			d.Credential = scopes.CredentialJWT
		}
	}
	if c != nil {
		d.SetGrant(v.Grant(c)) // issuer and token id included
	}
	return d
}
