package rsmeta

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rsguard/rsguard/internal/loopback"
)

// wellKnownPrefix is the well-known URI path under which protected resource
// metadata is published (RFC 9728 §3, registered in §8.3). [WellKnownURL]
// inserts it between the host and the path of a resource identifier.
const wellKnownPrefix = "/.well-known/oauth-protected-resource"

// CanonicalResource returns the canonical form of a resource identifier
// (RFC 8707 §2), as used for the "resource" metadata member and for
// comparing token audiences. It applies the RFC 3986 §6.2.2–6.2.3
// normalisations that cannot change which resource is meant: the scheme and
// host are lowercased and a default port (443 for https, 80 for http) or an
// empty port is dropped. The path and query are kept exactly as given: an
// empty path stays empty, a trailing slash stays, percent-encodings are not
// touched.
//
// The resource must be an absolute URL with the https scheme, or http on a
// loopback host for development (an IP literal in 127.0.0.0/8, ::1 or an
// IPv4-mapped form of one, or "localhost" without a trailing dot; see the
// package documentation); with a
// host; without userinfo, fragment (even an empty one) or dot-segments; and
// with only characters RFC 3986 allows. Errors wrap [ErrInvalidResource].
func CanonicalResource(resource string) (string, error) {
	r, err := parseResource(resource)
	if err != nil {
		return "", err
	}
	return r.origin() + r.path + r.query, nil
}

// WellKnownURL returns the URL of the metadata document for a resource
// (RFC 9728 §3.1): /.well-known/oauth-protected-resource inserted between the host and the path
// and query of the canonical resource identifier, after removing a path that
// is only "/".
//
//	https://h          → https://h/.well-known/oauth-protected-resource
//	https://h/         → https://h/.well-known/oauth-protected-resource
//	https://h/mcp      → https://h/.well-known/oauth-protected-resource/mcp
//	https://h/a/b/     → https://h/.well-known/oauth-protected-resource/a/b/
//	https://h/mcp?t=1  → https://h/.well-known/oauth-protected-resource/mcp?t=1
//
// The resource must be valid for [CanonicalResource]; errors wrap
// [ErrInvalidResource]. The result is also the value of the
// resource_metadata auth-param (RFC 9728 §5.1).
func WellKnownURL(resource string) (string, error) {
	r, err := parseResource(resource)
	if err != nil {
		return "", err
	}
	return r.origin() + r.wellKnownPath() + r.query, nil
}

// resourceURL is a parsed, canonicalised resource identifier.
type resourceURL struct {
	scheme string // lowercase "https" or "http"
	host   string // lowercase; IPv6 literals keep their brackets
	port   string // "" for the scheme's default port
	path   string // as given, escaped; "" or starting with "/"
	query  string // as given, including the leading "?"; "" if none
}

func (r resourceURL) origin() string {
	if r.port == "" {
		return r.scheme + "://" + r.host
	}
	return r.scheme + "://" + r.host + ":" + r.port
}

// wellKnownPath is the path of the RFC 9728 §3.1 well-known URL.
func (r resourceURL) wellKnownPath() string {
	if r.path == "/" {
		return wellKnownPrefix
	}
	return wellKnownPrefix + r.path
}

func resourceErr(s, format string, args ...any) error {
	return fmt.Errorf("%w: %q: %s", ErrInvalidResource, s, fmt.Sprintf(format, args...))
}

