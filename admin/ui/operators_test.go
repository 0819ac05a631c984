package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/admin/ui"
	"github.com/payrecon/reconciler/internal/operators"
)

// newOperator adds an operator and returns its key.
func (h *harness) newOperator(t *testing.T, name string, role operators.Role) string {
	t.Helper()
	_, key, err := h.operators.Create(context.Background(), name, role, "admin")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// loggedInAs is a browser with a session of the operator of key.
func (h *harness) loggedInAs(t *testing.T, key string) *browser {
	t.Helper()
	b := h.browser(t)
	b.post("/admin/ui/login", url.Values{"token": {key}}).mustRedirect(t, "/admin/ui/invoices")
	return b
}

func TestOperatorSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createInvoice(t, "inv_ops", 10000, true)

	t.Run("an operator logs in with its own key and is named on every page", func(t *testing.T) {
		b := h.loggedInAs(t, h.newOperator(t, "olivia", operators.RoleOperator))
		b.get("/admin/ui/invoices").must(t, http.StatusOK).mustContain(t, "olivia", "operator", "Log out")
	})

	t.Run("a viewer is offered no action, and one posted is refused with 403 and changes nothing", func(t *testing.T) {
		b := h.loggedInAs(t, h.newOperator(t, "victor", operators.RoleViewer))
		p := b.get("/admin/ui/invoices/inv_ops").must(t, http.StatusOK)
		for _, action := range []string{"/admin/ui/invoices/inv_ops/payments", "/admin/ui/invoices/inv_ops/write-off"} {
			if p.hasForm(action) {
				t.Fatalf("a viewer is offered %s", action)
			}
		}
		// The form of an operator's page, posted with the viewer's session.
		form := p.form(t, "/admin/ui/logout")
		form.Set("amount", "10.00")
		form.Set("form_key", "0123456789abcdef0123456789abcdef")
		h.unchanged(t, "inv_ops", func() {
			b.post("/admin/ui/invoices/inv_ops/payments", form).must(t, http.StatusForbidden).
				mustContain(t, "Not allowed for your role", "Nothing was changed")
		})
	})

	t.Run("an operator's payment carries its name into the history, to the second", func(t *testing.T) {
		b := h.loggedInAs(t, h.newOperator(t, "pat", operators.RoleOperator))
		loc := b.submit("/admin/ui/invoices/inv_ops", "/admin/ui/invoices/inv_ops/payments", url.Values{"amount": {"25.00"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_ops?job=")
		job := h.waitJob(t, jobOf(t, loc), "succeeded")
		if job.Actor != "pat" {
			t.Fatalf("job actor %q, want pat", job.Actor)
		}
		d := h.invoice(t, "inv_ops")
		last := d.History[len(d.History)-1]
		page := b.get("/admin/ui/invoices/inv_ops").must(t, http.StatusOK)
		page.mustContain(t, "payment recorded", "pat", last.At.UTC().Format("2006-01-02 15:04:05"))
	})

	t.Run("logging out ends the session on the server: the old cookie opens nothing", func(t *testing.T) {
		b := h.loggedIn(t)
		cookies := b.http.Jar.Cookies(mustURL(t, h.url+"/admin/ui/"))
		form := b.get("/admin/ui/invoices").must(t, http.StatusOK).form(t, "/admin/ui/logout")
		b.post("/admin/ui/logout", form).mustRedirect(t, "/admin/ui/login")
		req, _ := http.NewRequest("GET", h.url+"/admin/ui/invoices", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		h.browser(t).do(req).mustRedirect(t, "/admin/ui/login")
	})
}

func TestRevocationEndsConsoleAndAPIAccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	key := h.newOperator(t, "rory", operators.RoleOperator)
	b := h.loggedInAs(t, key)
	b.get("/admin/ui/invoices").must(t, http.StatusOK)
	api := func() int {
		req, _ := http.NewRequest("GET", h.url+"/admin/invoices", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		return h.browser(t).do(req).status
	}
	if s := api(); s != http.StatusOK {
		t.Fatalf("API with the key before revocation: %d", s)
	}

	list, err := h.operators.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("DELETE", h.url+"/admin/operators/"+list[0].ID, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	h.browser(t).do(req).must(t, http.StatusNoContent)

	t.Run("the console session ends at once", func(t *testing.T) {
		b.get("/admin/ui/invoices").mustRedirect(t, "/admin/ui/login")
	})
	t.Run("the key is refused by the API at once", func(t *testing.T) {
		if s := api(); s != http.StatusUnauthorized {
			t.Fatalf("API with a revoked key: %d", s)
		}
	})
	t.Run("the key no longer logs in", func(t *testing.T) {
		h.browser(t).post("/admin/ui/login", url.Values{"token": {key}}).must(t, http.StatusUnauthorized)
	})
}

func TestLoginLimits(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := &now
	h := newHarness(t, func(c *ui.Config) {
		c.LoginBurst, c.LoginEvery = 3, time.Minute
		c.Now = func() time.Time { return *clock }
	})
	// post sends a login form from an address, straight to the handler, so
	// that the test chooses the address.
	post := func(addr, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/admin/ui/login", strings.NewReader(url.Values{"token": {key}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = addr + ":40000"
		w := httptest.NewRecorder()
		h.ui.ServeHTTP(w, req)
		return w
	}

	t.Run("past the burst, an address is told to wait, even with the right token", func(t *testing.T) {
		for i := range 3 {
			if w := post("192.0.2.1", "guess-"+itoa(i)); w.Code != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d", i, w.Code)
			}
		}
		w := post("192.0.2.1", testToken)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
			t.Fatalf("after the burst: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
		if strings.Contains(w.Header().Get("Set-Cookie"), ui.CookieName+"=") && !strings.Contains(w.Header().Get("Set-Cookie"), ui.CookieName+"=;") {
			t.Fatal("a refused attempt set a session cookie")
		}
	})

	t.Run("another address is not held up by it", func(t *testing.T) {
		if w := post("192.0.2.2", testToken); w.Code != http.StatusSeeOther {
			t.Fatalf("another address: %d", w.Code)
		}
	})

	t.Run("one key tried from many addresses is held up too", func(t *testing.T) {
		for i := range 3 {
			post("198.51.100."+itoa(10+i), "the-same-guess")
		}
		if w := post("198.51.100.99", "the-same-guess"); w.Code != http.StatusTooManyRequests {
			t.Fatalf("the key's fourth attempt: %d", w.Code)
		}
	})

	t.Run("once the bucket refills, the address may log in again", func(t *testing.T) {
		later := now.Add(3 * time.Minute)
		clock = &later
		if w := post("192.0.2.1", testToken); w.Code != http.StatusSeeOther {
			t.Fatalf("after the wait: %d", w.Code)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
