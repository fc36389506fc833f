package validate

import (
	"errors"
	"net/http"

	"github.com/rsguard/rsguard/rsmeta"
)

// Sentinel errors, one per rejection class. Errors returned by [Validator.Verify],
// [Validator.Authenticate] and [BearerToken] are *[Error] values wrapping one of
// these, so both errors.Is(err, ErrExpired) and errors.As(err, &e) work.
//
// Each class maps to an RFC 6750 §3.1 error code and an HTTP status, shown in
// brackets.
var (
	// ErrNoToken: the request carries no bearer token. [401, no error code:
	// RFC 6750 §3.1 says a request without credentials gets no error
	// information.]
	ErrNoToken = errors.New("validate: no bearer token")

	// ErrInvalidRequest: the Authorization header is malformed (several
	// headers, bad syntax, oversized, a token in a place tokens may not
	// travel). [400 invalid_request]
	ErrInvalidRequest = errors.New("validate: malformed authorization request")

	// ErrMalformed: the token is not a well-formed JWS compact serialisation
	// (segments, base64url, JSON objects), or is encrypted. [401 invalid_token]
	ErrMalformed = errors.New("validate: malformed token")

	// ErrAlgorithm: the header "alg" is not on the allow-list, or disagrees
	// with the key. [401 invalid_token]
	ErrAlgorithm = errors.New("validate: algorithm not allowed")

	// ErrTokenType: the header "typ" is not an access-token type
	// (RFC 9068 §2.1, §4). [401 invalid_token]
	ErrTokenType = errors.New("validate: wrong token type")

	// ErrCritical: the header lists "crit" extensions, none of which this
	// package understands (RFC 7515 §4.1.11). [401 invalid_token]
	ErrCritical = errors.New("validate: unsupported critical header")

	// ErrUnknownKey: no usable key in the issuer's key set has the token's
	// "kid" (after a rate-limited refresh), or the token names no key and
	// the set has several candidates. [401 invalid_token]
	ErrUnknownKey = errors.New("validate: unknown signing key")

	// ErrSignature: the signature does not verify. [401 invalid_token]
	ErrSignature = errors.New("validate: invalid signature")

	// ErrIssuer: "iss" is not a trusted issuer (Config.Issuer or
	// Config.Issuers), or [Config.AllowTenant] refused the token's tenant.
	// [401 invalid_token]
	ErrIssuer = errors.New("validate: wrong issuer")

	// ErrAudience: "aud" does not contain this resource, or one of the
	// issuer's [IssuerConfig].Audiences (RFC 8707, MCP audience
	// validation). [401 invalid_token]
	ErrAudience = errors.New("validate: wrong audience")

	// ErrExpired: "exp" is past, beyond the leeway. [401 invalid_token]
	ErrExpired = errors.New("validate: token expired")

	// ErrNotYetValid: "nbf", "iat" or "auth_time" is in the future beyond
	// the leeway.
	// [401 invalid_token]
	ErrNotYetValid = errors.New("validate: token not yet valid")

	// ErrClaims: a required claim is missing, a claim has the wrong JSON
	// type (e.g. "exp" as a string, or a non-string Config.TenantClaim), the
	// token names neither a subject nor a client ("sub", "client_id",
	// "azp"), or the claims set cannot be read whole (duplicate member
	// names, numbers out of range). [401 invalid_token]
	ErrClaims = errors.New("validate: invalid claims")

	// ErrKeysUnavailable: the issuer's key set has never been loaded (the
	// issuer is unreachable and no keys are cached), so no token can be
	// verified. [503, with the challenge]
	ErrKeysUnavailable = errors.New("validate: signing keys unavailable")

	// ErrRejected: [Config.Check] refused an otherwise valid token on the
	// application's own grounds (wrong tenant, …; a token that
	// [Config.Revocations] reports revoked gets [ErrRevoked]).
	// [401 invalid_token, unless Check returned an *Error]
	ErrRejected = errors.New("validate: token rejected")

	// ErrSenderConstrained: the token is bound to a key of its client
	// (it carries a "cnf" claim, RFC 7800: a DPoP "jkt", RFC 9449 §6, or
	// an mTLS "x5t#S256", RFC 8705 §3) and was presented as a plain bearer
	// token, without the proof of possession. Such a token is always
	// refused: accepting it as Bearer would make a stolen bound token
	// usable. [401 invalid_token]
	ErrSenderConstrained = errors.New("validate: sender-constrained token presented as a bearer token")

	// ErrRevoked: [Config.Revocations] reports the token revoked.
	// [401 invalid_token]
	ErrRevoked = errors.New("validate: token revoked")

	// ErrRevocationUnavailable: [Config.Revocations] failed, and the
	// Validator fails closed ([Config.RevocationFailOpen] is off).
	// [503, with the challenge]
	ErrRevocationUnavailable = errors.New("validate: revocation status unavailable")
)

// Error is a rejection with everything needed to answer it: the HTTP status,
// the RFC 6750 error code, and a description chosen for clients. It wraps one
// of the package's sentinel errors (or, for other credential kinds such as API
// keys, their own sentinel).
//
// Description is written to clients in the error_description auth-param: it is
// always chosen text, never an internal error's message, and never contains
// the token.
type Error struct {
	// Status is the HTTP status to answer with: 400, 401, 403 or 503.
	Status int
	// Code is the RFC 6750 §3.1 error code: "invalid_request",
	// "invalid_token", "insufficient_scope", or "" when the request carried no
	// credential.
	Code string
	// Description is the client-facing error_description (may be empty).
	Description string
	// Err is the wrapped cause, usually a sentinel.
	Err error

	claims *Claims // of a token refused after verification, for decision events
}

// Error returns the wrapped error's message followed by the description.
func (e *Error) Error() string {
	msg := "validate: rejected"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Description != "" {
		msg += " (" + e.Description + ")"
	}
	return msg
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// Templates of the rejections the verification path returns. They are never
// handed out: [reject] returns a fresh copy, so a caller that modifies the
// *Error it got cannot change what later requests see.
var (
	errNoToken           = Error{Status: http.StatusUnauthorized, Err: ErrNoToken}
	errMultipleHeaders   = invalidRequest("multiple Authorization headers")
	errHeaderSyntax      = invalidRequest("malformed Authorization header")
	errHeaderSize        = invalidRequest("Authorization header too large")
	errQueryToken        = invalidRequest("access tokens are accepted only in the Authorization header")
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
	errTenant            = invalidToken(ErrIssuer, "the token's tenant is not served by its issuer")
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
	errRejected          = invalidToken(ErrRejected, "the access token was rejected")
	errKeysUnavailable   = Error{Status: http.StatusServiceUnavailable, Description: "the token cannot be verified right now", Err: ErrKeysUnavailable}
)

func invalidRequest(desc string) Error {
	return Error{Status: http.StatusBadRequest, Code: rsmeta.ErrorInvalidRequest, Description: desc, Err: ErrInvalidRequest}
}

func invalidToken(sentinel error, desc string) Error {
	return Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: desc, Err: sentinel}
}

// reject returns a fresh copy of the template t.
func reject(t Error) *Error { return &t }

// asError converts any error into an *Error: an *Error anywhere in the chain
// is returned as is; anything else is a generic invalid_token rejection whose
// message is not shown to clients.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: errRejected.Description, Err: errors.Join(ErrRejected, err)}
}
