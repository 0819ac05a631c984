package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestProviderPaymentDelete: a Stripe payment is refunded in Stripe, never
// deleted by an operator. The API refuses before queueing, and the ledger
// refuses again when a job asking for it runs.
func TestProviderPaymentDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv-pp", 10000, true)
	if _, err := h.store.RecordOnlinePayment(context.Background(), "", reconcile.OnlinePayment{ProviderRef: "pi_pp",
		InvoiceID: "inv-pp", Amount: 6000, Currency: "usd", PaidDate: reconcile.DateOf(h.clock())}); err != nil {
		t.Fatal(err)
	}
	pay := h.detail("inv-pp").Payments[0]

	t.Run("deleting a Stripe payment is 409 provider_payment, says to refund it in Stripe, and queues nothing", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-pp", func() {
			msg := h.do("DELETE", "/admin/invoices/inv-pp/payments/"+pay.ID, nil).mustError(t, http.StatusConflict, "provider_payment")
			if !strings.Contains(msg, "refund it in Stripe") {
				t.Fatalf("message %q does not say to refund it in Stripe", msg)
			}
		})
	})
	t.Run("a job deleting a Stripe payment that got past the API fails with provider_payment and changes nothing", func(t *testing.T) {
		h := h.in(t)
		job, err := h.client.Submit(context.Background(), reconcile.NewJob{Type: reconcile.JobDeletePayment, InvoiceID: "inv-pp",
			Payload: worker.DeletePaymentArgs{InvoiceID: "inv-pp", PaymentID: pay.ID}})
		if err != nil {
			t.Fatal(err)
		}
		done := h.waitJob(job.ID)
		if done.Status != reconcile.JobFailed || !strings.Contains(done.Error, "provider_payment") || done.Attempts != 1 {
			t.Fatalf("job %+v", done)
		}
		h.mustFigures("inv-pp", figures{6000, 0, 4000, reconcile.StatePartial})
	})
}

// TestManualPaymentDates: paid_date is neither in the future nor before
// 2000-01-01, by the API's clock (UTC).
func TestManualPaymentDates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.setNow(time.Date(2025, 6, 15, 23, 30, 0, 0, time.UTC))
	h.createInvoice("inv-dates", 10000, true)

	for _, c := range []struct {
		name, date string
	}{
		{"tomorrow", "2025-06-16"},
		{"next year", "2026-01-01"},
		{"the last day of 1999", "1999-12-31"},
		{"the year 20", "0020-04-20"},
	} {
		t.Run("a payment dated "+c.name+" is 400 invalid_paid_date and changes nothing", func(t *testing.T) {
			h := h.in(t)
			h.unchanged("inv-dates", func() {
				h.do("POST", "/admin/invoices/inv-dates/payments", map[string]any{"amount": 100, "paid_date": c.date}).
					mustError(t, http.StatusBadRequest, "invalid_paid_date")
			})
		})
	}
	t.Run("payments dated today and on 2000-01-01 are recorded", func(t *testing.T) {
		h := h.in(t)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-dates/payments", `{"amount": 100, "paid_date": "2025-06-15"}`).ID)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-dates/payments", `{"amount": 200, "paid_date": "2000-01-01"}`).ID)
		h.mustFigures("inv-dates", figures{300, 0, 9700, reconcile.StatePartial})
	})
}
