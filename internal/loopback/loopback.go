// Package loopback holds rsguard's one rule for plain http, used by every
// package that checks a URL: http is allowed only to a loopback host, and a
// loopback host is
//
//   - an IP literal that [net/netip] reports as loopback: 127.0.0.0/8, ::1,
//     or an IPv4-mapped form of one such as ::ffff:127.0.0.1; never with a
//     zone; or
//   - the name "localhost", in any case, without a trailing dot.
//
// Nothing else is: no other name, however it begins or ends (127.0.0.1.nip.io,
// localhost., foo.localhost), and no IPv4 form that net/netip does not parse
// (127.1, 0x7f000001, 2130706433, 0177.0.0.1). A name is looked up in DNS,
// whose answer an attacker may control; a literal is not.
package loopback

import (
	"net/netip"
	"net/url"
	"strings"
)

// IsHost reports whether host names this machine under the package rule.
// host is a URL's host as [url.URL.Hostname] returns it: without port, and
// without the brackets of an IPv6 literal (a bracketed host is not loopback).
func IsHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == "" && a.Unmap().IsLoopback()
}

// AllowsScheme reports whether u's scheme may be used with u's host: https
// with any host, http only with a loopback host ([IsHost]), no other scheme.
func AllowsScheme(u *url.URL) bool {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return true
	case "http":
		return IsHost(u.Hostname())
	}
	return false
}
