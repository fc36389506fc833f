// Package check holds the small configuration and syntax checks that
// several rsguard packages apply the same way.
package check

import (
	"reflect"
	"strings"
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
