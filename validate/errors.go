package validate

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
)

// Sentinel errors, one per rejection class. Errors returned by
// [Validator.Verify] and [Validator.Authenticate] are [*rsguard.Error] values
// wrapping one of these (or, from Authenticate, rsguard.ErrNoCredential and
// rsguard.ErrInvalidRequest, the refusals of [rsguard.BearerToken]; from
// [Config.Check], rsguard.ErrRejected), so both errors.Is(err, ErrExpired)
// and errors.As(err, &e) work.
//
// Each class maps to an RFC 6750 §3.1 error code and an HTTP status, and to
// an audit reason code (rsguard.Error.Reason), shown in brackets.
var (
	// ErrMalformed: the token is not a well-formed JWS compact serialisation
	// (segments, base64url, JSON objects), is encrypted, or is larger than
	// [Config.MaxTokenBytes]. [401 invalid_token, malformed]
	ErrMalformed = errors.New("validate: malformed token")

	// ErrAlgorithm: the header "alg" is not on the allow-list, or disagrees
	// with the key. [401 invalid_token, bad_algorithm]
	ErrAlgorithm = errors.New("validate: algorithm not allowed")

	// ErrTokenType: the header "typ" is not an access-token type
	// (RFC 9068 §2.1, §4). [401 invalid_token, bad_token_type]
	ErrTokenType = errors.New("validate: wrong token type")

	// ErrCritical: the header lists "crit" extensions, none of which this
	// package understands (RFC 7515 §4.1.11). [401 invalid_token,
	// critical_header]
	ErrCritical = errors.New("validate: unsupported critical header")

	// ErrUnknownKey: no usable key in the issuer's key set has the token's
	// "kid" (after a rate-limited refresh), or the token names no key and
	// the set has several candidates, or the key may not verify tokens (its
	// use, a weak or degenerate key). A [KeySet] answers a kid it does not
	// know with an error wrapping it. [401 invalid_token, unknown_key]
	ErrUnknownKey = errors.New("validate: unknown signing key")

	// ErrSignature: the signature does not verify. [401 invalid_token,
	// bad_signature]
	ErrSignature = errors.New("validate: invalid signature")

	// ErrIssuer: "iss" is not a trusted issuer (Config.Issuer or
	// Config.Issuers), or [Config.Check] refused the token with an error
	// wrapping ErrIssuer (for example, its tenant is not one its issuer may
	// serve). [401 invalid_token, bad_issuer]
	ErrIssuer = errors.New("validate: wrong issuer")

	// ErrAudience: "aud" does not contain this resource, or one of the
	// issuer's [IssuerConfig].Audiences (RFC 8707, MCP audience
	// validation). [401 invalid_token, bad_audience]
	ErrAudience = errors.New("validate: wrong audience")

	// ErrExpired: "exp" is past, beyond the leeway. [401 invalid_token, expired]
	ErrExpired = errors.New("validate: token expired")

	// ErrNotYetValid: "nbf", "iat" or "auth_time" is in the future beyond
	// the leeway. [401 invalid_token, not_yet_valid]
	ErrNotYetValid = errors.New("validate: token not yet valid")

	// ErrClaims: a required claim is missing, a claim has the wrong JSON
	// type (e.g. "exp" as a string, or a non-string Config.TenantClaim), the
	// token names neither a subject nor a client ("sub", "client_id",
	// "azp"), or the claims set cannot be read whole (duplicate member
	// names, numbers out of range). [401 invalid_token, bad_claims]
	ErrClaims = errors.New("validate: invalid claims")

	// ErrKeysUnavailable: the issuer's key set has never been loaded (the
	// issuer is unreachable and no keys are cached), or the issuer's
	// [KeySet] failed to answer, so the token cannot be verified now.
	// [503 with Retry-After, keys_unavailable]
	ErrKeysUnavailable = errors.New("validate: signing keys unavailable")

	// ErrSenderConstrained: the token is bound to a key of its client
	// (it carries a "cnf" claim, RFC 7800: a DPoP "jkt", RFC 9449 §6, or
	// an mTLS "x5t#S256", RFC 8705 §3) and was presented as a plain bearer
	// token, without the proof of possession. Such a token is always
	// refused: accepting it as Bearer would make a stolen bound token
	// usable. [401 invalid_token, sender_constrained]
	ErrSenderConstrained = errors.New("validate: sender-constrained token presented as a bearer token")

	// ErrRevoked: [Config.Revocations] reports the token revoked.
	// [401 invalid_token, revoked]
	ErrRevoked = errors.New("validate: token revoked")

	// ErrRevocationUnavailable: [Config.Revocations] failed, and the
	// Validator fails closed ([Config.RevocationFailOpen] is off).
	// [503 with Retry-After, revocation_unavailable]
	ErrRevocationUnavailable = errors.New("validate: revocation status unavailable")
)

