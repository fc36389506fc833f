package rsguard

import (
	"net/http"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/authheader"
	"github.com/rsguard/rsguard/rsmeta"
)

// BearerToken returns the bearer token of r (RFC 6750 §2.1). Tokens are read
// from the Authorization header only: the MCP authorization specification
// forbids tokens in the query string, and form-encoded bodies are not read.
//
// It refuses with an [*Error] whose reason is:
//   - [audit.ReasonNoCredential] (401, no error code) when there is no
//     Authorization header, or one with another scheme (Basic, DPoP, …):
//     the client has not presented a bearer token;
//   - [audit.ReasonInvalidRequest] (400 invalid_request) when the request
//     is malformed: several Authorization headers, a "Bearer" scheme
//     without a well-formed token
//     (empty, with spaces, characters outside b64token), a header over
//     16 KiB (plus the scheme), or an access_token query parameter (a token
//     in the URL is refused rather than silently ignored, RFC 6750 §2.3, §5.3).
//
// The scheme name is matched case-insensitively (RFC 9110 §11.1).
func BearerToken(r *http.Request) (string, error) {
	tok, p := authheader.Token(r, "Bearer")
	switch p {
	case authheader.OK:
		return tok, nil
	case authheader.None:
		return "", refusal(errNoToken)
	case authheader.Multiple:
		return "", refusal(errMultipleHeaders)
	case authheader.TooLarge:
		return "", refusal(errHeaderSize)
	case authheader.InQuery:
		return "", refusal(errQueryToken)
	}
	return "", refusal(errHeaderSyntax)
}

// The refusals of BearerToken. They are never handed out: [refusal] returns a
// fresh copy, so a caller that modifies the *Error it got cannot change what
// later requests see.
var (
	errNoToken         = Error{Status: http.StatusUnauthorized, Reason: audit.ReasonNoCredential, Err: audit.ReasonNoCredential}
	errMultipleHeaders = invalidRequest("multiple Authorization headers")
	errHeaderSyntax    = invalidRequest("malformed Authorization header")
	errHeaderSize      = invalidRequest("Authorization header too large")
	errQueryToken      = invalidRequest("access tokens are accepted only in the Authorization header")
)

func invalidRequest(desc string) Error {
	return Error{Status: http.StatusBadRequest, Code: rsmeta.ErrorInvalidRequest, Description: desc, Reason: audit.ReasonInvalidRequest, Err: audit.ReasonInvalidRequest}
}

// refusal returns a fresh copy of the template t.
func refusal(t Error) *Error { return &t }
