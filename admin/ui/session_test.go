package ui_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/admin/ui"
	"github.com/payrecon/reconciler/internal/operators"
)

func TestLogin(t *testing.T) {
	h := newHarness(t)

	t.Run("the right token sets a strict, HttpOnly session cookie for the console and the queue dashboard", func(t *testing.T) {
		b := h.browser(t)
		res := b.post("/admin/ui/login", url.Values{"token": {testToken}})
		res.mustRedirect(t, "/admin/ui/invoices")
		c := sessionCookie(t, res)
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin" || c.Secure {
			t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin, not Secure over http", c)
		}
		if c.MaxAge != int((12 * time.Hour).Seconds()) {
			t.Fatalf("cookie lasts %ds, want 12h", c.MaxAge)
		}
		b.get("/admin/ui/invoices").must(t, http.StatusOK).mustContain(t, "Invoices", "Log out")
	})

	t.Run("the cookie is Secure when the browser came over https through a proxy", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/admin/ui/login", strings.NewReader(url.Values{"token": {testToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-Proto", "https")
		rec := httptest.NewRecorder()
		h.ui.ServeHTTP(rec, req)
		if c := sessionCookie(t, page{status: rec.Code, header: rec.Header()}); !c.Secure {
			t.Fatalf("cookie %+v is not Secure", c)
		}
	})

	t.Run("a wrong token shows the form again with an error and 401", func(t *testing.T) {
		b := h.browser(t)
		res := b.post("/admin/ui/login", url.Values{"token": {"guess"}})
		res.must(t, http.StatusUnauthorized).mustContain(t, "Wrong token", `name="token"`)
		if c := res.header.Get("Set-Cookie"); c != "" {
			t.Fatalf("a wrong token set a cookie: %s", c)
		}
	})

	t.Run("after login the operator lands on the page asked for first", func(t *testing.T) {
		b := h.browser(t)
		loc := b.get("/admin/ui/events").mustRedirect(t, "/admin/ui/login?next=")
		next, _ := url.Parse(loc)
		res := b.post("/admin/ui/login", url.Values{"token": {testToken}, "next": {next.Query().Get("next")}})
		res.mustRedirect(t, "/admin/ui/events")
	})

	t.Run("a next page outside the console is not followed", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/admin/ui/", "/admin/invoices", "/admin/ui/../../x"} {
			res := h.browser(t).post("/admin/ui/login", url.Values{"token": {testToken}, "next": {next}})
			if loc := res.mustRedirect(t, "/admin/ui/"); loc != "/admin/ui/invoices" {
				t.Fatalf("next %q led to %q", next, loc)
			}
		}
	})

	t.Run("a login posted from another site is refused", func(t *testing.T) {
		res := h.browser(t).post("/admin/ui/login", url.Values{"token": {testToken}}, "Origin", "https://evil.example")
		res.must(t, http.StatusForbidden)
		if res.header.Get("Set-Cookie") != "" {
			t.Fatal("a cross-site login set a cookie")
		}
	})

	t.Run("logout drops the session", func(t *testing.T) {
		b := h.loggedIn(t)
		form := b.get("/admin/ui/invoices").must(t, http.StatusOK).form(t, "/admin/ui/logout")
		b.post("/admin/ui/logout", form).mustRedirect(t, "/admin/ui/login")
		b.get("/admin/ui/invoices").mustRedirect(t, "/admin/ui/login")
	})

	t.Run("logout without the CSRF token is refused", func(t *testing.T) {
		b := h.loggedIn(t)
		b.post("/admin/ui/logout", url.Values{}).must(t, http.StatusForbidden)
		b.get("/admin/ui/invoices").must(t, http.StatusOK)
	})
}

