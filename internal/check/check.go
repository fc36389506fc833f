// Package check holds the small configuration and syntax checks that
// several rsguard packages apply the same way.
package check

import (
	"crypto/sha256"
	"encoding/base64"
	"reflect"
	"strings"
	"unicode/utf8"
)

// IsNil reports whether v is nil or an interface holding a nil pointer, map,
// func, slice or channel (a "typed nil"): a value that is not == nil but
// would fail on first use.
func IsNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Slice, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// IsTchar reports whether c is an RFC 9110 §5.6.2 tchar.
func IsTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// IsToken reports whether s is an RFC 9110 §5.6.2 token: a header field
// name, an auth-scheme, an auth-param name.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsTchar(s[i]) {
			return false
		}
	}
	return true
}

// IsScopeToken reports whether s is an RFC 6749 §3.3 scope-token,
// 1*( %x21 / %x23-5B / %x5D-7E ): the characters a scope may use in a token
// request, a "scope" claim and a challenge's scope auth-param (RFC 6750 §3).
func IsScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// MaxText bounds each request-text field of an audit.Decision, in bytes.
const MaxText = 256

// Text bounds request text to [MaxText] bytes of valid UTF-8, as the
// request-text fields of an audit.Decision are (method, path, MCP method,
// tool name): a cut never splits a character, and invalid bytes become
// U+FFFD.
func Text(s string) string {
	if len(s) > MaxText {
		s = s[:MaxText]
		for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
			if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
				break
			}
			s = s[:len(s)-1]
		}
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// SessionTag is the tag of an MCP session id in audit decisions: the
// base64url form of the first 12 bytes of its SHA-256, 16 characters. It
// keys a per-session audit trail without putting the id, which a
// client presents to act in its session, into logs.
func SessionTag(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// IsSessionID reports whether s is 1 to [MaxText] characters in %x21-7E,
// the MCP session id alphabet.
func IsSessionID(s string) bool {
	if s == "" || len(s) > MaxText {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