// parseResource parses and canonicalises a resource identifier. It works on
// the string itself (net/url would re-escape the path) and uses net/url only
// as a second opinion.
func parseResource(s string) (resourceURL, error) {
	var r resourceURL
	if s == "" {
		return r, fmt.Errorf("%w: empty resource identifier", ErrInvalidResource)
	}
	if err := checkURIChars(s); err != nil {
		return r, resourceErr(s, "%v", err)
	}
	if strings.IndexByte(s, '#') >= 0 {
		return r, resourceErr(s, "a resource identifier must not have a fragment (RFC 8707 §2)")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !isScheme(scheme) {
		return r, resourceErr(s, "not an absolute URL with an authority (RFC 8707 §2)")
	}
	r.scheme = strings.ToLower(scheme)
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	r.path, r.query = tail, ""
	if i := strings.IndexByte(tail, '?'); i >= 0 {
		r.path, r.query = tail[:i], tail[i:]
	}
	if strings.IndexByte(authority, '@') >= 0 {
		return r, resourceErr(s, "a resource identifier must not have userinfo")
	}
	if strings.IndexByte(authority, '%') >= 0 {
		return r, resourceErr(s, "percent-encoding in the host is not supported")
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return r, resourceErr(s, "%v", err)
	}
	r.host = strings.ToLower(host)

	switch r.scheme {
	case "https":
		if port == 443 {
			port = 0
		}
	case "http":
		// splitHostPort kept an IPv6 literal's brackets; loopback wants
		// the host as url.URL.Hostname gives it.
		if !loopback.IsHost(strings.TrimSuffix(strings.TrimPrefix(r.host, "["), "]")) {
			return r, resourceErr(s, "the scheme must be https (http only on loopback hosts)")
		}
		if port == 80 {
			port = 0
		}
	default:
		return r, resourceErr(s, "the scheme must be https (http only on loopback hosts)")
	}
	if port != 0 {
		r.port = strconv.Itoa(port)
	}
	if strings.ContainsAny(tail, "[]") {
		return r, resourceErr(s, `"[" and "]" are allowed only around an IPv6 host (RFC 3986 §3.2.2)`)
	}
	if hasDotSegment(r.path) {
		return r, resourceErr(s, "the path must not contain dot-segments (RFC 3986 §6.2.2.3)")
	}
	// Second opinion: whatever net/url refuses, clients built on it refuse too.
	if u, err := url.Parse(s); err != nil || u.Host == "" || u.Opaque != "" {
		return r, resourceErr(s, "not a valid absolute URL")
	}
	return r, nil
}

// splitHostPort splits an authority without userinfo into a non-empty host
// and a port number (0 when absent or empty).
func splitHostPort(authority string) (host string, port int, err error) {
	hostEnd := len(authority)
	if strings.HasPrefix(authority, "[") {
		j := strings.IndexByte(authority, ']')
		if j < 0 {
			return "", 0, errors.New("unterminated IPv6 literal")
		}
		a, err := netip.ParseAddr(authority[1:j])
		if err != nil || !a.Is6() {
			return "", 0, errors.New("invalid IPv6 literal")
		}
		hostEnd = j + 1
		if hostEnd < len(authority) && authority[hostEnd] != ':' {
			return "", 0, errors.New("invalid authority")
		}
	} else if i := strings.IndexByte(authority, ':'); i >= 0 {
		hostEnd = i
	}
	host = authority[:hostEnd]
	if host == "" {
		return "", 0, errors.New("missing host")
	}
	if host[0] != '[' {
		for i := 0; i < len(host); i++ {
			if !isRegNameChar(host[i]) {
				return "", 0, fmt.Errorf("invalid character %q in host", host[i])
			}
		}
	}
	if hostEnd < len(authority) {
		p := authority[hostEnd+1:]
		if p == "" {
			return host, 0, nil // "https://h:/" — an empty port is the default
		}
		if len(p) > 5 {
			return "", 0, errors.New("invalid port")
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '+' || p[0] == '-' {
			return "", 0, errors.New("invalid port")
		}
		return host, n, nil
	}
	return host, 0, nil
}

// hasDotSegment reports whether path has a "." or ".." segment, literally or
// percent-encoded.
func hasDotSegment(path string) bool {
	for path != "" {
		seg := path
		if i := strings.IndexByte(path, '/'); i >= 0 {
			seg, path = path[:i], path[i+1:]
		} else {
			path = ""
		}
		if len(seg) <= 6 {
			switch strings.ToLower(seg) {
			case ".", "..", "%2e", "%2e%2e", ".%2e", "%2e.":
				return true
			}
		}
	}
	return false
}

// checkURIChars reports an error if s has a byte that cannot appear in an
// RFC 3986 URI reference, or a malformed percent-encoding.
func checkURIChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return errors.New("malformed percent-encoding")
			}
			i += 2
		case !isURIChar(c):
			return fmt.Errorf("character %q is not allowed in a URI (RFC 3986 §2)", c)
		}
	}
	return nil
}

// isURIChar reports whether c is an RFC 3986 unreserved or reserved
// character (percent signs are checked separately).
func isURIChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0
}

// isRegNameChar reports whether c may appear in an RFC 3986 reg-name or
// IPv4 address (percent-encoding excluded).
func isRegNameChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("-._~!$&'()*+,;=", c) >= 0
}

// isScheme reports whether s is an RFC 3986 §3.1 scheme.
func isScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }
func isHex(c byte) bool   { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// parseHTTPSURL checks that s is an absolute https URL (http on loopback
// hosts) with a host, without userinfo or fragment.
func parseHTTPSURL(s string) (*url.URL, error) {
	if err := checkURIChars(s); err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not an absolute URL", s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q must not have userinfo", s)
	}
	if strings.IndexByte(s, '#') >= 0 {
		return nil, fmt.Errorf("%q must not have a fragment", s)
	}
	if !loopback.AllowsScheme(u) {
		return nil, fmt.Errorf("%q: the scheme must be https (http only on loopback hosts)", s)
	}
	return u, nil
}

// checkIssuer checks an authorization server issuer identifier: an https URL
// without query or fragment (RFC 8414 §2), http allowed on loopback hosts.
func checkIssuer(s string) error {
	u, err := parseHTTPSURL(s)
	if err != nil {
		return err
	}
	if u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("%q: an issuer identifier must not have a query (RFC 8414 §2)", s)
	}
	return nil
}

// checkAbsoluteURL checks a human-facing URL: absolute, with a host, only
// URI characters.
func checkAbsoluteURL(s string) error {
	if err := checkURIChars(s); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	return nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
