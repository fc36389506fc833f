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

// The refusals of the verification path, one template per cause; the
// package documentation lists them by reason ("Refusals"). Each wraps its
// reason, so errors.Is(err, audit.ReasonExpired) matches both the
// *rsguard.Error and its Err. They are never handed out: [reject] returns a
// fresh copy, so a caller that modifies the *rsguard.Error it got cannot
// change what later requests see.
var (
	errMalformed         = invalidToken(audit.ReasonMalformed, "the access token is malformed")
	errTooLarge          = invalidToken(audit.ReasonMalformed, "the access token is too large")
	errEncrypted         = invalidToken(audit.ReasonMalformed, "encrypted access tokens are not supported")
	errAlgorithm         = invalidToken(audit.ReasonBadAlgorithm, "the token's signing algorithm is not accepted")
	errKeyAlgorithm      = invalidToken(audit.ReasonBadAlgorithm, "the token's signing algorithm does not match its key")
	errTokenType         = invalidToken(audit.ReasonBadTokenType, "the token is not an access token")
	errCritical          = invalidToken(audit.ReasonCriticalHeader, "the token requires unsupported header extensions")
	errUnknownKey        = invalidToken(audit.ReasonUnknownKey, "the token's signing key is not known")
	errAmbiguousKey      = invalidToken(audit.ReasonUnknownKey, "the token does not name its signing key")
	errUnusableKey       = invalidToken(audit.ReasonUnknownKey, "the token's key is not a signing key")
	errWeakKey           = invalidToken(audit.ReasonUnknownKey, "the token's key is too weak") // RSA under 2048 bits, small-order Ed25519, EC off its curve
	errSignature         = invalidToken(audit.ReasonBadSignature, "the token's signature is invalid")
	errIssuer            = invalidToken(audit.ReasonBadIssuer, "the token was not issued by the trusted issuer")
	errAudience          = invalidToken(audit.ReasonBadAudience, "the token was not issued for this resource")
	errExpired           = invalidToken(audit.ReasonExpired, "the access token expired")
	errNotYetValid       = invalidToken(audit.ReasonNotYetValid, "the access token is not valid yet")
	errIssuedInFuture    = invalidToken(audit.ReasonNotYetValid, "the access token was issued in the future")
	errAuthInFuture      = invalidToken(audit.ReasonNotYetValid, "the token's authentication time is in the future")
	errSenderConstrained = invalidToken(audit.ReasonSenderConstrained, "the token is bound to a key and needs its proof of possession")
	errNoPrincipal       = invalidToken(audit.ReasonBadClaims, "the token names neither a subject nor a client")
	errClaimTypes        = invalidToken(audit.ReasonBadClaims, "the token's claims are malformed")
	errMissingExp        = invalidToken(audit.ReasonBadClaims, "the token has no expiry")
	errMissingIss        = invalidToken(audit.ReasonBadClaims, "the token has no issuer")
	errMissingAud        = invalidToken(audit.ReasonBadClaims, "the token has no audience")
	errMissingRequired   = invalidToken(audit.ReasonBadClaims, "the token lacks claims required of access tokens")
	errRejected          = invalidToken(audit.ReasonRejected, "the access token was rejected")
	errIssuerRefused     = invalidToken(audit.ReasonBadIssuer, "the token's issuer or tenant is not accepted")
	errClaimsRefused     = invalidToken(audit.ReasonBadClaims, "the token's claims are not accepted")
	errRevoked           = invalidToken(audit.ReasonRevoked, "the access token was revoked")
	// RetryAfter is set per Validator (see keysUnavailable).
	errKeysUnavailable = unavailable(audit.ReasonKeysUnavailable, "the token cannot be verified right now", 0)
	// The store is down: a short, fixed hint.
	errRevocationUnavailable = unavailable(audit.ReasonRevocationUnavailable, "the token's revocation status cannot be checked right now", 5*time.Second)
)

