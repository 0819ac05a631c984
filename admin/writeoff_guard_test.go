package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/payrecon/reconciler/reconcile"
)

// TestLiveWriteOffGuardAtTheAPI is the defect "the write-off guard reads the
// state, not the live write-off", through the API and the worker: invoice
// 1000, manual 300, write off 700, then an online 700. The invoice reads
// paid but its write-off is live, so deleting the manual payment is refused
// before anything is queued, and reopen is queued and runs.
func TestLiveWriteOffGuardAtTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv-guard", 1000, true)
	job := h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-guard/payments", `{"amount": 300}`).ID)
	var result struct {
		PaymentID string `json:"payment_id"`
	}
	if err := json.Unmarshal(job.Result, &result); err != nil {
		t.Fatal(err)
	}
	h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-guard/write-off", nil).ID)
	h.mustFigures("inv-guard", figures{300, 700, 0, reconcile.StateWrittenOff})
	if _, err := h.store.RecordOnlinePayment(context.Background(), "", reconcile.OnlinePayment{ProviderRef: "pi_guard",
		InvoiceID: "inv-guard", Amount: 700, Currency: "usd", PaidDate: reconcile.DateOf(h.clock())}); err != nil {
		t.Fatal(err)
	}
	h.mustFigures("inv-guard", figures{1000, 0, 0, reconcile.StatePaid})

	t.Run("deleting a payment while the write-off is live is 409 and queues nothing", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-guard", func() {
			h.do("DELETE", "/admin/invoices/inv-guard/payments/"+result.PaymentID, nil).
				mustError(t, http.StatusConflict, "invoice_written_off")
		})
	})
	t.Run("reopening the paid invoice reverses its live write-off", func(t *testing.T) {
		h := h.in(t)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-guard/reopen", nil).ID)
		d := h.mustFigures("inv-guard", figures{1000, 0, 0, reconcile.StatePaid})
		if last := d.History[len(d.History)-1]; last.Kind != reconcile.HistoryReopened {
			t.Fatalf("history %+v", last)
		}
		h.waitSucceeded(h.queue("DELETE", "/admin/invoices/inv-guard/payments/"+result.PaymentID, nil).ID)
		h.mustFigures("inv-guard", figures{700, 0, 300, reconcile.StatePartial})
	})
}
