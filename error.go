package rsguard

import (
	"errors"
	"net/http"
	"strings"
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
// *Error with that reason (or wraps that reason in its cause), and
// errors.As(err, &reason) gives the class: the Reason of the outermost
// *Error, or the first reason wrapped.
//
// An [Authenticator] answers a request without its kind of credential with
// [audit.ReasonNoCredential] (401, no error code: RFC 6750 §3.1 gives a
// request without credentials no error information), which an
// authenticator composing others (package apikey) reads as "try the next";
// a malformed request with [audit.ReasonInvalidRequest] (400
// invalid_request). An *Error says exactly how to answer; an authenticator
// that returns a bare reason, or another error wrapping one, is answered by
// the Guard as that class: no_credential 401 without an error code,
// invalid_request 400, keys_unavailable, revocation_unavailable, introspection_unavailable,
// store_unavailable and too_many_sessions 503 with Retry-After,
// internal_error 500, any other 401 invalid_token.
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
	// it is a further challenge (RFC 9110 §11.6.1) sent after the Guard's
	// own, such as apikey's `APIKey header="X-API-Key"`. Other headers,
	// such as DPoP-Nonce (RFC 9449 §9), are sent as they are.
	Header http.Header
	// Scheme is the auth-scheme of the Guard's challenge that carries Code
	// and Description, when its Authenticator is a [Challenger] with
	// several ("DPoP" for a refused DPoP proof or DPoP-bound token, RFC
	// 9449 §7.1), compared case-insensitively. "", or a scheme the Guard
	// does not send, means its first challenge.
	Scheme string
}

// Error returns "rsguard: ", the wrapped error's message (or the reason)
// and the description.
func (e *Error) Error() string {
	msg := "rsguard: " + e.reason().Error()
	if e.Err != nil {
		msg = e.Err.Error()
		if !strings.HasPrefix(msg, "rsguard: ") {
			msg = "rsguard: " + msg
		}
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

// As sets *target to e's reason when target is an *audit.Reason, so that
// errors.As(err, &reason) finds a refusal's class: the Reason of the
// outermost *Error in err's chain, not a reason its cause may wrap.
func (e *Error) As(target any) bool {
	p, ok := target.(*audit.Reason)
	if ok {
		*p = e.reason()
	}
	return ok
}

// refusalOf returns the refusal the Guard answers err with: the *Error in
// err's chain, copied with the status the Guard answers (see status) when
// that differs; for any other error, a new refusal of the class of the
// reason it wraps (see classRefusal), or a generic one (401 invalid_token,
// reason rejected), wrapping err, whose description does not quote err.
func refusalOf(err error) *Error {
	if e, ok := err.(*Error); ok { // the usual case, without errors.As's reflection
		return e.answered()
	}
	var e *Error // apart from the case above, whose e would then be allocated too
	if errors.As(err, &e) {
		return e.answered()
	}
	var r audit.Reason
	errors.As(err, &r)
	return classRefusal(r, err)
}

// answered returns e, or a copy of it with the status the Guard answers
// (see status) when that differs.
func (e *Error) answered() *Error {
	if s := e.status(); s != e.Status {
		c := *e
		c.Status = s
		return &c
	}
	return e
}

// classRefusal is the answer to err, an error that is not an *Error, by its
// reason r: no_credential 401 without an error code (RFC 6750 §3.1);
// invalid_request 400 invalid_request; the unavailable classes (and
// too_many_sessions) 503 with Retry-After 5 s; internal_error 500; any
// other reason, or none, 401 invalid_token with that reason (rejected when
// none, or ok).
func classRefusal(r audit.Reason, err error) *Error {
	e := &Error{Status: http.StatusUnauthorized, Reason: r, Err: err}
	switch r {
	case audit.ReasonNoCredential:
	case audit.ReasonInvalidRequest:
		e.Status, e.Code, e.Description = http.StatusBadRequest, rsmeta.ErrorInvalidRequest, "the request is malformed"
	case audit.ReasonKeysUnavailable, audit.ReasonRevocationUnavailable, audit.ReasonIntrospectionUnavailable, audit.ReasonStoreUnavailable, audit.ReasonTooManySessions:
		e.Status, e.Description, e.RetryAfter = http.StatusServiceUnavailable, "the credential cannot be checked right now", 5*time.Second
	case audit.ReasonInternalError:
		e.Status = http.StatusInternalServerError
	default:
		if r == "" || r == audit.ReasonOK {
			e.Reason = audit.ReasonRejected
		}
		e.Code, e.Description = rsmeta.ErrorInvalidToken, "the credential was rejected"
	}
	return e
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
