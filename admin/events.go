package admin

import (
	"context"
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// listEvents answers GET /admin/events?status=&type=&limit=&cursor=: stored
// Stripe events, newest first, a page at a time.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"), 0, reconcile.MaxEventPageSize) // 0: the store's default
	if err != nil {
		return err
	}
	page, err := a.store.ListEvents(r.Context(), reconcile.EventFilter{
		Status: reconcile.EventStatus(q.Get("status")), Type: q.Get("type"), Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		return err
	}
	a.WriteJSON(w, http.StatusOK, page)
	return nil
}

// resolveEventBody is the body of POST /admin/events/{id}/resolve.
type resolveEventBody struct {
	Action    string `json:"action"`
	InvoiceID string `json:"invoice_id"`
	Notes     string `json:"notes"`
}

// resolveEvent answers POST /admin/events/{id}/resolve: 202 with the job
// that ignores the event, or applies it to an invoice; 409
// event_not_waiting unless the event waits for a person.
func (a *API) resolveEvent(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	return a.queueJob(w, r, "", func(ctx context.Context, body []byte) (reconcile.NewJob, error) {
		var b resolveEventBody
		if err := decodeStrict(body, &b, false); err != nil {
			return reconcile.NewJob{}, err
		}
		return a.prepareResolveEvent(ctx, id, reconcile.ResolveAction(b.Action), b.InvoiceID, b.Notes, ActorFrom(ctx))
	})
}

// ResolveEvent queues the job that resolves event eventID as actor: with
// ResolveIgnore it becomes ignored, with ResolveApply it pays invoiceID.
// The event must be waiting for a person (unmatched, or needs_review to
// ignore it); key and requestHash are as for RecordPayment.
func (a *API) ResolveEvent(ctx context.Context, eventID string, action reconcile.ResolveAction, invoiceID, notes, actor,
	key, requestHash string) (reconcile.Job, error) {
	return a.submit(ctx, key, requestHash, "", func(ctx context.Context) (reconcile.NewJob, error) {
		return a.prepareResolveEvent(ctx, eventID, action, invoiceID, notes, actor)
	})
}

func (a *API) prepareResolveEvent(ctx context.Context, eventID string, action reconcile.ResolveAction, invoiceID, notes,
	actor string) (reconcile.NewJob, error) {
	switch {
	case action != reconcile.ResolveIgnore && action != reconcile.ResolveApply:
		return reconcile.NewJob{}, invalid("invalid_action", "action must be ignore or apply")
	case action == reconcile.ResolveApply && !reconcile.ValidID(invoiceID):
		return reconcile.NewJob{}, invalid("invalid_invoice_id", "invoice_id is required to apply an event: the invoice it pays")
	case action == reconcile.ResolveIgnore && invoiceID != "":
		return reconcile.NewJob{}, invalid("invalid_invoice_id", "invoice_id is only for action apply")
	}
	if err := checkNotes(notes); err != nil {
		return reconcile.NewJob{}, err
	}
	ev, err := a.store.GetEvent(ctx, eventID)
	if err != nil {
		return reconcile.NewJob{}, err
	}
	if err := ev.CanResolve(action); err != nil {
		return reconcile.NewJob{}, err
	}
	args := worker.ResolveEventArgs{EventID: ev.ID, Notes: notes, Actor: actor}
	if action == reconcile.ResolveIgnore {
		n := reconcile.NewJob{Type: reconcile.JobEventIgnore, Payload: args}
		if ev.InvoiceID != nil {
			n.InvoiceID = *ev.InvoiceID
		}
		return n, nil
	}
	if err := worker.CanApplyByHand(ev); err != nil {
		return reconcile.NewJob{}, err
	}
	if _, err := a.invoice(ctx, invoiceID); err != nil {
		return reconcile.NewJob{}, err
	}
	args.InvoiceID = invoiceID
	return reconcile.NewJob{Type: reconcile.JobEventApply, InvoiceID: invoiceID, Payload: args}, nil
}
