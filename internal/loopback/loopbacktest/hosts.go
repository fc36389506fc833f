// Package loopbacktest holds the two tables every test of the loopback rule
// ranges over (see package loopback): hosts that must never be reached over
// plain http, and genuine loopback hosts that may. The tests of rsmeta,
// validate and validatetest all use them, so that every place that decides
// "http is fine here" is tested against the same hosts.
package loopbacktest

// Host is a host as written in a URL's authority: an IPv6 literal in
// brackets, a zone percent-encoded. Why says why it is in its table.
type Host struct {
	Host string
	Why  string
}

// Hostile returns hosts that are not loopback: plain http to any of them must
// be refused, wherever a URL is checked. Most of them look loopback to a
// prefix match, to inet_aton or to a lenient resolver. A fresh slice.
func Hostile() []Host {
	return []Host{
		{"127.attacker.example", "a DNS name that merely begins with 127."},
		{"127.evil.example", "a DNS name that merely begins with 127."},
		{"127.0.0.1.nip.io", "a wildcard DNS name that resolves to 127.0.0.1 today and to anything tomorrow"},
		{"127.0.0.1.attacker.example", "a DNS name whose first labels spell 127.0.0.1"},
		{"127.0.0.1.", "a trailing dot makes a DNS name, not an IP literal"},
		{"localhost.", "the absolute DNS name, which a resolver may send to DNS"},
		{"LOCALHOST.", "the absolute DNS name, upper-cased"},
		{"localhost.attacker.example", "a DNS name that begins with localhost"},
		{"attacker.localhost", "a .localhost name: RFC 6761 asks resolvers to keep it local, not all do"},
		{"localhost-attacker.example", "a DNS name that begins with localhost"},
		{"0x7f000001", "hexadecimal IPv4, accepted by inet_aton, not an IP literal"},
		{"0x7f.1", "hexadecimal shorthand IPv4, accepted by inet_aton"},
		{"2130706433", "decimal IPv4, accepted by inet_aton"},
		{"127.1", "shorthand IPv4, accepted by inet_aton, refused by net/netip"},
		{"0177.0.0.1", "octal IPv4, accepted by inet_aton"},
		{"127.000.000.001", "leading zeros, which some parsers read as octal"},
		{"[::1%25lo]", "loopback with a zone: zones are never accepted"},
		{"[fe80::1%25lo]", "link-local with a zone"},
		{"[::127.0.0.1]", "IPv4-compatible (deprecated) ::7f00:1, which is not ::1 and not mapped"},
		{"[::ffff:0:127.0.0.1]", "IPv4-translated (SIIT), not a loopback address"},
		{"[64:ff9b::127.0.0.1]", "NAT64, routed off the machine"},
		{"[::2]", "an IPv6 address next to ::1"},
		{"[::]", "the unspecified address"},
		{"0.0.0.0", "the unspecified address"},
		{"128.0.0.1", "just outside 127.0.0.0/8"},
		{"10.0.0.1", "a private address, off the machine"},
		{"169.254.169.254", "the cloud metadata service"},
		{"example.com", "an ordinary DNS name"},
	}
}

// Genuine returns loopback hosts: plain http to them is allowed, wherever a
// URL is checked. The positive controls of the tests. A fresh slice.
func Genuine() []Host {
	return []Host{
		{"127.0.0.1", "the IPv4 loopback address"},
		{"127.1.2.3", "in 127.0.0.0/8, all of which is loopback (RFC 1122 §3.2.1.3)"},
		{"127.255.255.254", "in 127.0.0.0/8"},
		{"[::1]", "the IPv6 loopback address"},
		{"[0:0:0:0:0:0:0:1]", "::1 written out"},
		{"[::ffff:127.0.0.1]", "IPv4-mapped 127.0.0.1: a connection to it goes to 127.0.0.1"},
		{"[::ffff:7f00:1]", "the same IPv4-mapped address in hex: net/netip unmaps it to 127.0.0.1"},
		{"localhost", "the name localhost, reserved for loopback (RFC 6761 §6.3)"},
		{"LOCALHOST", "host names are case-insensitive"},
		{"LocalHost", "host names are case-insensitive"},
	}
}