// reasons maps the sentinels to their audit reason codes, in the order they
// are tried: the templates below take their Reason from it, and so does a
// [Config.Check] refusal that wraps a sentinel (a Check that returns
// ErrRevoked reports revoked).
var reasons = [...]struct {
	err    error
	reason audit.Reason
}{
	{rsguard.ErrNoCredential, audit.ReasonNoCredential},
	{rsguard.ErrInvalidRequest, audit.ReasonInvalidRequest},
	{ErrMalformed, audit.ReasonMalformed},
	{ErrAlgorithm, audit.ReasonBadAlgorithm},
	{ErrTokenType, audit.ReasonBadTokenType},
	{ErrCritical, audit.ReasonCriticalHeader},
	{ErrUnknownKey, audit.ReasonUnknownKey},
	{ErrSignature, audit.ReasonBadSignature},
	{ErrIssuer, audit.ReasonBadIssuer},
	{ErrAudience, audit.ReasonBadAudience},
	{ErrExpired, audit.ReasonExpired},
	{ErrNotYetValid, audit.ReasonNotYetValid},
	{ErrClaims, audit.ReasonBadClaims},
	{ErrKeysUnavailable, audit.ReasonKeysUnavailable},
	{ErrRevoked, audit.ReasonRevoked},
	{ErrSenderConstrained, audit.ReasonSenderConstrained},
	{ErrRevocationUnavailable, audit.ReasonRevocationUnavailable},
}

// reasonOf returns the audit reason of the first sentinel err wraps, or
// audit.ReasonRejected.
func reasonOf(err error) audit.Reason {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return audit.ReasonRejected
}

// Templates of the rejections the verification path returns. They are never
// handed out: [reject] returns a fresh copy, so a caller that modifies the
// *rsguard.Error it got cannot change what later requests see.
var (
	errMalformed         = invalidToken(ErrMalformed, "the access token is malformed")
	errTooLarge          = invalidToken(ErrMalformed, "the access token is too large")
	errEncrypted         = invalidToken(ErrMalformed, "encrypted access tokens are not supported")
	errAlgorithm         = invalidToken(ErrAlgorithm, "the token's signing algorithm is not accepted")
	errKeyAlgorithm      = invalidToken(ErrAlgorithm, "the token's signing algorithm does not match its key")
	errTokenType         = invalidToken(ErrTokenType, "the token is not an access token")
	errCritical          = invalidToken(ErrCritical, "the token requires unsupported header extensions")
	errUnknownKey        = invalidToken(ErrUnknownKey, "the token's signing key is not known")
	errAmbiguousKey      = invalidToken(ErrUnknownKey, "the token does not name its signing key")
	errUnusableKey       = invalidToken(ErrUnknownKey, "the token's key is not a signing key")
	errWeakKey           = invalidToken(ErrUnknownKey, "the token's key is too weak") // RSA under 2048 bits, small-order Ed25519, EC off its curve
	errSignature         = invalidToken(ErrSignature, "the token's signature is invalid")
	errIssuer            = invalidToken(ErrIssuer, "the token was not issued by the trusted issuer")
	errAudience          = invalidToken(ErrAudience, "the token was not issued for this resource")
	errExpired           = invalidToken(ErrExpired, "the access token expired")
	errNotYetValid       = invalidToken(ErrNotYetValid, "the access token is not valid yet")
	errIssuedInFuture    = invalidToken(ErrNotYetValid, "the access token was issued in the future")
	errAuthInFuture      = invalidToken(ErrNotYetValid, "the token's authentication time is in the future")
	errSenderConstrained = invalidToken(ErrSenderConstrained, "the token is bound to a key and needs its proof of possession")
	errNoPrincipal       = invalidToken(ErrClaims, "the token names neither a subject nor a client")
	errClaimTypes        = invalidToken(ErrClaims, "the token's claims are malformed")
	errMissingExp        = invalidToken(ErrClaims, "the token has no expiry")
	errMissingIss        = invalidToken(ErrClaims, "the token has no issuer")
	errMissingAud        = invalidToken(ErrClaims, "the token has no audience")
	errMissingRequired   = invalidToken(ErrClaims, "the token lacks claims required of access tokens")
	errRejected          = invalidToken(rsguard.ErrRejected, "the access token was rejected")
	errIssuerRefused     = invalidToken(ErrIssuer, "the token's issuer or tenant is not accepted")
	errClaimsRefused     = invalidToken(ErrClaims, "the token's claims are not accepted")
	errRevoked           = invalidToken(ErrRevoked, "the access token was revoked")
	// RetryAfter is set per Validator (see Validator.key).
	errKeysUnavailable = unavailable(ErrKeysUnavailable, "the token cannot be verified right now", 0)
	// The store is down: a short, fixed hint.
	errRevocationUnavailable = unavailable(ErrRevocationUnavailable, "the token's revocation status cannot be checked right now", 5*time.Second)
)

