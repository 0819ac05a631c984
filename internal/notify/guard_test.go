package notify_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/payrecon/reconciler/internal/notify"
)

func TestCheckIP(t *testing.T) {
	refused := []string{"127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "192.168.1.1", "172.16.5.4", "172.31.255.255",
		"169.254.169.254", "fe80::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "0.0.0.0", "::", "100.64.0.1",
		"fd00::1", "224.0.0.1", "ff02::1", "255.255.255.255", "64:ff9b::a00:1", "2002:7f00:1::1"}
	for _, ip := range refused {
		t.Run(ip+" is refused, and the error names it", func(t *testing.T) {
			err := notify.CheckIP(net.ParseIP(ip))
			if !errors.Is(err, notify.ErrBlockedAddress) {
				t.Fatalf("CheckIP(%s) = %v, want ErrBlockedAddress", ip, err)
			}
			if !strings.Contains(err.Error(), net.ParseIP(ip).String()) {
				t.Fatalf("error %q does not name %s", err, ip)
			}
		})
	}
	allowed := []string{"93.184.216.34", "2606:4700::1", "8.8.8.8", "172.32.0.1", "64:ff9b::5db8:d822"}
	for _, ip := range allowed {
		t.Run(ip+" is allowed", func(t *testing.T) {
			noErr(t, notify.CheckIP(net.ParseIP(ip)))
		})
	}
	t.Run("nothing at all is refused", func(t *testing.T) {
		if err := notify.CheckIP(nil); !errors.Is(err, notify.ErrBlockedAddress) {
			t.Fatalf("CheckIP(nil) = %v, want ErrBlockedAddress", err)
		}
	})
}

// countingServer answers 200 "hello" and counts its requests.
func countingServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	if handler == nil {
		handler = func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestGuardedClient(t *testing.T) {
	srv, hits := countingServer(t, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	internal := "http://internal.example.test:" + strconv.Itoa(port) + "/"
	resolver := fakeResolver{"internal.example.test": ipAddrs("127.0.0.1")}

	t.Run("a name resolving to loopback is refused, naming the address", func(t *testing.T) {
		resp, err := notify.NewHTTPClient(false, resolver).Get(internal)
		if err == nil {
			resp.Body.Close()
			t.Fatal("request reached the loopback server")
		}
		if !errors.Is(err, notify.ErrBlockedAddress) || !strings.Contains(err.Error(), "127.0.0.1") {
			t.Fatalf("got %v, want ErrBlockedAddress naming 127.0.0.1", err)
		}
		if hits.Load() != 0 {
			t.Fatal("the server got a request")
		}
	})
	t.Run("a literal loopback address is refused", func(t *testing.T) {
		resp, err := notify.NewHTTPClient(false, resolver).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
			t.Fatal("request reached the loopback server")
		}
		if !errors.Is(err, notify.ErrBlockedAddress) || hits.Load() != 0 {
			t.Fatalf("got %v with %d requests served, want ErrBlockedAddress and none", err, hits.Load())
		}
	})
	t.Run("a name with a private address among public ones is refused before any dial", func(t *testing.T) {
		// The resolver cancels the dial's context: were the check to pass
		// the public address, no connection would leave this machine anyway.
		ctx, cancel := context.WithCancel(t.Context())
		cancelling := cancelOnLookup{cancel: cancel, ips: ipAddrs("93.184.216.34", "10.1.2.3")}
		dial := notify.NewHTTPClient(false, cancelling).Transport.(*http.Transport).DialContext
		_, err := dial(ctx, "tcp", "mixed.example.test:443")
		if !errors.Is(err, notify.ErrBlockedAddress) || !strings.Contains(err.Error(), "10.1.2.3") {
			t.Fatalf("got %v, want ErrBlockedAddress naming 10.1.2.3", err)
		}
	})
	t.Run("a name that does not resolve is an error", func(t *testing.T) {
		resp, err := notify.NewHTTPClient(true, resolver).Get("http://nowhere.example.test/")
		if err == nil {
			resp.Body.Close()
			t.Fatal("request succeeded")
		}
	})
	t.Run("with private addresses allowed the name reaches the loopback server", func(t *testing.T) {
		resp, err := notify.NewHTTPClient(true, resolver).Get(internal)
		noErr(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "hello" || hits.Load() != 1 {
			t.Fatalf("got %d %q after %d requests, want 200 hello after 1", resp.StatusCode, body, hits.Load())
		}
	})
	t.Run("a redirect is not followed", func(t *testing.T) {
		target, targetHits := countingServer(t, nil)
		redirect, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusFound)
		})
		resp, err := notify.NewHTTPClient(true, nil).Get(redirect.URL)
		noErr(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || targetHits.Load() != 0 {
			t.Fatalf("got %d with %d requests at the target, want 302 and none", resp.StatusCode, targetHits.Load())
		}
	})
	t.Run("no proxy is used, whatever the environment says", func(t *testing.T) {
		t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
		resp, err := notify.NewHTTPClient(true, resolver).Get(internal)
		noErr(t, err)
		resp.Body.Close()
	})
}

// cancelOnLookup answers with ips and cancels the caller's dial.
type cancelOnLookup struct {
	cancel context.CancelFunc
	ips    []net.IPAddr
}

func (c cancelOnLookup) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	c.cancel()
	return c.ips, nil
}
