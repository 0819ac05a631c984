package admin_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/payrecon/reconciler/reconcile"
)

func TestInvoices(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()

	t.Run("creating an invoice answers 201 with a draft of exact amounts", func(t *testing.T) {
		h := h.in(t)
		res := h.do("POST", "/admin/invoices", `{"id":"inv-1","number":"F-1","client":"acme","currency":"usd",
			"amount":12345,"issue_date":"2024-03-01","due_date":"2024-03-31","stripe_invoice_id":"in_1"}`)
		var inv reconcile.Invoice
		res.must(t, http.StatusCreated, &inv)
		if inv.ID != "inv-1" || inv.Number != "F-1" || inv.Client != "acme" || inv.Currency != "usd" {
			t.Fatalf("invoice %+v", inv)
		}
		if got := figuresOf(inv); got != (figures{0, 0, 12345, reconcile.StateDraft}) || inv.Amount != 12345 {
			t.Fatalf("amount %d, figures %+v", inv.Amount, got)
		}
		if inv.IssueDate.String() != "2024-03-01" || inv.DueDate.String() != "2024-03-31" || *inv.StripeInvoiceID != "in_1" {
			t.Fatalf("dates %v %v, stripe id %v", inv.IssueDate, inv.DueDate, inv.StripeInvoiceID)
		}
		if loc := res.header.Get("Location"); loc != "/admin/invoices/inv-1" {
			t.Fatalf("Location %q", loc)
		}
	})

	t.Run("an invoice without an id gets one from the server", func(t *testing.T) {
		var inv reconcile.Invoice
		h.in(t).do("POST", "/admin/invoices", map[string]any{"number": "F-2", "client": "acme", "currency": "eur", "amount": 500}).
			must(t, http.StatusCreated, &inv)
		if !strings.HasPrefix(inv.ID, "inv_") {
			t.Fatalf("id %q", inv.ID)
		}
	})

	t.Run("creating an invoice whose id exists is 409 and changes nothing", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-1", func() {
			h.do("POST", "/admin/invoices", map[string]any{"id": "inv-1", "number": "F-9", "client": "other", "currency": "usd", "amount": 1}).
				mustError(t, http.StatusConflict, "invoice_exists")
		})
	})

	t.Run("getting an invoice shows its payments and history, empty lists as []", func(t *testing.T) {
		h := h.in(t)
		res := h.do("GET", "/admin/invoices/inv-1", nil)
		var d reconcile.InvoiceDetail
		res.must(t, http.StatusOK, &d)
		if !bytes.Contains(res.body, []byte(`"payments":[]`)) {
			t.Fatalf("payments not []: %s", res.body)
		}
		if len(d.History) != 1 || d.History[0].Kind != reconcile.HistoryCreated || *d.History[0].Amount != 12345 {
			t.Fatalf("history %+v", d.History)
		}
	})

	t.Run("getting an unknown invoice is 404", func(t *testing.T) {
		h.in(t).do("GET", "/admin/invoices/nope", nil).mustError(t, http.StatusNotFound, "invoice_not_found")
	})

	t.Run("sending answers 200 with the open invoice, and sending again changes nothing", func(t *testing.T) {
		h := h.in(t)
		var first, again reconcile.Invoice
		h.do("POST", "/admin/invoices/inv-1/send", nil).must(t, http.StatusOK, &first)
		if first.State != reconcile.StateOpen || first.SentAt == nil || first.Balance != 12345 {
			t.Fatalf("sent invoice %+v", first)
		}
		h.unchanged("inv-1", func() {
			h.do("POST", "/admin/invoices/inv-1/send", nil).must(t, http.StatusOK, &again)
		})
		if !again.SentAt.Equal(*first.SentAt) {
			t.Fatalf("sent_at moved from %v to %v", first.SentAt, again.SentAt)
		}
	})

	t.Run("sending an unknown invoice is 404", func(t *testing.T) {
		h.in(t).do("POST", "/admin/invoices/nope/send", nil).mustError(t, http.StatusNotFound, "invoice_not_found")
	})

	t.Run("deleting an invoice with a payment is 409 and changes nothing", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-paid", 1000, true)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-paid/payments", `{"amount": 400}`).ID)
		h.unchanged("inv-paid", func() {
			h.do("DELETE", "/admin/invoices/inv-paid", nil).mustError(t, http.StatusConflict, "invoice_has_money")
		})
	})

	t.Run("deleting an invoice without money is 204 and it leaves every listing", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-gone", 700, true)
		res := h.do("DELETE", "/admin/invoices/inv-gone", nil)
		if res.status != http.StatusNoContent || len(res.body) != 0 {
			t.Fatalf("delete: %d %s", res.status, res.body)
		}
		h.do("GET", "/admin/invoices/inv-gone", nil).mustError(t, http.StatusNotFound, "invoice_not_found")
		for _, inv := range h.list("").Invoices {
			if inv.ID == "inv-gone" {
				t.Fatal("deleted invoice still listed")
			}
		}
		h.do("DELETE", "/admin/invoices/inv-gone", nil).mustError(t, http.StatusNotFound, "invoice_not_found")
	})

	t.Run("listing filters by state and client and pages with a cursor", func(t *testing.T) {
		h := h.in(t)
		for _, id := range []string{"pg-1", "pg-2", "pg-3"} {
			var inv reconcile.Invoice
			h.do("POST", "/admin/invoices", map[string]any{"id": id, "number": id, "client": "pager", "currency": "usd", "amount": 100}).
				must(t, http.StatusCreated, &inv)
		}
		first := h.list("client=pager&limit=2")
		if len(first.Invoices) != 2 || first.NextCursor == "" {
			t.Fatalf("first page %+v", first)
		}
		second := h.list("client=pager&limit=2&cursor=" + url.QueryEscape(first.NextCursor))
		if len(second.Invoices) != 1 || second.NextCursor != "" {
			t.Fatalf("second page %+v", second)
		}
		seen := map[string]bool{}
		for _, inv := range append(first.Invoices, second.Invoices...) {
			seen[inv.ID] = true
		}
		if len(seen) != 3 {
			t.Fatalf("pages held %v", seen)
		}
		for _, inv := range h.list("state=open").Invoices {
			if inv.State != reconcile.StateOpen {
				t.Fatalf("state=open listed %s", inv.State)
			}
		}
		if got := h.list("state=draft&client=pager").Invoices; len(got) != 3 {
			t.Fatalf("draft pager invoices: %d", len(got))
		}
		if got := h.list("limit=100000").Invoices; len(got) == 0 || len(got) > reconcile.MaxPageSize {
			t.Fatalf("a limit past the cap listed %d", len(got))
		}
	})

	t.Run("an empty listing is [] with no cursor", func(t *testing.T) {
		res := h.in(t).do("GET", "/admin/invoices?client=nobody", nil)
		res.must(t, http.StatusOK, nil)
		if !bytes.Contains(res.body, []byte(`"invoices":[]`)) || !bytes.Contains(res.body, []byte(`"next_cursor":""`)) {
			t.Fatalf("body %s", res.body)
		}
	})

	for _, c := range []struct{ query, code, field string }{
		{"limit=abc", "invalid_limit", "limit"},
		{"limit=0", "invalid_limit", "limit"},
		{"limit=-5", "invalid_limit", "limit"},
		{"limit=2.5", "invalid_limit", "limit"},
		{"state=lost", "invalid_state", "state"},
		{"cursor=not-a-cursor", "invalid_cursor", "cursor"},
	} {
		t.Run("listing with "+c.query+" is 400", func(t *testing.T) {
			msg := h.in(t).do("GET", "/admin/invoices?"+c.query, nil).mustError(t, http.StatusBadRequest, c.code)
			if !strings.Contains(msg, c.field) {
				t.Fatalf("message %q does not name %s", msg, c.field)
			}
		})
	}
}

// list reads one page of GET /admin/invoices?query.
func (h *harness) list(query string) reconcile.InvoicePage {
	h.t.Helper()
	var p reconcile.InvoicePage
	h.do("GET", "/admin/invoices?"+query, nil).must(h.t, http.StatusOK, &p)
	return p
}
