package rsguard

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/internal/check"
	"github.com/rsguard/rsguard/rsmeta"
)

// maxAuthorizationBytes bounds the Authorization header [BearerToken]
// accepts; a longer one is refused as invalid_request before any parsing.
const maxAuthorizationBytes = 16<<10 + len("Bearer ")

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
	if r.URL != nil && r.URL.RawQuery != "" {
		// Only parse when the name could be there, spelled out or
		// percent-encoded ("access%5Ftoken"). ParseQuery keeps going past
		// a malformed pair, so an unrelated bad pair does not hide it.
		if q := r.URL.RawQuery; strings.Contains(q, "access_token") || strings.IndexByte(q, '%') >= 0 {
			if values, _ := url.ParseQuery(q); values.Has("access_token") {
				return "", refusal(errQueryToken)
			}
		}
	}
	vals := r.Header["Authorization"]
	switch len(vals) {
	case 0:
		return "", refusal(errNoToken)
	case 1:
	default:
		return "", refusal(errMultipleHeaders)
	}
	h := vals[0]
	if len(h) > maxAuthorizationBytes {
		return "", refusal(errHeaderSize)
	}
	h = strings.Trim(h, " \t")
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if scheme == "" || !check.IsToken(scheme) {
			return "", refusal(errHeaderSyntax)
		}
		return "", refusal(errNoToken)
	}
	tok := strings.TrimLeft(rest, " ")
	if !check.B64Token(tok) {
		return "", refusal(errHeaderSyntax)
	}
	return tok, nil
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
