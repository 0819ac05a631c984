package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

// storeEvent stores a payment_intent.succeeded event of pi for invoiceID
// and marks it with r, as processing would have left it.
func (h *harness) storeEvent(t *testing.T, id, pi, invoiceID, currency string, amount int64, r reconcile.EventResult) {
	t.Helper()
	ctx := context.Background()
	payload, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": "payment_intent.succeeded", "api_version": "2023-10-16",
		"created": time.Now().Unix(), "livemode": false,
		"data": map[string]any{"object": map[string]any{
			"id": pi, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": currency,
			"status": "succeeded", "metadata": map[string]any{"invoice_id": invoiceID}}},
	})
	if _, err := h.store.StoreEvents(ctx, []reconcile.InboxEvent{{ID: id, Type: "payment_intent.succeeded",
		Created: time.Now(), Payload: payload}}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.MarkEvent(ctx, id, r); err != nil {
		t.Fatal(err)
	}
}

func TestNeedsAttention(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.createInvoice(t, "inv_at", 10000, true)
	h.storeEvent(t, "evt_stray", "pi_stray", "inv_nowhere", "usd", 1500,
		reconcile.EventResult{Status: reconcile.EventUnmatched, InvoiceID: "inv_nowhere", Reason: "no invoice inv_nowhere"})
	h.storeEvent(t, "evt_typo", "pi_typo", "inv_aat", "usd", 2500,
		reconcile.EventResult{Status: reconcile.EventUnmatched, InvoiceID: "inv_aat", Reason: "no invoice inv_aat"})
	h.storeEvent(t, "evt_euro", "pi_euro", "inv_at", "eur", 900,
		reconcile.EventResult{Status: reconcile.EventNeedsReview, InvoiceID: "inv_at", Reason: "payment in eur, invoice in usd"})
	h.storeEvent(t, "evt_broken", "pi_broken", "", "usd", 1,
		reconcile.EventResult{Status: reconcile.EventFailed, Reason: "malformed object"})
	if _, err := h.pool.Exec(ctx, `
		INSERT INTO discrepancies (id, kind, provider_ref, invoice_id, currency, ledger_amount, stripe_amount, detail, found_run, last_seen_run)
		VALUES ('dsc_amount', 'amount_mismatch', 'pi_short', 'inv_at', 'usd', 3000, 2950, 'the ledger recorded more', 'run_x', 'run_x'),
		       ('dsc_ledger', 'missing_in_ledger', 'pi_lost', NULL, 'jpy', NULL, 500, 'names no invoice', 'run_x', 'run_x')`); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pool.Exec(ctx, `INSERT INTO runs (id, is_full, status, finished_at, steps) VALUES ('run_cmp', true, 'succeeded', now(),
		'{"stripe_pull":{"skipped":"no STRIPE_API_KEY"},"stripe_compare":{"scope":"window","listed":120,"compared":118,"pulled":2,"found":3,"opened":1,"closed":4,"seconds":1.5}}')`); err != nil {
		t.Fatal(err)
	}
	b := h.loggedIn(t)

	t.Run("open discrepancies show both figures in major units, with the invoice linked", func(t *testing.T) {
		b.get("/admin/ui/events").must(t, http.StatusOK).mustContain(t, "Needs attention", "2 open",
			"amount mismatch", "$30.00", "$29.50", `href="/admin/ui/invoices/inv_at"`, "the ledger recorded more",
			"missing in ledger", "¥500", "pi_lost")
	})

	t.Run("each waiting event offers what the ledger would take", func(t *testing.T) {
		p := b.get("/admin/ui/events").must(t, http.StatusOK)
		for action, want := range map[string]bool{
			"/admin/ui/events/evt_stray/ignore": true, "/admin/ui/events/evt_euro/ignore": true,
			"/admin/ui/events/evt_broken/ignore": false,
		} {
			if p.hasForm(action) != want {
				t.Errorf("form %s offered: %v, want %v", action, !want, want)
			}
		}
		p.mustContain(t, `action="/admin/ui/events/evt_stray/apply"`).mustNotContain(t, `action="/admin/ui/events/evt_euro/apply"`)
	})

	t.Run("the runs show the Stripe comparison's figures as fields", func(t *testing.T) {
		b.get("/admin/ui/events").must(t, http.StatusOK).mustContain(t, "Stripe comparison",
			"<dt>Stripe payments compared</dt><dd>118</dd>", "<dt>Discrepancies opened</dt><dd>1</dd>",
			"<dt>Discrepancies closed</dt><dd>4</dd>", "<dt>Payments pulled</dt><dd>2</dd>", "skipped: no STRIPE_API_KEY")
	})

	t.Run("a discrepancy is resolved with notes, by the admin", func(t *testing.T) {
		h.unchanged(t, "inv_at", func() {
			b.submit("/admin/ui/events", "/admin/ui/discrepancies/dsc_amount/resolve", url.Values{"notes": {" "}}).
				must(t, http.StatusBadRequest).mustContain(t, "notes", "Nothing was changed")
		})
		loc := b.submit("/admin/ui/events", "/admin/ui/discrepancies/dsc_amount/resolve", url.Values{"notes": {"fee taken at source"}}).
			mustRedirect(t, "/admin/ui/events?resolved=dsc_amount")
		b.get(loc).must(t, http.StatusOK).mustContain(t, "Discrepancy dsc_amount resolved", "1 open").mustNotContain(t, "pi_short")
		d, err := h.store.GetDiscrepancy(ctx, "dsc_amount")
		if err != nil || d.Status != reconcile.DiscrepancyResolved || *d.Actor != "admin" || d.ResolutionNotes != "fee taken at source" {
			t.Fatalf("discrepancy %+v, %v", d, err)
		}
		csrf := b.get("/admin/ui/events").form(t, "/admin/ui/discrepancies/dsc_ledger/resolve").Get("csrf")
		b.post("/admin/ui/discrepancies/dsc_amount/resolve", url.Values{"csrf": {csrf}, "notes": {"again"}}).
			must(t, http.StatusConflict).mustContain(t, "already resolved")
	})

	t.Run("an event is ignored with notes, and the page follows its job", func(t *testing.T) {
		loc := b.submit("/admin/ui/events", "/admin/ui/events/evt_stray/ignore", url.Values{"notes": {"a test payment"}}).
			mustRedirect(t, "/admin/ui/events?job=")
		job := h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		if job.Type != reconcile.JobEventIgnore {
			t.Fatalf("job %+v", job)
		}
		b.get(loc).must(t, http.StatusOK).mustContain(t, "Ignore event", "succeeded").mustNotContain(t, "evt_stray")
		ev, err := h.store.GetEvent(ctx, "evt_stray")
		if err != nil || ev.Status != reconcile.EventIgnored || ev.Resolution == nil || ev.Resolution.Notes != "a test payment" {
			t.Fatalf("event %+v, %v", ev, err)
		}
	})

	t.Run("applying an event asks first, then pays the invoice, whose page follows the job", func(t *testing.T) {
		b.get("/admin/ui/events/evt_typo/apply?invoice_id=inv_none").must(t, http.StatusNotFound).mustContain(t, "inv_none")
		b.get("/admin/ui/events/evt_euro/apply?invoice_id=inv_at").must(t, http.StatusConflict)
		confirm := "/admin/ui/events/evt_typo/apply?invoice_id=inv_at"
		b.get(confirm).must(t, http.StatusOK).mustContain(t, "Apply event evt_typo to invoice F-inv_at?", "$100.00")
		loc := b.submit(confirm, "/admin/ui/events/evt_typo/apply", url.Values{"notes": {"invoice id mistyped"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_at?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		d := h.invoice(t, "inv_at")
		if d.PaidAmount != 2500 || len(d.Payments) != 1 || d.History[len(d.History)-1].Kind != reconcile.HistoryEventResolved {
			t.Fatalf("invoice %+v", d)
		}
		b.get(loc).must(t, http.StatusOK).mustContain(t, "Apply event", "succeeded", "$75.00", "Event applied by hand")
	})
}
