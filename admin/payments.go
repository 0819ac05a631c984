package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// recordPaymentBody is the body of POST /admin/invoices/{id}/payments.
// Pointers tell an absent field (a default) from an empty one (refused).
type recordPaymentBody struct {
	Amount   json.RawMessage `json:"amount"`
	PaidDate *string         `json:"paid_date"`
	Method   *string         `json:"method"`
	Notes    string          `json:"notes"`
}

// recordPayment answers POST /admin/invoices/{id}/payments: 202 with the job
// that records the payment. The invoice as it stands must take it; the
// worker asks the same rule again under the row lock, because the balance
// may move before the job runs.
func (a *API) recordPayment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	return a.queueJob(w, r, func(ctx context.Context, body []byte) (reconcile.NewJob, error) {
		var b recordPaymentBody
		if err := decodeStrict(body, &b, false); err != nil {
			return reconcile.NewJob{}, err
		}
		amount, err := parseAmount("amount", b.Amount)
		if err != nil {
			return reconcile.NewJob{}, err
		}
		paid := reconcile.DateOf(a.now())
		if b.PaidDate != nil {
			d, err := parseDate("paid_date", b.PaidDate)
			if err != nil {
				return reconcile.NewJob{}, err
			}
			paid = *d
		}
		var method string
		if b.Method != nil {
			if !reconcile.ValidMethod(*b.Method) {
				return reconcile.NewJob{}, invalid("invalid_method", "method must be bank_transfer, check, cash or other")
			}
			method = *b.Method
		}
		if err := checkNotes(b.Notes); err != nil {
			return reconcile.NewJob{}, err
		}
		inv, err := a.store.GetInvoice(ctx, id)
		if err != nil {
			return reconcile.NewJob{}, err
		}
		if err := inv.CanRecordManualPayment(amount); err != nil {
			return reconcile.NewJob{}, err
		}
		return reconcile.NewJob{Type: reconcile.JobRecordPayment, InvoiceID: id, Payload: worker.RecordPaymentArgs{
			InvoiceID: id, Amount: amount, PaidDate: paid, Method: method, Notes: b.Notes,
		}}, nil
	})
}

// deletePayment answers DELETE /admin/invoices/{id}/payments/{payment_id}:
// 202 with the job that deletes it.
func (a *API) deletePayment(w http.ResponseWriter, r *http.Request) error {
	id, paymentID := r.PathValue("id"), r.PathValue("payment_id")
	return a.queueJob(w, r, func(ctx context.Context, body []byte) (reconcile.NewJob, error) {
		if err := decodeStrict(body, &struct{}{}, true); err != nil {
			return reconcile.NewJob{}, err
		}
		inv, err := a.store.GetInvoice(ctx, id)
		if err != nil {
			return reconcile.NewJob{}, err
		}
		if _, err := a.store.GetPayment(ctx, id, paymentID); err != nil {
			return reconcile.NewJob{}, err
		}
		if err := inv.CanDeletePayment(); err != nil {
			return reconcile.NewJob{}, err
		}
		return reconcile.NewJob{Type: reconcile.JobDeletePayment, InvoiceID: id,
			Payload: worker.DeletePaymentArgs{InvoiceID: id, PaymentID: paymentID}}, nil
	})
}
