package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// paymentEvent is a payment_intent.succeeded event of pi for invoiceID.
func paymentEvent(id, pi, invoiceID, currency string, amount int64) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": "payment_intent.succeeded", "api_version": "2023-10-16",
		"created": time.Now().Unix(), "livemode": false,
		"data": map[string]any{"object": map[string]any{
			"id": pi, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": currency,
			"status": "succeeded", "metadata": map[string]any{"invoice_id": invoiceID}}},
	})
	return b
}

func refundEvent(id, pi string, amount int64) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": "charge.refunded", "api_version": "2023-10-16",
		"created": time.Now().Unix(), "livemode": false,
		"data": map[string]any{"object": map[string]any{
			"id": "ch_" + pi, "object": "charge", "payment_intent": pi, "amount": amount, "amount_refunded": amount,
			"currency": "usd", "refunded": true, "metadata": map[string]any{}}},
	})
	return b
}

// receive stores an event and runs the worker's processing of it, as its
// webhook and task would; it returns the event as processing left it.
func (h *harness) receive(id string, payload []byte) reconcile.Event {
	h.t.Helper()
	ctx := context.Background()
	if _, err := h.store.StoreEvents(ctx, []reconcile.InboxEvent{{ID: id, Type: "x", Created: time.Now(), Payload: payload}}); err != nil {
		h.t.Fatal(err)
	}
	task, _ := json.Marshal(worker.EventPayload{EventIDs: []string{id}})
	if err := h.handlers.ProcessEvent(ctx, asynq.NewTask(worker.TypeProcessEvent, task)); err != nil {
		h.t.Fatal(err)
	}
	ev, err := h.store.GetEvent(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return ev
}

// event reads an event as GET /admin/events lists it.
func (h *harness) event(id string, status reconcile.EventStatus) reconcile.Event {
	h.t.Helper()
	var page reconcile.EventPage
	h.do("GET", "/admin/events?status="+string(status), nil).must(h.t, http.StatusOK, &page)
	for _, e := range page.Events {
		if e.ID == id {
			return e
		}
	}
	h.t.Fatalf("event %s is not listed %s: %+v", id, status, page.Events)
	return reconcile.Event{}
}

func historyKinds(d reconcile.InvoiceDetail) []reconcile.HistoryKind {
	var out []reconcile.HistoryKind
	for _, e := range d.History {
		out = append(out, e.Kind)
	}
	return out
}

func TestResolveEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv_r", 5000, true)
	h.createInvoice("inv_review", 5000, true)

	if ev := h.receive("evt_stray", paymentEvent("evt_stray", "pi_stray", "inv_later", "usd", 1200)); ev.Status != reconcile.EventUnmatched {
		t.Fatalf("stray payment is %s", ev.Status)
	}
	if ev := h.receive("evt_typo", paymentEvent("evt_typo", "pi_typo", "inv_rr", "usd", 2000)); ev.Status != reconcile.EventUnmatched {
		t.Fatalf("mistyped payment is %s", ev.Status)
	}
	if ev := h.receive("evt_euro", paymentEvent("evt_euro", "pi_euro", "inv_review", "eur", 900)); ev.Status != reconcile.EventNeedsReview {
		t.Fatalf("euro payment is %s", ev.Status)
	}
	if ev := h.receive("evt_refund", refundEvent("evt_refund", "pi_unknown", 300)); ev.Status != reconcile.EventUnmatched {
		t.Fatalf("early refund is %s", ev.Status)
	}

	t.Run("an unmatched event ignored is ignored with its resolution, and no run matches it again", func(t *testing.T) {
		h := h.in(t)
		job := h.queue("POST", "/admin/events/evt_stray/resolve", map[string]any{"action": "ignore", "notes": "a test payment"})
		if job.Type != reconcile.JobEventIgnore {
			t.Fatalf("job %+v", job)
		}
		h.waitSucceeded(job.ID)
		ev := h.event("evt_stray", reconcile.EventIgnored)
		r := ev.Resolution
		if r == nil || r.Action != reconcile.ResolveIgnore || r.Notes != "a test payment" || r.Actor != "admin" || r.At.IsZero() {
			t.Fatalf("resolution %+v", r)
		}
		// Its invoice appears, and a run matches unmatched events again.
		h.createInvoice("inv_later", 5000, true)
		job = h.queue("POST", "/admin/reconcile?full=true", nil)
		h.waitSucceeded(job.ID)
		h.event("evt_stray", reconcile.EventIgnored)
		h.mustFigures("inv_later", figures{Paid: 0, Balance: 5000, State: reconcile.StateOpen})
	})

	t.Run("an unmatched payment applied to an invoice pays it, and its history says who", func(t *testing.T) {
		h := h.in(t)
		job := h.queue("POST", "/admin/events/evt_typo/resolve",
			map[string]any{"action": "apply", "invoice_id": "inv_r", "notes": "invoice id mistyped"}, "Idempotency-Key", "apply-typo")
		if job.Type != reconcile.JobEventApply || job.InvoiceID == nil || *job.InvoiceID != "inv_r" {
			t.Fatalf("job %+v", job)
		}
		h.waitSucceeded(job.ID)
		d := h.mustFigures("inv_r", figures{Paid: 2000, Balance: 3000, State: reconcile.StatePartial})
		last := d.History[len(d.History)-1]
		if len(d.Payments) != 1 || *d.Payments[0].ProviderRef != "pi_typo" || last.Kind != reconcile.HistoryEventResolved {
			t.Fatalf("payments %+v, history %v", d.Payments, historyKinds(d))
		}
		ev := h.event("evt_typo", reconcile.EventProcessed)
		if r := ev.Resolution; r == nil || r.Action != reconcile.ResolveApply || r.InvoiceID == nil || *r.InvoiceID != "inv_r" ||
			r.Actor != "admin" || r.Notes != "invoice id mistyped" {
			t.Fatalf("resolution %+v", r)
		}

		t.Run("the same key again returns the same job and applies nothing more", func(t *testing.T) {
			again := h.queue("POST", "/admin/events/evt_typo/resolve",
				map[string]any{"action": "apply", "invoice_id": "inv_r", "notes": "invoice id mistyped"}, "Idempotency-Key", "apply-typo")
			if again.ID != job.ID {
				t.Fatalf("replay made job %s, want %s", again.ID, job.ID)
			}
			h.mustFigures("inv_r", figures{Paid: 2000, Balance: 3000, State: reconcile.StatePartial})
			h.do("POST", "/admin/events/evt_typo/resolve", map[string]any{"action": "ignore"}, "Idempotency-Key", "apply-typo").
				mustError(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
		})
	})

	t.Run("an event kept for review can be ignored, with history on its invoice", func(t *testing.T) {
		h := h.in(t)
		h.do("POST", "/admin/events/evt_euro/resolve", map[string]any{"action": "apply", "invoice_id": "inv_review"}).
			mustError(t, http.StatusConflict, "event_not_waiting")
		job := h.queue("POST", "/admin/events/evt_euro/resolve", map[string]any{"action": "ignore", "notes": "refunded in Stripe"})
		h.waitSucceeded(job.ID)
		h.event("evt_euro", reconcile.EventIgnored)
		d := h.mustFigures("inv_review", figures{Paid: 0, Balance: 5000, State: reconcile.StateOpen})
		last := d.History[len(d.History)-1]
		if last.Kind != reconcile.HistoryEventResolved || last.Notes == "" {
			t.Fatalf("history %+v", d.History)
		}
	})

	t.Run("what is not waiting for a person, or not applicable, is refused and queues nothing", func(t *testing.T) {
		h := h.in(t)
		for _, c := range []struct {
			name, event string
			body        any
			status      int
			code        string
		}{
			{"an ignored event", "evt_stray", map[string]any{"action": "ignore"}, http.StatusConflict, "event_not_waiting"},
			{"a processed event", "evt_typo", map[string]any{"action": "apply", "invoice_id": "inv_r"}, http.StatusConflict, "event_not_waiting"},
			{"a refund", "evt_refund", map[string]any{"action": "apply", "invoice_id": "inv_r"}, http.StatusConflict, "event_not_applicable"},
			{"an unknown event", "evt_none", map[string]any{"action": "ignore"}, http.StatusNotFound, "event_not_found"},
			{"an unknown invoice", "evt_refund", map[string]any{"action": "apply", "invoice_id": "inv_none"}, http.StatusConflict, "event_not_applicable"},
			{"another action", "evt_refund", map[string]any{"action": "delete"}, http.StatusBadRequest, "invalid_action"},
			{"apply without an invoice", "evt_refund", map[string]any{"action": "apply"}, http.StatusBadRequest, "invalid_invoice_id"},
			{"ignore with an invoice", "evt_refund", map[string]any{"action": "ignore", "invoice_id": "inv_r"}, http.StatusBadRequest, "invalid_invoice_id"},
			{"an unknown field", "evt_refund", map[string]any{"action": "ignore", "why": "x"}, http.StatusBadRequest, "invalid_field"},
		} {
			t.Run(c.name, func(t *testing.T) {
				jobs := h.jobRows()
				h.do("POST", "/admin/events/"+c.event+"/resolve", c.body).mustError(t, c.status, c.code)
				if n := h.jobRows(); n != jobs {
					t.Fatalf("%d jobs stored", n-jobs)
				}
			})
		}
		if ev := h.receive("evt_lost", paymentEvent("evt_lost", "pi_lost", "inv_gone", "usd", 100)); ev.Status != reconcile.EventUnmatched {
			t.Fatalf("evt_lost is %s", ev.Status)
		}
		h.do("POST", "/admin/events/evt_lost/resolve", map[string]any{"action": "apply", "invoice_id": "inv_none"}).
			mustError(t, http.StatusNotFound, "invoice_not_found")
	})
}

func TestDiscrepanciesAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	for i := range 3 {
		_, err := h.pool.Exec(ctx, `
			INSERT INTO discrepancies (id, kind, provider_ref, invoice_id, currency, ledger_amount, stripe_amount, detail,
				found_run, last_seen_run, found_at)
			VALUES ($1, $2, $3, NULL, 'usd', 3000, 2900, 'the ledger recorded more', 'run_1', 'run_1', now() - $4 * interval '1 minute')`,
			fmt.Sprintf("dsc_%d", i), []string{"amount_mismatch", "refund_mismatch", "amount_mismatch"}[i], fmt.Sprintf("pi_%d", i), i)
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("open ones are listed newest first, a page at a time, and by kind", func(t *testing.T) {
		h := h.in(t)
		var page reconcile.DiscrepancyPage
		h.do("GET", "/admin/discrepancies?limit=2", nil).must(t, http.StatusOK, &page)
		if len(page.Discrepancies) != 2 || page.Discrepancies[0].ID != "dsc_0" || page.NextCursor == "" {
			t.Fatalf("first page %+v", page)
		}
		var next reconcile.DiscrepancyPage
		h.do("GET", "/admin/discrepancies?limit=2&cursor="+page.NextCursor, nil).must(t, http.StatusOK, &next)
		if len(next.Discrepancies) != 1 || next.Discrepancies[0].ID != "dsc_2" || next.NextCursor != "" {
			t.Fatalf("second page %+v", next)
		}
		h.do("GET", "/admin/discrepancies?kind=refund_mismatch", nil).must(t, http.StatusOK, &page)
		if len(page.Discrepancies) != 1 || page.Discrepancies[0].ID != "dsc_1" {
			t.Fatalf("refund mismatches %+v", page)
		}
		h.do("GET", "/admin/discrepancies?kind=typo", nil).mustError(t, http.StatusBadRequest, "invalid_kind")
		h.do("GET", "/admin/discrepancies?status=closed", nil).mustError(t, http.StatusBadRequest, "invalid_status")
	})

	t.Run("an operator resolves one with notes, once", func(t *testing.T) {
		h := h.in(t)
		var d reconcile.Discrepancy
		h.do("POST", "/admin/discrepancies/dsc_1/resolve", map[string]any{"notes": "refunded by cheque"}).must(t, http.StatusOK, &d)
		if d.Status != reconcile.DiscrepancyResolved || d.Actor == nil || *d.Actor != "admin" || d.ResolutionNotes != "refunded by cheque" ||
			d.ResolvedAt == nil {
			t.Fatalf("resolved %+v", d)
		}
		h.do("POST", "/admin/discrepancies/dsc_1/resolve", map[string]any{"notes": "again"}).
			mustError(t, http.StatusConflict, "discrepancy_resolved")
		h.do("POST", "/admin/discrepancies/dsc_none/resolve", map[string]any{"notes": ""}).
			mustError(t, http.StatusNotFound, "discrepancy_not_found")
		h.do("POST", "/admin/discrepancies/dsc_2/resolve", `{"notes": 5}`).mustError(t, http.StatusBadRequest, "invalid_field")
		var page reconcile.DiscrepancyPage
		h.do("GET", "/admin/discrepancies?status=resolved", nil).must(t, http.StatusOK, &page)
		if len(page.Discrepancies) != 1 || page.Discrepancies[0].ID != "dsc_1" {
			t.Fatalf("resolved ones %+v", page)
		}
	})
}
