package admin_test

import (
	"net/http"
	"testing"

	"github.com/payrecon/reconciler/admin"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.api.Handle("GET /admin/extra", func(w http.ResponseWriter, _ *http.Request) {
		h.api.WriteJSON(w, http.StatusOK, map[string]bool{"extra": true})
	})

	t.Run("an API without a token answers 503 to everyone", func(t *testing.T) {
		closed := newHarness(t, func(c *admin.Config) { c.Token = "" })
		closed.in(t).do("GET", "/admin/invoices", nil).mustError(t, http.StatusServiceUnavailable, "admin_not_configured")
		closed.in(t).doAuth("GET", "/admin/invoices", nil).mustError(t, http.StatusServiceUnavailable, "admin_not_configured")
		closed.in(t).doAuth("GET", "/admin/invoices", nil, "Authorization", "Bearer ").
			mustError(t, http.StatusServiceUnavailable, "admin_not_configured")
	})

	for _, c := range []struct{ name, header string }{
		{"a request without Authorization is 401", ""},
		{"a wrong token is 401", "Bearer not-the-token"},
		{"a token with a suffix is 401", "Bearer " + testToken + "x"},
		{"a prefix of the token is 401", "Bearer " + testToken[:5]},
		{"the token under another scheme is 401", "Basic " + testToken},
		{"an empty bearer token is 401", "Bearer "},
	} {
		t.Run(c.name, func(t *testing.T) {
			var headers []string
			if c.header != "" {
				headers = []string{"Authorization", c.header}
			}
			res := h.in(t).doAuth("GET", "/admin/invoices", nil, headers...)
			res.mustError(t, http.StatusUnauthorized, "unauthorized")
			if got := res.header.Get("WWW-Authenticate"); got == "" || got[:6] != "Bearer" {
				t.Fatalf("WWW-Authenticate %q, want a Bearer challenge", got)
			}
		})
	}

	t.Run("the right token is 200", func(t *testing.T) {
		h.in(t).do("GET", "/admin/invoices", nil).must(t, http.StatusOK, nil)
		h.in(t).doAuth("GET", "/admin/invoices", nil, "Authorization", "bearer "+testToken).must(t, http.StatusOK, nil)
	})

	t.Run("a route added with Handle is behind the same token", func(t *testing.T) {
		h.in(t).doAuth("GET", "/admin/extra", nil).mustError(t, http.StatusUnauthorized, "unauthorized")
		var got map[string]bool
		h.in(t).do("GET", "/admin/extra", nil).must(t, http.StatusOK, &got)
		if !got["extra"] {
			t.Fatalf("got %v", got)
		}
	})

	t.Run("an unknown path asks for the token before it is 404", func(t *testing.T) {
		h.in(t).doAuth("GET", "/admin/nowhere", nil).mustError(t, http.StatusUnauthorized, "unauthorized")
		h.in(t).do("GET", "/admin/nowhere", nil).mustError(t, http.StatusNotFound, "not_found")
	})

	t.Run("a wrong method is a JSON 405 with Allow", func(t *testing.T) {
		res := h.in(t).do("PUT", "/admin/invoices", nil)
		res.mustError(t, http.StatusMethodNotAllowed, "method_not_allowed")
		if res.header.Get("Allow") == "" {
			t.Fatal("405 without Allow")
		}
	})
}