func invalidToken(sentinel error, desc string) rsguard.Error {
	return rsguard.Error{
		Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: desc, Err: sentinel,
		Reason: reasonOf(sentinel), Credential: audit.CredentialJWT,
	}
}

// unavailable is a 503 refusal: no error code (the token itself may be
// fine), a hint of when to retry.
func unavailable(sentinel error, desc string, retry time.Duration) rsguard.Error {
	return rsguard.Error{
		Status: http.StatusServiceUnavailable, Description: desc, Err: sentinel,
		Reason: reasonOf(sentinel), Credential: audit.CredentialJWT, RetryAfter: retry,
	}
}

// reject returns a fresh copy of the template t.
func reject(t rsguard.Error) *rsguard.Error { return &t }

// checkClasses are the answers to a [Config.Check] error that wraps a
// sentinel of this package: the class's status, code, reason and a generic
// description.
var checkClasses = [...]struct {
	err    error
	answer *rsguard.Error
}{
	{ErrMalformed, &errMalformed},
	{ErrAlgorithm, &errAlgorithm},
	{ErrTokenType, &errTokenType},
	{ErrCritical, &errCritical},
	{ErrUnknownKey, &errUnknownKey},
	{ErrSignature, &errSignature},
	{ErrIssuer, &errIssuerRefused},
	{ErrAudience, &errAudience},
	{ErrExpired, &errExpired},
	{ErrNotYetValid, &errNotYetValid},
	{ErrClaims, &errClaimsRefused},
	{ErrKeysUnavailable, &errKeysUnavailable},
	{ErrSenderConstrained, &errSenderConstrained},
	{ErrRevoked, &errRevoked},
	{ErrRevocationUnavailable, &errRevocationUnavailable},
}

// checkError is the refusal of a token that [Config.Check] refused with
// err, as a new *rsguard.Error of its own: a copy of the *rsguard.Error in
// err's chain (the hook's own may be shared), with the Reason of the sentinel
// it wraps and Credential jwt when it has none; for an error that wraps a
// sentinel of this package, the answer of that class; for any other error,
// 401 invalid_token "the access token was rejected". The last two wrap
// rsguard.ErrRejected and err, whose text is never sent to the client.
func checkError(err error) *rsguard.Error {
	var e *rsguard.Error
	if !errors.As(err, &e) {
		e = reject(errRejected)
		for _, c := range checkClasses {
			if errors.Is(err, c.err) {
				e = reject(*c.answer)
				break
			}
		}
		e.Err = errors.Join(rsguard.ErrRejected, err)
		if e.Reason == audit.ReasonRejected {
			e.Reason = reasonOf(err) // rsguard's sentinels
		}
		return e
	}
	cp := *e
	if cp.Reason == "" {
		cp.Reason = reasonOf(e)
	}
	if cp.Credential == "" {
		cp.Credential = audit.CredentialJWT
	}
	return &cp
}

// errNotBuilt returns the refusal of a Validator that validate.New did not build (a zero or
// nil Validator): a programming error, refused with 500 rather than a panic.
func errNotBuilt() *rsguard.Error {
	return &rsguard.Error{
		Status: http.StatusInternalServerError, Reason: audit.ReasonInternalError, Credential: audit.CredentialJWT,
		Err: fmt.Errorf("%w: the validate.Validator was not built by validate.New", rsguard.ErrInvalidConfig),
	}
}
