package ui_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/payrecon/reconciler/admin/ui"
	"github.com/payrecon/reconciler/reconcile"
)

var invoiceLink = regexp.MustCompile(`href="/admin/ui/invoices/(inv_[A-Za-z0-9_]+)"`)

// listed are the invoices a listing page links to, in order.
func (p page) listed() []string {
	var ids []string
	for _, m := range invoiceLink.FindAllStringSubmatch(p.body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestInvoiceListing(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.createInvoice(t, "inv_draft", 10000, false)
	h.createInvoice(t, "inv_open", 10000, true)
	h.createInvoice(t, "inv_partial", 10000, true)
	h.createInvoice(t, "inv_paid", 10000, true)
	h.createInvoice(t, "inv_written", 10000, true)
	today := reconcile.DateOf(time.Now())
	for id, amount := range map[string]reconcile.Amount{"inv_partial": 2500, "inv_paid": 10000} {
		if _, _, err := h.store.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: "k_" + id, InvoiceID: id, Amount: amount, PaidDate: today}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.store.WriteOff(ctx, reconcile.Op{Key: "k_wo", Actor: "tester"}, "inv_written", "bad debt"); err != nil {
		t.Fatal(err)
	}
	b := h.loggedIn(t)

	tabs := []struct {
		name, path string
		want       []string
	}{
		{"the Open tab lists open and partial invoices", "/admin/ui/invoices?tab=open", []string{"inv_open", "inv_partial"}},
		{"the Open tab is the default", "/admin/ui/invoices", []string{"inv_open", "inv_partial"}},
		{"the Draft tab lists drafts", "/admin/ui/invoices?tab=draft", []string{"inv_draft"}},
		{"the All tab lists every invoice", "/admin/ui/invoices?tab=all",
			[]string{"inv_draft", "inv_open", "inv_paid", "inv_partial", "inv_written"}},
		{"All filtered by Partial lists partial invoices", "/admin/ui/invoices?tab=all&state=partial", []string{"inv_partial"}},
		{"All filtered by Paid lists paid invoices", "/admin/ui/invoices?tab=all&state=paid", []string{"inv_paid"}},
		{"All filtered by Written-Off lists written-off invoices", "/admin/ui/invoices?tab=all&state=written_off", []string{"inv_written"}},
	}
	for _, c := range tabs {
		t.Run(c.name, func(t *testing.T) {
			got := b.get(c.path).must(t, http.StatusOK).listed()
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Fatalf("listed %v, want %v", got, c.want)
			}
		})
	}

	t.Run("the All tab offers the Partial, Paid and Written-Off filters", func(t *testing.T) {
		b.get("/admin/ui/invoices?tab=all").must(t, http.StatusOK).mustContain(t,
			`href="/admin/ui/invoices?state=partial&tab=all"`, `href="/admin/ui/invoices?state=paid&tab=all"`,
			`href="/admin/ui/invoices?state=written_off&tab=all"`, ">Written-Off<")
	})

	t.Run("amounts show in major units, grouped by thousands, with the currency's sign", func(t *testing.T) {
		b.get("/admin/ui/invoices?tab=open").must(t, http.StatusOK).mustContain(t, "$100.00", "$25.00", "$75.00")
		for _, c := range []struct {
			currency string
			amount   reconcile.Amount
			want     string
		}{{"jpy", 500, "¥500"}, {"kwd", 1500, "1.500 KWD"}, {"eur", 123456, "€1,234.56"}} {
			id := "inv_" + c.currency
			if _, err := h.store.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: id, Number: "F-" + id, Client: "acme",
				Currency: c.currency, Amount: c.amount}); err != nil {
				t.Fatal(err)
			}
			b.get("/admin/ui/invoices/"+id).must(t, http.StatusOK).mustContain(t, c.want)
		}
	})

	t.Run("an unknown tab is a 404 page", func(t *testing.T) {
		b.get("/admin/ui/invoices?tab=nope").must(t, http.StatusNotFound)
	})

	t.Run("an unknown filter is a 400 page", func(t *testing.T) {
		b.get("/admin/ui/invoices?tab=all&state=lost").must(t, http.StatusBadRequest)
	})

	t.Run("an invoice that does not exist is a 404 page", func(t *testing.T) {
		b.get("/admin/ui/invoices/inv_nope").must(t, http.StatusNotFound).mustContain(t, "inv_nope")
	})

	t.Run("the invoice page shows amount, paid, written off, balance, state, payments and history", func(t *testing.T) {
		res := b.get("/admin/ui/invoices/inv_partial").must(t, http.StatusOK)
		res.mustContain(t, "Invoice F-inv_partial", ">partial<", "$100.00", "$25.00", "$75.00",
			"Record payment", "Payments", "History", "payment recorded", "sent", "created")
		b.get("/admin/ui/invoices/inv_written").must(t, http.StatusOK).mustContain(t, ">written off<", "bad debt", "Reopen")
	})
}

