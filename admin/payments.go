package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

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
// that records the payment.
func (a *API) recordPayment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	return a.queueJob(w, r, id, func(ctx context.Context, body []byte) (reconcile.NewJob, error) {
		var b recordPaymentBody
		if err := decodeStrict(body, &b, false); err != nil {
			return reconcile.NewJob{}, err
		}
		amount, err := parseAmount("amount", b.Amount)
		if err != nil {
			return reconcile.NewJob{}, err
		}
		args := worker.RecordPaymentArgs{InvoiceID: id, Amount: amount, Notes: b.Notes}
		if b.PaidDate != nil {
			d, err := parseDate("paid_date", b.PaidDate)
			if err != nil {
				return reconcile.NewJob{}, err
			}
			args.PaidDate = *d
		}
		if b.Method != nil {
			// Given, the method may not be empty; absent, it is unknown.
			if *b.Method == "" {
				return reconcile.NewJob{}, errInvalidMethod()
			}
			args.Method = *b.Method
		}
		return a.prepareRecordPayment(ctx, args)
	})
}

// RecordPayment queues the job that records a manual payment of args.Amount
// on invoice args.InvoiceID, paid on args.PaidDate (today when zero). The
// invoice as it stands must take it; the worker asks the same rule again
// under the row lock, because the balance may move before the job runs.
// key, when not empty, is an idempotency key looked up before any check;
// requestHash tells a replay from another request reusing the key. Its
// refusals are ledger errors (apperr.As) or errors Classify maps.
func (a *API) RecordPayment(ctx context.Context, args worker.RecordPaymentArgs, key, requestHash string) (reconcile.Job, error) {
	return a.submit(ctx, key, requestHash, args.InvoiceID, func(ctx context.Context) (reconcile.NewJob, error) {
		return a.prepareRecordPayment(ctx, args)
	})
}

func (a *API) prepareRecordPayment(ctx context.Context, args worker.RecordPaymentArgs) (reconcile.NewJob, error) {
	today := reconcile.DateOf(a.now())
	if args.PaidDate.IsZero() {
		args.PaidDate = today
	}
	if err := reconcile.CheckPaidDate(args.PaidDate, today); err != nil {
		return reconcile.NewJob{}, err
	}
	if args.Method != "" && !reconcile.ValidMethod(args.Method) {
		return reconcile.NewJob{}, errInvalidMethod()
	}
	if err := checkNotes(args.Notes); err != nil {
		return reconcile.NewJob{}, err
	}
	inv, err := a.invoice(ctx, args.InvoiceID)
	if err != nil {
		return reconcile.NewJob{}, err
	}
	if err := inv.CanRecordManualPayment(args.Amount); err != nil {
		return reconcile.NewJob{}, err
	}
	return reconcile.NewJob{Type: reconcile.JobRecordPayment, InvoiceID: args.InvoiceID, Payload: args}, nil
}

func errInvalidMethod() error {
	return invalid("invalid_method", "method must be one of "+strings.Join(reconcile.PaymentMethods(), ", "))
}

// deletePayment answers DELETE /admin/invoices/{id}/payments/{payment_id}:
// 202 with the job that deletes it.
func (a *API) deletePayment(w http.ResponseWriter, r *http.Request) error {
	id, paymentID := r.PathValue("id"), r.PathValue("payment_id")
	return a.queueJob(w, r, id, func(ctx context.Context, body []byte) (reconcile.NewJob, error) {
		if err := decodeStrict(body, &struct{}{}, true); err != nil {
			return reconcile.NewJob{}, err
		}
		return a.prepareDeletePayment(ctx, id, paymentID)
	})
}

// DeletePayment queues the job that deletes payment paymentID of invoice
// invoiceID, after checking that both exist and that the invoice allows it.
// key and requestHash are as for RecordPayment.
func (a *API) DeletePayment(ctx context.Context, invoiceID, paymentID, key, requestHash string) (reconcile.Job, error) {
	return a.submit(ctx, key, requestHash, invoiceID, func(ctx context.Context) (reconcile.NewJob, error) {
		return a.prepareDeletePayment(ctx, invoiceID, paymentID)
	})
}

func (a *API) prepareDeletePayment(ctx context.Context, id, paymentID string) (reconcile.NewJob, error) {
	inv, err := a.invoice(ctx, id)
	if err != nil {
		return reconcile.NewJob{}, err
	}
	pay, err := a.store.GetPayment(ctx, id, paymentID)
	if err != nil {
		return reconcile.NewJob{}, err
	}
	if err := inv.CanDeletePayment(pay); err != nil {
		return reconcile.NewJob{}, err
	}
	return reconcile.NewJob{Type: reconcile.JobDeletePayment, InvoiceID: id,
		Payload: worker.DeletePaymentArgs{InvoiceID: id, PaymentID: paymentID}}, nil
}
