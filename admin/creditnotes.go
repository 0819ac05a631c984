package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// issueCreditNoteBody is the body of POST /admin/invoices/{id}/credit-notes.
type issueCreditNoteBody struct {
	Amount json.RawMessage `json:"amount"`
	Reason *string         `json:"reason"`
	Notes  string          `json:"notes"`
}

// issueCreditNote answers POST /admin/invoices/{id}/credit-notes: 202 with
// the job that issues the credit note.
func (a *API) issueCreditNote(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	return a.queueJob(w, r, id, func(ctx context.Context, body []byte) (reconcile.NewJob, error) {
		var b issueCreditNoteBody
		if err := decodeStrict(body, &b, false); err != nil {
			return reconcile.NewJob{}, err
		}
		amount, err := parseAmount("amount", b.Amount)
		if err != nil {
			return reconcile.NewJob{}, err
		}
		if b.Reason == nil {
			return reconcile.NewJob{}, reconcile.ErrInvalidCreditReason()
		}
		return a.prepareIssueCreditNote(ctx, worker.IssueCreditNoteArgs{InvoiceID: id, Amount: amount, Reason: *b.Reason, Notes: b.Notes})
	})
}

// IssueCreditNote queues the job that lowers what invoice args.InvoiceID is
// due by args.Amount, for args.Reason. The invoice as it stands must take it
// (sent, and the amount not above its balance); the worker asks the same
// rule again under the row lock, because the balance may move before the
// job runs. key and requestHash are as for RecordPayment.
func (a *API) IssueCreditNote(ctx context.Context, args worker.IssueCreditNoteArgs, key, requestHash string) (reconcile.Job, error) {
	return a.submit(ctx, key, requestHash, args.InvoiceID, func(ctx context.Context) (reconcile.NewJob, error) {
		return a.prepareIssueCreditNote(ctx, args)
	})
}

func (a *API) prepareIssueCreditNote(ctx context.Context, args worker.IssueCreditNoteArgs) (reconcile.NewJob, error) {
	if !reconcile.ValidCreditReason(args.Reason) {
		return reconcile.NewJob{}, reconcile.ErrInvalidCreditReason()
	}
	if err := checkNotes(args.Notes); err != nil {
		return reconcile.NewJob{}, err
	}
	inv, err := a.invoice(ctx, args.InvoiceID)
	if err != nil {
		return reconcile.NewJob{}, err
	}
	if err := inv.CanIssueCreditNote(args.Amount); err != nil {
		return reconcile.NewJob{}, err
	}
	return reconcile.NewJob{Type: reconcile.JobIssueCreditNote, InvoiceID: args.InvoiceID, Payload: args}, nil
}

// reverseCreditNote answers DELETE
// /admin/invoices/{id}/credit-notes/{credit_note_id}: 202 with the job that
// reverses it.
func (a *API) reverseCreditNote(w http.ResponseWriter, r *http.Request) error {
	id, creditNoteID := r.PathValue("id"), r.PathValue("credit_note_id")
	return a.queueJob(w, r, id, func(ctx context.Context, body []byte) (reconcile.NewJob, error) {
		if err := decodeStrict(body, &struct{}{}, true); err != nil {
			return reconcile.NewJob{}, err
		}
		return a.prepareReverseCreditNote(ctx, id, creditNoteID)
	})
}

// ReverseCreditNote queues the job that reverses credit note creditNoteID of
// invoice invoiceID, after checking that both exist and that the invoice
// allows it (no live write-off). key and requestHash are as for
// RecordPayment.
func (a *API) ReverseCreditNote(ctx context.Context, invoiceID, creditNoteID, key, requestHash string) (reconcile.Job, error) {
	return a.submit(ctx, key, requestHash, invoiceID, func(ctx context.Context) (reconcile.NewJob, error) {
		return a.prepareReverseCreditNote(ctx, invoiceID, creditNoteID)
	})
}

func (a *API) prepareReverseCreditNote(ctx context.Context, id, creditNoteID string) (reconcile.NewJob, error) {
	inv, err := a.invoice(ctx, id)
	if err != nil {
		return reconcile.NewJob{}, err
	}
	if _, err := a.store.GetCreditNote(ctx, id, creditNoteID); err != nil {
		return reconcile.NewJob{}, err
	}
	if err := inv.CanReverseCreditNote(); err != nil {
		return reconcile.NewJob{}, err
	}
	return reconcile.NewJob{Type: reconcile.JobReverseCreditNote, InvoiceID: id,
		Payload: worker.ReverseCreditNoteArgs{InvoiceID: id, CreditNoteID: creditNoteID}}, nil
}
