package worker

import (
	"context"
	"fmt"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/reconcile"
)

// ResolveEventArgs are the arguments of a JobEventIgnore or JobEventApply
// job: the event, what the operator said, who they are, and, to apply it,
// the invoice it pays.
type ResolveEventArgs struct {
	EventID   string `json:"event_id"`
	InvoiceID string `json:"invoice_id,omitempty"`
	Notes     string `json:"notes,omitempty"`
	Actor     string `json:"actor"`
}

// CanApplyByHand refuses applying an event to an invoice by hand unless it
// is a payment: a refund follows its payment, wherever that is recorded, so
// it is the payment's event that an operator applies (the refund's is then
// matched again by the next run).
func CanApplyByHand(ev reconcile.Event) error {
	d, err := stripe.Decode(ev.Payload)
	if err != nil {
		return apperr.Errorf(apperr.KindConflict, "event_not_applicable", "event %s cannot be read: %v", ev.ID, err)
	}
	if d.Kind != stripe.KindPayment {
		return apperr.Errorf(apperr.KindConflict, "event_not_applicable",
			"event %s (%s) is no payment: a refund follows its payment; apply the payment's event instead", ev.ID, ev.Type)
	}
	return nil
}

// ignoreEvent runs a JobEventIgnore job.
func (h *Handlers) ignoreEvent(ctx context.Context, job reconcile.Job, a ResolveEventArgs) error {
	_, err := h.store.IgnoreEvent(ctx, job.ID, a.EventID, a.Notes, a.Actor)
	return err
}

// applyEventByHand runs a JobEventApply job: the invoice is stored on the
// event, the event is processed as any other (its processing pays the
// stored invoice), and once it is processed the invoice's history says who
// applied it. A step done already is skipped, so a job run twice applies
// once.
func (h *Handlers) applyEventByHand(ctx context.Context, job reconcile.Job, a ResolveEventArgs) error {
	ev, err := h.store.GetEvent(ctx, a.EventID)
	if err != nil {
		return err
	}
	// Checked before the invoice is stored on the event: a refused apply
	// leaves no resolution behind.
	if err := CanApplyByHand(ev); err != nil {
		return err
	}
	if ev, err = h.store.ForceEventInvoice(ctx, a.EventID, a.InvoiceID, a.Notes, a.Actor); err != nil {
		return err
	}
	if ev.Status != reconcile.EventProcessed {
		if err := h.processEvent(ctx, h.taskEvent(ev, lastAttempt(ctx))); err != nil {
			return fmt.Errorf("process event %s: %w", ev.ID, err)
		}
	}
	_, err = h.store.NoteEventApplied(ctx, job.ID, a.EventID)
	return err
}
