package checker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rsguard/rsguard/internal/conformance"
)

// The addresses a run connects to. A metadata document is the server's to
// write: one that names http://127.0.0.1:8080/admin as an authorization
// server, or a jwks_uri on 169.254.169.254, would make the checker send
// requests to the user's own machine or network. So, for an endpoint that
// is not on loopback, every connection is checked at dial time, on the
// address it is about to connect to (a name is resolved first, and each
// address it resolves to is checked: a DNS name pointing at 127.0.0.1 is
// refused as 127.0.0.1 is):
//
//   - loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16, the cloud
//     metadata address 169.254.169.254 included, fe80::/10), unspecified
//     (0.0.0.0/8, ::), multicast and broadcast addresses are refused;
//   - private addresses (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
//     100.64.0.0/10, fc00::/7) are allowed only when the endpoint's own
//     host resolved to one: an internal deployment with an internal
//     authorization server;
//   - the endpoint's host is resolved once, at the start of the run, and
//     every connection to it goes to those addresses (a name that
//     resolves elsewhere later cannot open the private rule to another
//     host).
//
// For an endpoint on loopback (http://127.0.0.1:8080/mcp,
// http://localhost/mcp) nothing is refused at dial time: the server, its
// metadata and its authorization server are the user's own. No proxy is
// used: the checker must see the address it connects to.

// addrPolicy decides which addresses a run may connect to.
type addrPolicy struct {
	// open: the endpoint is on loopback, and no address is refused.
	open bool
	// private: the endpoint's host resolved to a private address, so
	// private addresses are allowed.
	private bool
}

// Address ranges the policy names that package netip has no method for.
var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	sharedCGNAT = netip.MustParsePrefix("100.64.0.0/10")
	broadcast   = netip.MustParseAddr("255.255.255.255")
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// class names the kind of a, for the policy and its messages: "loopback",
// "link-local", "unspecified", "multicast", "broadcast", "private", or ""
// for a public address. An IPv6 address that embeds an IPv4 one (mapped,
// NAT64, 6to4) is of that address's kind.
func class(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return class(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return class(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return "unspecified"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	case a == broadcast:
		return "broadcast"
	case a.IsPrivate() || sharedCGNAT.Contains(a):
		return "private"
	}
	return ""
}

// refuses says why the policy refuses a, or "".
func (p addrPolicy) refuses(a netip.Addr) string {
	if p.open {
		return ""
	}
	switch k := class(a); k {
	case "":
		return ""
	case "private":
		if p.private {
			return ""
		}
		return "a private address, allowed only when the endpoint's own host is on one"
	default:
		return "a " + k + " address"
	}
}

// errAddress is the error of a connection the policy refused. It wraps
// errRefused and conformance.ErrNotFetched (the authorization servers
// check then notes that server as not checked, instead of failing it).
type errAddress struct {
	host, addr, why string
}

func (e *errAddress) Error() string {
	what := e.addr
	if e.host != e.addr {
		what = fmt.Sprintf("%s (%s)", e.host, e.addr)
	}
	return fmt.Sprintf("refused: mcpcheck does not connect to %s, %s, for an endpoint that is not on loopback", what, e.why)
}

func (e *errAddress) Is(target error) bool {
	return target == errRefused || target == conformance.ErrNotFetched
}

// netSeam replaces, in tests, the two answers a run gets from the network:
// what a name resolves to, and where a connection to an address really
// goes. The policy (the dialer's Control) still judges the resolved
// address, as it does without a seam.
type netSeam struct {
	// lookup resolves host. If nil, net.DefaultResolver.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// connect returns the address a connection to ap really goes to ("":
	// ap itself).
	connect func(ap netip.AddrPort) string
}

// dialer makes the run's connections: it resolves names (the endpoint's
// host once, pinned), and connects to each address in turn, refusing at
// dial time (net.Dialer.Control) those the policy refuses.
type dialer struct {
	seam netSeam

	mu     sync.Mutex
	policy addrPolicy
	pinned map[string][]netip.Addr // host -> its addresses
}

// setPolicy sets the policy, before the first connection.
func (d *dialer) setPolicy(p addrPolicy) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.policy = p
}

func (d *dialer) currentPolicy() addrPolicy {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.policy
}

// lookup resolves host (not an IP literal).
func (d *dialer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if d.seam.lookup != nil {
		return d.seam.lookup(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// resolve returns host's addresses: an IP literal's own, the pinned ones,
// or those a lookup gives.
func (d *dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	d.mu.Lock()
	addrs, ok := d.pinned[host]
	d.mu.Unlock()
	if ok {
		return addrs, nil
	}
	addrs, err := d.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no address for %s", host)
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = a.Unmap()
	}
	return out, nil
}

// pin resolves host once for the whole run and returns its addresses.
func (d *dialer) pin(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.pinned == nil {
		d.pinned = map[string][]netip.Addr{}
	}
	d.pinned[host] = addrs
	d.mu.Unlock()
	return addrs, nil
}

// DialContext connects to addr (host:port), trying each address host
// resolves to in turn.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q", addr)
	}
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		if network == "tcp4" && !a.Is4() || network == "tcp6" && !a.Is6() {
			continue
		}
		conn, err := d.dialOne(ctx, network, host, netip.AddrPortFrom(a, uint16(port)))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("no %s address for %s", network, host)
	}
	return nil, errors.Join(errs...)
}

// dialOne connects to ap, which host resolved to. The policy is checked in
// the dialer's Control, on the address the socket connects to; with a test
// seam that sends the connection elsewhere, on ap.
func (d *dialer) dialOne(ctx context.Context, network, host string, ap netip.AddrPort) (net.Conn, error) {
	target := ap.String()
	if d.seam.connect != nil {
		if to := d.seam.connect(ap); to != "" {
			target = to
		}
	}
	var refused error
	nd := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			seen, err := netip.ParseAddrPort(address)
			if err != nil {
				refused = fmt.Errorf("refused: cannot read the address %q", address)
				return refused
			}
			if target != ap.String() {
				seen = ap // the test seam: the address the connection stands for
			}
			if why := d.currentPolicy().refuses(seen.Addr()); why != "" {
				refused = &errAddress{host: host, addr: seen.Addr().String(), why: why}
				return refused
			}
			return nil
		}}
	conn, err := nd.DialContext(ctx, network, target)
	if err != nil && refused != nil {
		return nil, refused
	}
	return conn, err
}

// newTransport is the run's transport: connections through d, https
// verified with roots (nil: the system's), no proxy, and bounded waits.
func newTransport(d *dialer, roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
