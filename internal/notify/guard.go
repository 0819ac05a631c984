package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// ErrBlockedAddress is why a delivery to loopback, private, link-local or
// other non-public space is refused: an endpoint URL must not reach the
// metadata service or our own admin port through us.
var ErrBlockedAddress = errors.New("notify: address refused")

// requestTimeout bounds a delivery attempt, as the contract promises.
const requestTimeout = 10 * time.Second

// blocked lists the address space no endpoint may reach, first match wins.
var blocked = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	// The deprecated IPv4-compatible form, which some stacks still route.
	{netip.MustParsePrefix("::/96"), "reserved"},
	{netip.MustParsePrefix("2001::/32"), "a Teredo tunnel"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Prefixes of IPv6 addresses that carry an IPv4 address a gateway reaches.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// CheckIP refuses an address no endpoint may reach, naming it and why. An
// IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4) is judged by
// the IPv4 address it reaches.
func CheckIP(ip net.IP) error {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return fmt.Errorf("%w: %q is not an IP address", ErrBlockedAddress, ip)
	}
	if why := blockedReason(addr.Unmap()); why != "" {
		return fmt.Errorf("%w: %s is %s", ErrBlockedAddress, ip, why)
	}
	return nil
}

func blockedReason(addr netip.Addr) string {
	for _, b := range blocked {
		if b.prefix.Contains(addr) {
			return b.why
		}
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr):
		return blockedReason(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(addr):
		return blockedReason(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return ""
}

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// NewHTTPClient makes the client deliveries go through: a 10 s timeout, no
// proxy, no redirects (a 3xx is the answer, and not a 2xx), and a dialer
// that resolves the host itself, refuses it unless every address passes
// CheckIP (allowPrivate skips that, for local development), and dials the
// checked address, so a DNS answer that changes between check and connect
// cannot slip past. resolver nil is net.DefaultResolver.
func NewHTTPClient(allowPrivate bool, resolver Resolver) *http.Client {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	d := &guardedDialer{allowPrivate: allowPrivate, resolver: resolver,
		dialer: &net.Dialer{Timeout: requestTimeout, KeepAlive: 30 * time.Second}}
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            d.dialContext,
			ForceAttemptHTTP2:      true,
			TLSHandshakeTimeout:    requestTimeout,
			ResponseHeaderTimeout:  requestTimeout,
			MaxIdleConns:           100,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type guardedDialer struct {
	allowPrivate bool
	resolver     Resolver
	dialer       *net.Dialer
}

// dialContext connects to a checked address of the host. TLS, layered on
// top by the transport, still verifies the certificate against the name.
func (d *guardedDialer) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	ips, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	if !d.allowPrivate {
		// Every address, not just the first: the dialer falls back to the
		// others when one does not answer.
		for _, ip := range ips {
			if err := CheckIP(ip.IP); err != nil {
				return nil, fmt.Errorf("dial %s: %w", host, err)
			}
		}
	}
	var firstErr error
	for _, ip := range ips {
		conn, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

func (d *guardedDialer) resolve(ctx context.Context, host string) ([]net.IPAddr, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return []net.IPAddr{{IP: addr.AsSlice(), Zone: addr.Zone()}}, nil
	}
	ips, err := d.resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	return ips, nil
}