func invalidToken(r audit.Reason, desc string) rsguard.Error {
	return rsguard.Error{
		Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken, Description: desc, Err: r,
		Reason: r, Credential: audit.CredentialJWT,
	}
}

// unavailable is a 503 refusal: no error code (the token itself may be
// fine), a hint of when to retry.
func unavailable(r audit.Reason, desc string, retry time.Duration) rsguard.Error {
	return rsguard.Error{
		Status: http.StatusServiceUnavailable, Description: desc, Err: r,
		Reason: r, Credential: audit.CredentialJWT, RetryAfter: retry,
	}
}

// reject returns a fresh copy of the template t.
func reject(t rsguard.Error) *rsguard.Error { return &t }

// reasonOf returns the first audit reason in err's chain, or
// audit.ReasonRejected when there is none (or it is audit.ReasonOK, which
// no refusal may carry).
func reasonOf(err error) audit.Reason {
	var r audit.Reason
	if !errors.As(err, &r) || r == "" || r == audit.ReasonOK {
		return audit.ReasonRejected
	}
	return r
}

// checkClasses are the answers to a [Config.Check] error that wraps a
// reason this package refuses tokens with: the class's status and code, and
// a generic description.
var checkClasses = map[audit.Reason]*rsguard.Error{
	audit.ReasonMalformed:             &errMalformed,
	audit.ReasonBadAlgorithm:          &errAlgorithm,
	audit.ReasonBadTokenType:          &errTokenType,
	audit.ReasonCriticalHeader:        &errCritical,
	audit.ReasonUnknownKey:            &errUnknownKey,
	audit.ReasonBadSignature:          &errSignature,
	audit.ReasonBadIssuer:             &errIssuerRefused,
	audit.ReasonBadAudience:           &errAudience,
	audit.ReasonExpired:               &errExpired,
	audit.ReasonNotYetValid:           &errNotYetValid,
	audit.ReasonBadClaims:             &errClaimsRefused,
	audit.ReasonKeysUnavailable:       &errKeysUnavailable,
	audit.ReasonSenderConstrained:     &errSenderConstrained,
	audit.ReasonRevoked:               &errRevoked,
	audit.ReasonRevocationUnavailable: &errRevocationUnavailable,
}

// checkError is the refusal of a token that [Config.Check] refused with
// err, as a new *rsguard.Error of its own:
//
//   - for an *rsguard.Error in err's chain, a copy of it (the hook's own may
//     be shared), with the reason its Err wraps when it has no Reason, and
//     Credential jwt when it has none;
//   - for an error wrapping a reason this package refuses tokens with, the
//     answer of that class, wrapping err;
//   - for any other error (one wrapping another reason too), 401
//     invalid_token "the access token was rejected", reason rejected,
//     wrapping audit.ReasonRejected and err.
//
// err's text is never sent to the client.
func checkError(err error) *rsguard.Error {
	var e *rsguard.Error
	if errors.As(err, &e) {
		cp := *e
		if cp.Reason == "" {
			cp.Reason = reasonOf(e.Err)
		}
		if cp.Credential == "" {
			cp.Credential = audit.CredentialJWT
		}
		return &cp
	}
	if c := checkClasses[reasonOf(err)]; c != nil {
		e = reject(*c)
		e.Err = err
		return e
	}
	e = reject(errRejected)
	e.Err = err
	if !errors.Is(err, audit.ReasonRejected) {
		e.Err = fmt.Errorf("%w: %w", audit.ReasonRejected, err)
	}
	return e
}

// errNotBuilt returns the refusal of a Validator that validate.New did not build (a zero or
// nil Validator): a programming error, refused with 500 rather than a panic.
func errNotBuilt() *rsguard.Error {
	return &rsguard.Error{
		Status: http.StatusInternalServerError, Reason: audit.ReasonInternalError, Credential: audit.CredentialJWT,
		Err: fmt.Errorf("%w: the validate.Validator was not built by validate.New", rsguard.ErrInvalidConfig),
	}
}
