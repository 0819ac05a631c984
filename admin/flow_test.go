package admin_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/payrecon/reconciler/reconcile"
)

func TestOperatorFlow(t *testing.T) {
	t.Parallel()
	t.Run("create, send, pay part, delete the payment, pay again, write off, find it listed", func(t *testing.T) {
		h := newHarness(t).in(t)
		h.startWorker()

		var inv reconcile.Invoice
		h.do("POST", "/admin/invoices", `{"id": "inv-flow", "number": "2024-001", "client": "globex", "currency": "usd", "amount": 10000}`).
			must(t, http.StatusCreated, &inv)
		if figuresOf(inv) != (figures{0, 0, 10000, reconcile.StateDraft}) {
			t.Fatalf("created %+v", inv)
		}
		h.do("POST", "/admin/invoices/inv-flow/send", nil).must(t, http.StatusOK, &inv)
		if figuresOf(inv) != (figures{0, 0, 10000, reconcile.StateOpen}) {
			t.Fatalf("sent %+v", inv)
		}

		job := h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-flow/payments", `{"amount": 4000, "method": "bank_transfer"}`).ID)
		var paid struct {
			PaymentID string `json:"payment_id"`
		}
		if err := json.Unmarshal(job.Result, &paid); err != nil {
			t.Fatal(err)
		}
		h.mustFigures("inv-flow", figures{4000, 0, 6000, reconcile.StatePartial})

		h.waitSucceeded(h.queue("DELETE", "/admin/invoices/inv-flow/payments/"+paid.PaymentID, nil).ID)
		h.mustFigures("inv-flow", figures{0, 0, 10000, reconcile.StateOpen})

		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-flow/payments", `{"amount": 4000}`).ID)
		h.mustFigures("inv-flow", figures{4000, 0, 6000, reconcile.StatePartial})

		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-flow/write-off", `{"notes": "settled for 40%"}`).ID)
		d := h.mustFigures("inv-flow", figures{4000, 6000, 0, reconcile.StateWrittenOff})

		var kinds []reconcile.HistoryKind
		for _, e := range d.History {
			kinds = append(kinds, e.Kind)
		}
		want := []reconcile.HistoryKind{reconcile.HistoryCreated, reconcile.HistorySent, reconcile.HistoryPaymentRecorded,
			reconcile.HistoryPaymentDeleted, reconcile.HistoryPaymentRecorded, reconcile.HistoryWrittenOff}
		if len(kinds) != len(want) {
			t.Fatalf("history %v, want %v", kinds, want)
		}
		for i := range want {
			if kinds[i] != want[i] {
				t.Fatalf("history %v, want %v", kinds, want)
			}
		}

		page := h.list("state=written_off")
		if len(page.Invoices) != 1 || page.Invoices[0].ID != "inv-flow" || page.Invoices[0].WrittenOffAmount != 6000 {
			t.Fatalf("written-off listing %+v", page.Invoices)
		}
	})
}
