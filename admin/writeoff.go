package admin

import (
	"context"
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// writeOffBody is the body of POST /admin/invoices/{id}/write-off; the body
// may be empty.
type writeOffBody struct {
	Notes string `json:"notes"`
}

// writeOff answers POST /admin/invoices/{id}/write-off: 202 with the job
// that books the balance as a bad debt.
func (a *API) writeOff(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	return a.queueJob(w, r, id, func(ctx context.Context, body []byte) (reconcile.NewJob, error) {
		var b writeOffBody
		if err := decodeStrict(body, &b, true); err != nil {
			return reconcile.NewJob{}, err
		}
		return a.prepareWriteOff(ctx, id, b.Notes)
	})
}

// WriteOff queues the job that books the balance of invoice invoiceID as a
// bad debt, after checking that the invoice is sent, not written off and
// has a balance. key and requestHash are as for RecordPayment.
func (a *API) WriteOff(ctx context.Context, invoiceID, notes, key, requestHash string) (reconcile.Job, error) {
	return a.submit(ctx, key, requestHash, invoiceID, func(ctx context.Context) (reconcile.NewJob, error) {
		return a.prepareWriteOff(ctx, invoiceID, notes)
	})
}

func (a *API) prepareWriteOff(ctx context.Context, id, notes string) (reconcile.NewJob, error) {
	if err := checkNotes(notes); err != nil {
		return reconcile.NewJob{}, err
	}
	inv, err := a.invoice(ctx, id)
	if err != nil {
		return reconcile.NewJob{}, err
	}
	if err := inv.CanWriteOff(); err != nil {
		return reconcile.NewJob{}, err
	}
	return reconcile.NewJob{Type: reconcile.JobWriteOff, InvoiceID: id,
		Payload: worker.WriteOffArgs{InvoiceID: id, Notes: notes}}, nil
}

// reopen answers POST /admin/invoices/{id}/reopen: 202 with the job that
// reverses the write-off.
func (a *API) reopen(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	return a.queueJob(w, r, id, func(ctx context.Context, body []byte) (reconcile.NewJob, error) {
		if err := decodeStrict(body, &struct{}{}, true); err != nil {
			return reconcile.NewJob{}, err
		}
		return a.prepareReopen(ctx, id)
	})
}

// Reopen queues the job that reverses the write-off of invoice invoiceID,
// after checking that it is written off. key and requestHash are as for
// RecordPayment.
func (a *API) Reopen(ctx context.Context, invoiceID, key, requestHash string) (reconcile.Job, error) {
	return a.submit(ctx, key, requestHash, invoiceID, func(ctx context.Context) (reconcile.NewJob, error) {
		return a.prepareReopen(ctx, invoiceID)
	})
}

func (a *API) prepareReopen(ctx context.Context, id string) (reconcile.NewJob, error) {
	inv, err := a.invoice(ctx, id)
	if err != nil {
		return reconcile.NewJob{}, err
	}
	if err := inv.CanReopen(); err != nil {
		return reconcile.NewJob{}, err
	}
	return reconcile.NewJob{Type: reconcile.JobReopen, InvoiceID: id, Payload: worker.ReopenArgs{InvoiceID: id}}, nil
}
