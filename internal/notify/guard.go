package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// ErrBlockedAddress is why a delivery to loopback, private, link-local or
// other special-purpose space is refused: an endpoint URL must not reach the
// metadata service or our own admin port through us.
var ErrBlockedAddress = errors.New("notify: address refused")

// requestTimeout bounds a delivery attempt, as the contract promises.
const requestTimeout = 10 * time.Second

// newRegistry is the special-purpose address registry: IANA's IPv4 and IPv6
// special-purpose registries as code.dny.dev/ssrf generates them from IANA's
// own files, and all IPv6 space outside global unicast (2000::/3). Ports and
// networks are not its business here.
func newRegistry() *ssrf.Guardian {
	return ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())
}

// CheckIP refuses an address no endpoint may reach (loopback, private,
// link-local, and every other special-purpose range), naming it and the
// range. An IPv4-mapped IPv6 address, or one in the well-known NAT64
// prefix, is judged by the IPv4 address it reaches.
func CheckIP(ip net.IP) error {
	return checkIP(newRegistry(), ip)
}

func checkIP(registry *ssrf.Guardian, ip net.IP) error {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return fmt.Errorf("%w: %q is not an IP address", ErrBlockedAddress, ip)
	}
	addr = addr.Unmap()
	// The well-known NAT64 prefix (RFC 6052) reaches the IPv4 address an
	// address in it carries: it is judged by that. The local-use prefix
	// 64:ff9b:1::/48 (RFC 8215) is not: it is refused with the rest of the
	// space outside global unicast.
	if ssrf.IPv6NAT64Prefix.Contains(addr) {
		b := addr.As16()
		v4 := netip.AddrFrom4([4]byte(b[12:16]))
		if err := registry.SafeAddr(v4); err != nil {
			return fmt.Errorf("%w: %s carries %s: %w", ErrBlockedAddress, ip, v4, err)
		}
		return nil
	}
	if err := registry.SafeAddr(addr); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBlockedAddress, ip, err)
	}
	return nil
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
	d := &guardedDialer{allowPrivate: allowPrivate, resolver: resolver, registry: newRegistry(),
		dialer: &net.Dialer{Timeout: requestTimeout, KeepAlive: 30 * time.Second}}
	if !allowPrivate {
		// Checked again on the socket itself: whatever the transport ends up
		// dialing must pass too.
		d.dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %q is not an address", ErrBlockedAddress, address)
			}
			return checkIP(d.registry, ap.Addr().AsSlice())
		}
	}
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
	registry     *ssrf.Guardian
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
			if err := checkIP(d.registry, ip.IP); err != nil {
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
