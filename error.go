package rsguard

import (
	"errors"
	"net/http"
	"time"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/rsmeta"
)

// ErrInvalidConfig is wrapped by every error the constructors of rsguard's
// packages return for a configuration they refuse — [New], validate.New,
// apikey.New, scopes.NewRoute, scopes.NewMCP — naming the field at fault.
var ErrInvalidConfig = errors.New("rsguard: invalid configuration")

// Error is a refusal with everything needed to answer it and record it: the
// HTTP status, the RFC 6750 error code, a description chosen for clients,
// the audit reason, and the wrapped cause. Every [Authenticator] refuses
// with an *Error; the [Guard] writes it.
//
// The Reason is the refusal's class, for every credential kind alike:
// errors.Is(err, audit.ReasonExpired) reports whether err is, or wraps, an
// *Error with that reason. An [Authenticator] answers a request without its
// kind of credential with [audit.ReasonNoCredential] (401, no error code:
// RFC 6750 §3.1 gives a request without credentials no error information),
// which an authenticator composing others (package apikey) reads as "try
// the next"; a malformed request with [audit.ReasonInvalidRequest] (400
// invalid_request).
//
// Description is written to clients in the error_description auth-param: it
// is always chosen text, never an internal error's message, and never
// contains the credential.
type Error struct {
	// Status is the HTTP status to answer with: 400, 401 or 403 with a
	// challenge, 503 with a challenge and Retry-After, or 500 (a
	// programming or configuration error) without a challenge. The Guard
	// answers 0 as 401, and any status outside 400–599 as 500.
	Status int
	// Code is the RFC 6750 §3.1 error code: "invalid_request",
	// "invalid_token", "insufficient_scope"; "" when the request carried
	// no credential, and on 5xx answers.
	Code string
	// Description is the client-facing error_description (may be empty).
	Description string
	// Err is the wrapped cause, if any: for the refusals of rsguard's
	// packages, the Reason itself or an error wrapping it.
	Err error

	// Reason is the class of the refusal and its stable audit code; if
	// empty, audit.ReasonRejected.
	Reason audit.Reason
	// Credential is the kind of credential refused; empty when there was
	// none.
	Credential audit.Credential
	// Principal is the caller a credential proved before it was refused
	// (revoked, refused by the application's check), for the audit trail
	// only; nil when the credential was refused before it could be verified.
	Principal *Principal
	// RetryAfter, on a 503, is how long a client should wait; the Guard
	// sends at least one second.
	RetryAfter time.Duration
	// Header holds further response headers; a WWW-Authenticate value in
	// it is a further challenge (RFC 9110 §11.6.1) sent after the Bearer
	// one, such as apikey's `APIKey header="X-API-Key"`.
	Header http.Header
}

// Error returns "rsguard: ", the wrapped error's message (or the reason)
// and the description.
func (e *Error) Error() string {
	msg := "rsguard: " + e.reason().Error()
	if e.Err != nil {
		msg = "rsguard: " + e.Err.Error()
	}
	if e.Description != "" {
		msg += " (" + e.Description + ")"
	}
	return msg
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's reason (audit.ReasonRejected when Reason
// is empty), so that errors.Is(err, audit.ReasonExpired) matches an *Error
// whatever its Err.
func (e *Error) Is(target error) bool {
	r, ok := target.(audit.Reason)
	return ok && r == e.reason()
}

// refusalOf returns the refusal the Guard answers err with: the *Error in
// err's chain, copied with the status the Guard answers (see status) when
// that differs; for any other error, a new generic refusal (401
// invalid_token, reason rejected, wrapping err) whose description does not
// quote err.
func refusalOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if s := e.status(); s != e.Status {
			c := *e
			c.Status = s
			return &c
		}
		return e
	}
	return &Error{
		Status: http.StatusUnauthorized, Code: rsmeta.ErrorInvalidToken,
		Description: "the credential was rejected", Reason: audit.ReasonRejected,
		Err: err,
	}
}

// errNoPrincipal is the cause of the 500 the Guard answers when an
// authenticator returns neither an error nor a principal with a subject.
var errNoPrincipal = errors.New("rsguard: the authenticator returned no principal with a subject, and no error")

// status returns the status the Guard answers e with: Status when it is an
// error status (400–599), 401 when it is zero, and 500 otherwise (an
// authenticator's programming error must not let a request through as 200).
func (e *Error) status() int {
	switch {
	case e.Status == 0:
		return http.StatusUnauthorized
	case e.Status < 400 || e.Status > 599:
		return http.StatusInternalServerError
	}
	return e.Status
}

// reason returns e's audit reason, never empty.
func (e *Error) reason() audit.Reason {
	if e.Reason == "" {
		return audit.ReasonRejected
	}
	return e.Reason
}
