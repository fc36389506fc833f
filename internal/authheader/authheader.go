// Package authheader reads the Authorization header of a request, the one
// way for every package that takes a credential from it: rsguard.BearerToken
// (Bearer), validate (DPoP, RFC 9449 §7.1), apikey, and the Guard choosing
// the challenge of a request's scheme.
package authheader

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/rsguard/rsguard/internal/check"
)

// MaxToken bounds the token of an Authorization header: a longer field is
// TooLarge before any parsing.
const MaxToken = 16 << 10

// Problem is why [Token] found no token.
type Problem uint8

// The problems of [Token].
const (
	// OK: the token was read.
	OK Problem = iota
	// None: no Authorization header, or one of another scheme: the client
	// presented no token of this scheme.
	None
	// Multiple: several Authorization header fields.
	Multiple
	// TooLarge: a field longer than MaxToken plus the scheme and a space.
	TooLarge
	// Syntax: a malformed scheme, or the scheme without a well-formed
	// RFC 6750 §2.1 b64token (RFC 9449 §7.1's token68).
	Syntax
	// InQuery: an access_token query parameter (RFC 6750 §2.3, refused
	// rather than ignored, §5.3), whatever the header says.
	InQuery
)

// Split returns the auth-scheme and what follows it (without the spaces
// between) of r's Authorization header; ok is false unless r has exactly
// one Authorization field.
func Split(r *http.Request) (scheme, rest string, ok bool) {
	vals := r.Header["Authorization"]
	if len(vals) != 1 {
		return "", "", false
	}
	scheme, rest, _ = strings.Cut(strings.Trim(vals[0], " \t"), " ")
	return scheme, strings.TrimLeft(rest, " "), true
}

// Token returns the token of r's Authorization header of scheme (matched
// case-insensitively, RFC 9110 §11.1), or the problem that prevents it, in
// this order: InQuery, None (no field), Multiple, TooLarge, Syntax for a
// malformed scheme, None for another scheme, Syntax for a malformed token.
func Token(r *http.Request, scheme string) (string, Problem) {
	tok, p := Unchecked(r, scheme)
	if p == OK && !check.B64Token(tok) {
		return "", Syntax
	}
	return tok, p
}

// Unchecked is [Token] without the last check, that the token is an RFC 6750
// §2.1 b64token: every other problem is found as Token finds it, but a
// token with characters outside b64token (or none) is returned with OK.
// It is for a caller that first looks the token up among tokens that were
// well-formed when they were verified (validate's verified-token cache, whose
// tokens are JWS compact serialisations: base64url and dots), which a
// token equal to one of them byte for byte is too; on a miss, the caller
// must check the token as Token does before anything else.
func Unchecked(r *http.Request, scheme string) (string, Problem) {
	if r.URL != nil && r.URL.RawQuery != "" {
		// Only parse when the name could be there, spelled out or
		// percent-encoded ("access%5Ftoken"). ParseQuery keeps going past
		// a malformed pair, so an unrelated bad pair does not hide it.
		if q := r.URL.RawQuery; strings.Contains(q, "access_token") || strings.IndexByte(q, '%') >= 0 {
			if values, _ := url.ParseQuery(q); values.Has("access_token") {
				return "", InQuery
			}
		}
	}
	switch n := len(r.Header["Authorization"]); {
	case n == 0:
		return "", None
	case n > 1:
		return "", Multiple
	}
	if len(r.Header["Authorization"][0]) > MaxToken+len(scheme)+1 {
		return "", TooLarge
	}
	s, tok, _ := Split(r)
	if !strings.EqualFold(s, scheme) {
		if s == "" || !check.IsToken(s) {
			return "", Syntax
		}
		return "", None
	}
	return tok, OK
}