func TestSession(t *testing.T) {
	h := newHarness(t)
	pages := []string{"/admin/ui/", "/admin/ui/invoices", "/admin/ui/invoices?tab=all", "/admin/ui/invoices/inv_x",
		"/admin/ui/invoices/inv_x/payments/pay_x/delete", "/admin/ui/events"}

	t.Run("pages without a cookie redirect to the login form", func(t *testing.T) {
		b := h.browser(t)
		for _, p := range pages {
			loc := b.get(p).mustRedirect(t, "/admin/ui/login?next=")
			if u, _ := url.Parse(loc); u.Query().Get("next") != p {
				t.Fatalf("%s: next is %q", p, u.Query().Get("next"))
			}
		}
		b.get("/admin/ui/login").must(t, http.StatusOK).mustContain(t, "Admin token")
	})

	t.Run("a forged or tampered cookie is no session", func(t *testing.T) {
		good := sessionCookie(t, h.browser(t).post("/admin/ui/login", url.Values{"token": {testToken}}))
		exp, rest, _ := strings.Cut(good.Value, ".")
		for _, value := range []string{"", "x", "4102444800.00.sig", "9" + exp[1:] + "." + rest, good.Value + "x"} {
			req, _ := http.NewRequest("GET", h.url+"/admin/ui/invoices", nil)
			req.AddCookie(&http.Cookie{Name: ui.CookieName, Value: value})
			h.browser(t).do(req).mustRedirect(t, "/admin/ui/login")
		}
	})

	t.Run("a session ends after 12 hours", func(t *testing.T) {
		now := time.Now()
		clock := &now
		h2 := newHarness(t, func(c *ui.Config) { c.Now = func() time.Time { return *clock } })
		b := h2.loggedIn(t)
		b.get("/admin/ui/invoices").must(t, http.StatusOK)
		later := now.Add(12*time.Hour + time.Second)
		clock = &later
		b.get("/admin/ui/invoices").mustRedirect(t, "/admin/ui/login")
	})

	t.Run("a session made with another token is no session", func(t *testing.T) {
		other := newHarness(t, func(c *ui.Config) { c.Token = "another-token" })
		res := other.browser(t).post("/admin/ui/login", url.Values{"token": {"another-token"}})
		c := sessionCookie(t, res)
		req, _ := http.NewRequest("GET", h.url+"/admin/ui/invoices", nil)
		req.AddCookie(c)
		h.browser(t).do(req).mustRedirect(t, "/admin/ui/login")
	})

	t.Run("the session cookie does not open the JSON API, nor the token the console", func(t *testing.T) {
		b := h.loggedIn(t)
		req, _ := http.NewRequest("GET", h.url+"/admin/invoices", nil)
		for _, c := range b.http.Jar.Cookies(mustURL(t, h.url+"/admin/ui/")) {
			req.AddCookie(c)
		}
		if res := b.do(req); res.status != http.StatusUnauthorized {
			t.Fatalf("JSON API with the cookie: %d", res.status)
		}
		req, _ = http.NewRequest("GET", h.url+"/admin/ui/invoices", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		h.browser(t).do(req).mustRedirect(t, "/admin/ui/login")
	})

	t.Run("pages carry headers that keep them out of frames and caches", func(t *testing.T) {
		res := h.loggedIn(t).get("/admin/ui/invoices").must(t, http.StatusOK)
		for name, want := range map[string]string{
			"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
			"Content-Type": "text/html; charset=utf-8",
		} {
			if got := res.header.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
		if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
	})

	t.Run("the style sheet is served without a session", func(t *testing.T) {
		res := h.browser(t).get("/admin/ui/static/console.css").must(t, http.StatusOK)
		if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
			t.Fatalf("Content-Type %q", ct)
		}
	})

	t.Run("an unknown console path is a 404 page", func(t *testing.T) {
		h.loggedIn(t).get("/admin/ui/nope").must(t, http.StatusNotFound).mustContain(t, "Not found")
	})
}

func TestNoToken(t *testing.T) {
	h := newHarness(t, func(c *ui.Config) { c.Token = "" })

	t.Run("every page answers 503 when no admin token is configured", func(t *testing.T) {
		b := h.browser(t)
		for _, p := range []string{"/admin/ui/login", "/admin/ui/invoices", "/admin/ui/"} {
			b.get(p).must(t, http.StatusServiceUnavailable).mustContain(t, "ADMIN_TOKEN")
		}
	})

	t.Run("logging in with an empty token is refused", func(t *testing.T) {
		res := h.browser(t).post("/admin/ui/login", url.Values{"token": {""}})
		res.must(t, http.StatusServiceUnavailable)
		if res.header.Get("Set-Cookie") != "" {
			t.Fatal("a login without a configured token set a cookie")
		}
	})
}

func sessionCookie(t *testing.T, p page) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == ui.CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", ui.CookieName, p.header)
	return nil
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestProtect(t *testing.T) {
	t.Parallel()
	// Server-side sessions need the operators store: the harness has one.
	h := newHarness(t)
	inner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	protected := h.ui.Protect(inner)
	serve := func(req *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		protected.ServeHTTP(w, req)
		return w
	}
	loginAs := func(t *testing.T, key string) *http.Cookie {
		t.Helper()
		return sessionCookie(t, h.browser(t).post("/admin/ui/login", url.Values{"token": {key}}))
	}

	t.Run("without a session a page goes to the login form and a write is refused", func(t *testing.T) {
		w := serve(httptest.NewRequest(http.MethodGet, "/admin/queues/", nil))
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/ui/login?next=%2Fadmin%2Fqueues%2F" {
			t.Fatalf("%d to %q", w.Code, w.Header().Get("Location"))
		}
		w = serve(httptest.NewRequest(http.MethodPost, "/admin/queues/api/queues/events:pause", nil))
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("write without a session: %d", w.Code)
		}
	})
	t.Run("with a session a page is served and a cross-site write is refused", func(t *testing.T) {
		cookie := loginAs(t, testToken)
		get := httptest.NewRequest(http.MethodGet, "/admin/queues/", nil)
		get.AddCookie(cookie)
		if w := serve(get); w.Code != http.StatusTeapot {
			t.Fatalf("page with a session: %d", w.Code)
		}
		post := httptest.NewRequest(http.MethodPost, "/admin/queues/api/queues/events:pause", nil)
		post.Host = "example.com"
		post.Header.Set("Origin", "https://evil.example")
		post.AddCookie(cookie)
		if w := serve(post); w.Code != http.StatusForbidden {
			t.Fatalf("cross-site write: %d", w.Code)
		}
	})
	t.Run("a viewer may look at the dashboard but not change it, and an admin may", func(t *testing.T) {
		viewer := loginAs(t, h.newOperator(t, "dash-viewer", operators.RoleViewer))
		get := httptest.NewRequest(http.MethodGet, "/admin/queues/", nil)
		get.AddCookie(viewer)
		if w := serve(get); w.Code != http.StatusTeapot {
			t.Fatalf("a viewer's page: %d", w.Code)
		}
		post := httptest.NewRequest(http.MethodPost, "/admin/queues/api/queues/events:pause", nil)
		post.AddCookie(viewer)
		if w := serve(post); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "forbidden_role") {
			t.Fatalf("a viewer's write: %d %s", w.Code, w.Body)
		}
		post = httptest.NewRequest(http.MethodPost, "/admin/queues/api/queues/events:pause", nil)
		post.AddCookie(loginAs(t, testToken))
		if w := serve(post); w.Code != http.StatusTeapot {
			t.Fatalf("an admin's write: %d", w.Code)
		}
	})
	t.Run("the dashboard carries the console's frame-denying headers, with or without a session", func(t *testing.T) {
		for _, w := range []*httptest.ResponseRecorder{
			serve(httptest.NewRequest(http.MethodGet, "/admin/queues/", nil)),
			func() *httptest.ResponseRecorder {
				get := httptest.NewRequest(http.MethodGet, "/admin/queues/", nil)
				get.AddCookie(loginAs(t, testToken))
				return serve(get)
			}(),
		} {
			if got := w.Header().Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options %q", got)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
		}
	})
}
