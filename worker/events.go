package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/reconcile"
)

// ProcessEvent applies stored Stripe events to the ledger in a group commit
// (see reconcile.Store.Group), with the events of the other tasks waiting
// for one by then (eventCombiner). Processing is idempotent (one payment
// per money movement, refunds and disputes by id), so a second delivery of
// the task, or a relay racing it, changes nothing. An event that fails for
// a transient reason does not hold up the others: the group is split until
// that event is alone, the task is retried for it, and the events done by
// then are skipped.
func (h *Handlers) ProcessEvent(ctx context.Context, task *asynq.Task) error {
	var p EventPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil || len(p.EventIDs) == 0 {
		return fmt.Errorf("bad event task payload: %w", asynq.SkipRetry)
	}
	stored, err := h.store.UnfinishedEvents(ctx, p.EventIDs)
	if err != nil || len(stored) == 0 {
		return err
	}
	last := lastAttempt(ctx)
	events := make([]taskEvent, len(stored))
	for i, ev := range stored {
		events[i] = h.taskEvent(ev, last)
	}
	return h.events.apply(ctx, events, h.commitGroup)
}

// commitGroup applies a group of events the combiner gathered, and counts
// its size.
func (h *Handlers) commitGroup(ctx context.Context, events []taskEvent) []error {
	h.metrics.eventGroup(len(events))
	return h.processGroup(ctx, events)
}

// processGroup applies events in one transaction and returns each event's
// fault worth retrying its task for, or nil. A refusal is the result of its
// event alone; any other error loses the transaction, and the group is
// split in halves, each applied on its own, so one poison event costs a few
// retries of its neighbours and blocks none of them. An event alone is
// applied as processEvent does.
func (h *Handlers) processGroup(ctx context.Context, events []taskEvent) []error {
	switch len(events) {
	case 0:
		return nil
	case 1:
		return []error{h.processEvent(ctx, events[0])}
	}
	results := make([]reconcile.EventResult, len(events))
	err := h.store.Group(ctx, func(g *reconcile.Store) error {
		for i, ev := range events {
			res, err := h.applyDecoded(ctx, g, ev.Event, ev.decoded)
			if _, refused := apperr.As(err); refused {
				res = reconcile.EventResult{Status: reconcile.EventFailed, Reason: err.Error()}
				err = g.MarkEvent(ctx, ev.ID, res)
			}
			if err != nil {
				return fmt.Errorf("event %s: %w", ev.ID, err)
			}
			results[i] = res
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return slices.Repeat([]error{err}, len(events))
		}
		h.log.Debug("group commit split", zap.Int("events", len(events)), zap.Error(err))
		half := len(events) / 2
		return append(h.processGroup(ctx, events[:half]), h.processGroup(ctx, events[half:])...)
	}
	for i, ev := range events {
		h.observeEvent(ev.Event, results[i])
	}
	return make([]error, len(events))
}

// processEvent applies one event in a transaction of its own and records its
// outcome. It returns an error only for a fault worth retrying: on its
// task's last attempt, a fault ends the event failed.
func (h *Handlers) processEvent(ctx context.Context, te taskEvent) error {
	ev := te.Event
	res, err := h.applyDecoded(ctx, h.store, ev, te.decoded)
	if err != nil {
		_, refused := apperr.As(err)
		if !refused && !te.last {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
		res = reconcile.EventResult{Status: reconcile.EventFailed, Reason: err.Error()}
		if markErr := h.store.MarkEvent(ctx, ev.ID, res); markErr != nil {
			return markErr
		}
	}
	h.observeEvent(ev, res)
	return nil
}

// observeEvent counts and logs an event's committed outcome.
func (h *Handlers) observeEvent(ev reconcile.Event, res reconcile.EventResult) {
	h.metrics.event(ev, res.Status)
	if ce := h.log.Check(zap.InfoLevel, "event processed"); ce != nil {
		ce.Write(zap.String("event", ev.ID), zap.String("type", ev.Type),
			zap.String("invoice", res.InvoiceID), zap.String("outcome", string(res.Status)), zap.String("reason", res.Reason))
	}
}

// taskEvent decodes a stored event of a task on its last attempt or not.
func (h *Handlers) taskEvent(ev reconcile.Event, last bool) taskEvent {
	return taskEvent{Event: ev, decoded: h.decode(ev), last: last}
}

// decodedEvent is a stored event decoded, or why it cannot be.
type decodedEvent struct {
	event stripe.Event
	err   error
}

// decode decodes a stored event's payload. A malformed event of the other
// mode is not an error: it is ignored for its mode, malformed or not.
func (h *Handlers) decode(ev reconcile.Event) decodedEvent {
	d, err := stripe.Decode(ev.Payload)
	if errors.Is(err, stripe.ErrMalformed) && d.Livemode != h.livemode {
		err = nil
	}
	if err != nil {
		err = apperr.Errorf(apperr.KindInvalid, "malformed_event", "%v", err)
	}
	return decodedEvent{event: d, err: err}
}

// applyDecoded applies a decoded event through store: the worker's own, or
// a group commit's.
func (h *Handlers) applyDecoded(ctx context.Context, store *reconcile.Store, ev reconcile.Event, d decodedEvent) (reconcile.EventResult, error) {
	if d.err != nil {
		return reconcile.EventResult{}, d.err
	}
	if d.event.Livemode != h.livemode {
		// Test-mode events never reach a live ledger, nor live ones a test
		// ledger (STRIPE_LIVEMODE).
		res := reconcile.EventResult{Status: reconcile.EventIgnored,
			Reason: fmt.Sprintf("livemode %v event, and this ledger takes livemode %v events (STRIPE_LIVEMODE)", d.event.Livemode, h.livemode)}
		return res, store.MarkEvent(ctx, ev.ID, res)
	}
	return applyStripe(ctx, store, ev.ID, ev.ResolvedInvoiceID, d.event)
}
