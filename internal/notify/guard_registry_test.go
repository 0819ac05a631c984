package notify_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"code.dny.dev/ssrf"

	"github.com/payrecon/reconciler/internal/notify"
)

// TestCheckIPSpecialPurposeRegistry holds the guard to IANA's IPv4 and IPv6
// special-purpose address registries, not a hand-picked list: the local-use
// NAT64 prefix (RFC 8215), documentation, benchmarking, AS112, ORCHID and the
// rest are all refused, and every prefix of the registries as
// code.dny.dev/ssrf carries them is.
func TestCheckIPSpecialPurposeRegistry(t *testing.T) {
	refused := []string{
		"64:ff9b:1::1",            // local-use NAT64 (RFC 8215)
		"64:ff9b:1:ffff::a00:1",   // local-use NAT64 carrying 10.0.0.1
		"64:ff9b:1::5db8:d822",    // local-use NAT64 carrying a public address: still local use
		"192.0.2.10",              // TEST-NET-1
		"198.51.100.7",            // TEST-NET-2
		"203.0.113.9",             // TEST-NET-3
		"192.31.196.1",            // AS112-v4
		"192.52.193.1",            // AMT
		"192.88.99.1",             // deprecated 6to4 relay anycast
		"192.175.48.1",            // AS112 direct delegation
		"100::1",                  // discard-only
		"2001:db8::1",             // documentation
		"3fff::1",                 // documentation (RFC 9637)
		"2001:10::1",              // ORCHID
		"2001:20::1",              // ORCHIDv2
		"2620:4f:8000::1",         // AS112 direct delegation
		"5f00::1",                 // SRv6 SIDs, outside global unicast
		"64:ff9b::c000:20a",       // well-known NAT64 carrying TEST-NET-1
		"::ffff:198.51.100.7",     // IPv4-mapped TEST-NET-2
		"2002:c000:20a::1",        // 6to4
		"fc00::1", "fe80::1%eth0", // unique local, link-local with a zone
	}
	for _, s := range refused {
		t.Run(s+" is refused", func(t *testing.T) {
			addr := netip.MustParseAddr(s)
			if err := notify.CheckIP(net.IP(addr.WithZone("").AsSlice())); !errors.Is(err, notify.ErrBlockedAddress) {
				t.Fatalf("CheckIP(%s) = %v, want ErrBlockedAddress", s, err)
			}
		})
	}
	t.Run("the first and last address of every registry prefix are refused", func(t *testing.T) {
		prefixes := append(append([]netip.Prefix{}, ssrf.IPv4DeniedPrefixes...), ssrf.IPv6DeniedPrefixes...)
		for _, p := range prefixes {
			for _, addr := range []netip.Addr{p.Masked().Addr(), lastAddr(p)} {
				if err := notify.CheckIP(net.IP(addr.AsSlice())); !errors.Is(err, notify.ErrBlockedAddress) {
					t.Errorf("CheckIP(%s) of %s = %v, want ErrBlockedAddress", addr, p, err)
				}
			}
		}
	})
	for _, s := range []string{"93.184.216.34", "2606:4700::1", "64:ff9b::5db8:d822", "::ffff:93.184.216.34"} {
		t.Run(s+" is allowed", func(t *testing.T) {
			noErr(t, notify.CheckIP(net.ParseIP(s)))
		})
	}
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr
}

// TestAllowPrivateStillReachesLoopback: NOTIFY_ALLOW_PRIVATE=true lets a
// delivery reach loopback and private space, for local development.
func TestAllowPrivateStillReachesLoopback(t *testing.T) {
	srv, hits := countingServer(t, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	resolver := fakeResolver{"dev.example.test": ipAddrs("127.0.0.1")}
	resp, err := notify.NewHTTPClient(true, resolver).Get("http://dev.example.test:" + strconv.Itoa(port) + "/")
	noErr(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("status %d after %d requests, want 200 after 1", resp.StatusCode, hits.Load())
	}
	if _, err := notify.NewHTTPClient(false, resolver).Get("http://dev.example.test:" + strconv.Itoa(port) + "/"); !errors.Is(err, notify.ErrBlockedAddress) {
		t.Fatalf("without it: %v, want ErrBlockedAddress", err)
	}
}
