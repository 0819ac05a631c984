package testenv

import (
	gobuild "go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// stripeMockPath finds the stripe-mock binary: the module's bin (make
// tools), PATH, or GOPATH/bin.
func stripeMockPath() string {
	for dir, _ := os.Getwd(); dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "stripe-mock")
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p
			}
			break
		}
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	for _, gp := range filepath.SplitList(gobuild.Default.GOPATH) {
		p := filepath.Join(gp, "bin", "stripe-mock")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// freePort is a loopback port nobody listens on now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// StripeMock runs stripe-mock on loopback ports until the test ends
// and returns its HTTP base URL.
func StripeMock(t testing.TB) string {
	t.Helper()
	bin := stripeMockPath()
	if bin == "" {
		t.Skip("stripe-mock is not in bin/, on PATH or in $(go env GOPATH)/bin: make tools")
	}
	httpPort, httpsPort := freePort(t), freePort(t)
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:"+httpPort, "-https-addr", "127.0.0.1:"+httpsPort)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start stripe-mock: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + httpPort
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not listen on %s: %v\n%s", addr, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stripe-mock keeps no state and ignores filters and cursors: it proves the
// wiring (paths, the parameters its OpenAPI spec accepts, auth) and that
// Stripe's own example objects decode.
