package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is the browser the real-browser test drives: CHROMIUM_PATH,
// else Debian's chromium (scripts/chromium.sh ensure installs it).
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// TestBrowser walks the everyday flow in a real, headless Chromium: the
// pages as a browser renders them, the cookie, the forms with their CSRF
// tokens, the redirects and the job page that reloads itself, all without
// JavaScript of ours. Each step leaves a PNG screenshot in the test's
// artifact directory (kept with go test -artifacts -outputdir DIR).
func TestBrowser(t *testing.T) {
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		t.Skipf("Chromium is not installed at %s (run scripts/chromium.sh ensure, or set CHROMIUM_PATH): %v", chrome, err)
	}
	h := newHarness(t)
	h.createInvoice(t, "inv_browser", 10000, true)
	shots := t.ArtifactDir()
	t.Logf("screenshots in %s", shots)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // root in a container has no user namespace for the sandbox
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// Canceling waits for the browser to exit, before t.TempDir is removed.
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// Start the browser with no deadline; each step gets its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}

	step := 0
	screenshot := func(t *testing.T, name string) {
		t.Helper()
		step++
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, name))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	within := func(d time.Duration) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }
	// navigate runs actions that load a page, and fails unless it loaded with
	// status 200.
	load := func(t *testing.T, status int64, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := within(20 * time.Second)
		defer cancel()
		res, err := chromedp.RunResponse(sctx, actions...)
		if err != nil {
			t.Fatalf("load page: %v", err)
		}
		if res.Status != status {
			t.Fatalf("page %s answered %d, want %d", res.URL, res.Status, status)
		}
	}
	navigate := func(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		load(t, 200, actions...)
	}
	text := func(t *testing.T, css string) string {
		t.Helper()
		sctx, cancel := within(10 * time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.TextContent(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("read %s: %v", css, err)
		}
		return strings.TrimSpace(s)
	}
	do := func(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := within(10 * time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatal(err)
		}
	}
	// jobDone waits, while the page reloads itself, until its job line says
	// the job succeeded.
	jobDone := func(t *testing.T, what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			sctx, cancel := within(2 * time.Second)
			line, err := chromedp.Run(sctx, chromedp.TextContent(chromedp.CSS("#job")))
			cancel()
			switch {
			case err == nil && strings.Contains(line, "failed"):
				t.Fatalf("job: %s", line)
			case err == nil && strings.Contains(line, what) && strings.Contains(line, ": succeeded"):
				return
			case time.Now().After(deadline):
				t.Fatalf("job line still %q (%v) after 30s", line, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	invoicePage := h.url + "/admin/ui/invoices/inv_browser"

	t.Run("an operator without a session is sent to the login form", func(t *testing.T) {
		navigate(t, chromedp.Navigate(invoicePage))
		if got := text(t, "h1"); got != "Log in" {
			t.Fatalf("page %q", got)
		}
		screenshot(t, "login")
	})

	t.Run("logging in leads to the invoice asked for", func(t *testing.T) {
		do(t, chromedp.SendKeys(chromedp.CSS("#token"), testToken))
		navigate(t, chromedp.Click(chromedp.CSS("#login")))
		if got := text(t, "#balance"); got != "100.00 USD" {
			t.Fatalf("balance %q", got)
		}
		screenshot(t, "invoice")
	})

	t.Run("a partial payment of 40.00 leaves a balance of 60.00", func(t *testing.T) {
		do(t, chromedp.SendKeys(chromedp.CSS("#amount-input"), "40.00"),
			chromedp.SendKeys(chromedp.CSS("#payment-notes"), "wire from acme"))
		navigate(t, chromedp.Click(chromedp.CSS("#record")))
		jobDone(t, "Record payment")
		if got := text(t, "#balance"); got != "60.00 USD" {
			t.Fatalf("balance %q", got)
		}
		if got := text(t, "#paid"); got != "40.00 USD" {
			t.Fatalf("paid %q", got)
		}
		screenshot(t, "partial-payment")
	})

	t.Run("an overpayment is refused in the page, with nothing recorded", func(t *testing.T) {
		do(t, chromedp.SendKeys(chromedp.CSS("#amount-input"), "70.00"))
		load(t, 422, chromedp.Click(chromedp.CSS("#record")))
		if got := text(t, "#error"); !strings.Contains(got, "more than the 60.00 USD still unpaid") || !strings.Contains(got, "Nothing was changed") {
			t.Fatalf("error %q", got)
		}
		if got := text(t, "#balance"); got != "60.00 USD" {
			t.Fatalf("balance %q", got)
		}
		screenshot(t, "overpayment-refused")
	})

	t.Run("the payment's X asks for a confirmation first", func(t *testing.T) {
		navigate(t, chromedp.Click(chromedp.CSS("#payments a.x")))
		if got := text(t, "h1"); got != "Delete payment of 40.00 USD?" {
			t.Fatalf("confirmation %q", got)
		}
		screenshot(t, "confirm-delete")
	})

	t.Run("confirming deletes the payment", func(t *testing.T) {
		navigate(t, chromedp.Click(chromedp.CSS("#confirm")))
		jobDone(t, "Delete payment")
		if got := text(t, "#balance"); got != "100.00 USD" {
			t.Fatalf("balance %q", got)
		}
		if got := text(t, "#payments"); !strings.Contains(got, "No payments") {
			t.Fatalf("payments %q", got)
		}
		screenshot(t, "payment-deleted")
	})

	t.Run("a credit note of 15.00 leaves a balance of 85.00", func(t *testing.T) {
		do(t, chromedp.SendKeys(chromedp.CSS("#credit-amount"), "15.00"),
			chromedp.SetValue(chromedp.CSS("#credit-reason"), "discount"),
			chromedp.SendKeys(chromedp.CSS("#credit-notes-text"), "loyal client"))
		navigate(t, chromedp.Click(chromedp.CSS("#credit")))
		jobDone(t, "Credit note")
		if got := text(t, "#balance"); got != "85.00 USD" {
			t.Fatalf("balance %q", got)
		}
		if got := text(t, "#credited"); got != "15.00 USD" {
			t.Fatalf("credited %q", got)
		}
		if got := text(t, "#credit-notes tbody"); !strings.Contains(got, "discount") || !strings.Contains(got, "loyal client") {
			t.Fatalf("credit notes %q", got)
		}
		screenshot(t, "credit-note")
	})

	t.Run("the credit note's reverse asks for a confirmation, then reverses it", func(t *testing.T) {
		navigate(t, chromedp.Click(chromedp.CSS("#credit-notes a.x")))
		if got := text(t, "h1"); got != "Reverse credit note of 15.00 USD?" {
			t.Fatalf("confirmation %q", got)
		}
		screenshot(t, "confirm-reverse")
		navigate(t, chromedp.Click(chromedp.CSS("#confirm")))
		jobDone(t, "Reverse credit note")
		if got := text(t, "#balance"); got != "100.00 USD" {
			t.Fatalf("balance %q", got)
		}
		if got := text(t, "#credit-notes"); !strings.Contains(got, "No credit notes") {
			t.Fatalf("credit notes %q", got)
		}
	})

	t.Run("the invoice is written off from More actions", func(t *testing.T) {
		do(t, chromedp.SendKeys(chromedp.CSS("#write-off-notes"), "client closed"))
		navigate(t, chromedp.Click(chromedp.CSS("#write-off")))
		jobDone(t, "Write-off")
		if got := text(t, "#state"); got != "written off" {
			t.Fatalf("state %q", got)
		}
		if got := text(t, "#written-off"); got != "100.00 USD" {
			t.Fatalf("written off %q", got)
		}
		screenshot(t, "written-off")
	})

	t.Run("the invoice is listed under All, Written-Off", func(t *testing.T) {
		navigate(t, chromedp.Navigate(h.url+"/admin/ui/invoices"))
		navigate(t, chromedp.Click(chromedp.CSS(`nav.tabs a[href$="tab=all"]`)))
		navigate(t, chromedp.Click(chromedp.CSS(`nav.filters a[href*="state=written_off"]`)))
		got := text(t, "#invoices tbody")
		if !strings.Contains(got, "F-inv_browser") || !strings.Contains(got, "written off") {
			t.Fatalf("listing %q", got)
		}
		screenshot(t, "written-off-list")
	})
}