func TestInvoicePaging(t *testing.T) {
	h := newHarness(t, func(c *ui.Config) { c.PageSize = 2 })
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("inv_%02d", i)
		h.createInvoice(t, id, 1000, true)
		want = append([]string{id}, want...) // newest first
	}
	h.createInvoice(t, "inv_draft", 1000, false)
	b := h.loggedIn(t)

	t.Run("next_cursor pages through the tab, newest first, each invoice once", func(t *testing.T) {
		var got []string
		path := "/admin/ui/invoices?tab=open"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("more pages than invoices")
			}
			res := b.get(path).must(t, http.StatusOK)
			got = append(got, res.listed()...)
			if pages > 0 {
				res.mustContain(t, "First page")
			}
			m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(res.body)
			if m == nil {
				break
			}
			path = html.UnescapeString(m[1])
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged %v, want %v", got, want)
		}
	})

	t.Run("a cursor this server did not give is a 400 page", func(t *testing.T) {
		b.get("/admin/ui/invoices?tab=open&cursor=bogus").must(t, http.StatusBadRequest).mustContain(t, "cursor")
	})
}

func TestEventsPage(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.createInvoice(t, "inv_ev", 1000, true)
	events := map[string]reconcile.EventResult{
		"evt_unmatched": {Status: reconcile.EventUnmatched, Reason: "no invoice inv_later"},
		"evt_review":    {Status: reconcile.EventNeedsReview, InvoiceID: "inv_ev", Reason: "currency eur, invoice usd"},
		"evt_failed":    {Status: reconcile.EventFailed, Reason: "malformed object"},
		"evt_done":      {Status: reconcile.EventProcessed, InvoiceID: "inv_ev"},
	}
	for id, r := range events {
		if _, err := h.store.StoreEvents(ctx, []reconcile.InboxEvent{{ID: id, Type: "payment_intent.succeeded",
			Created: time.Now(), Payload: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		if err := h.store.MarkEvent(ctx, id, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.pool.Exec(ctx, `INSERT INTO runs (id, is_full, status, finished_at, steps, error)
		VALUES ('run_ok', false, 'succeeded', now(), '{"ledger":{"checked":3}}', ''),
		       ('run_bad', true, 'failed', now(), '{}', 'stripe pull: 401')`); err != nil {
		t.Fatal(err)
	}
	b := h.loggedIn(t)

	t.Run("events needing attention are listed, and processed ones are not", func(t *testing.T) {
		res := b.get("/admin/ui/events").must(t, http.StatusOK)
		res.mustContain(t, "evt_unmatched", "evt_review", "evt_failed", "no invoice inv_later", "currency eur, invoice usd",
			"malformed object", `href="/admin/ui/invoices/inv_ev"`, "1 unmatched, 1 needs review, 1 failed")
		res.mustNotContain(t, "evt_done")
	})

	t.Run("the last reconciliation runs are listed with their steps' figures and errors", func(t *testing.T) {
		b.get("/admin/ui/events").must(t, http.StatusOK).mustContain(t, "run_ok", "run_bad", "incremental", "full",
			"<dt>Invoices checked</dt><dd>3</dd>", "stripe pull: 401")
	})
}
