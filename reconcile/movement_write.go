package reconcile

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/outbox"
)

// movementWrite gathers the writes of one event's change of a movement into
// one pipelined round trip: links and merges, refund and dispute rows, a new
// payment, the sync of the payment's money, the event's status and the
// recompute of the invoices changed.
type movementWrite struct {
	b       pgx.Batch
	touched touched
	// best is the movement's best id, for its payment's provider_ref.
	best string
	// facts is set when refund or dispute rows were written: the payment's
	// money is synced with them.
	facts bool
	// statusWritten is set when a queued statement writes the event's status.
	statusWritten bool
	// sent, when set, runs once the writes are sent, before the
	// notifications are written: what they owe may depend on the writes.
	sent func()
}

// link queues the linking of refs into the movement (see queueLink); every
// payment merged away is told to its invoice's subscribers as deleted.
func (w *movementWrite) link(v *movementView, refs []string) linked {
	l := queueLink(&w.b, v, refs)
	for i := range l.losers {
		w.touched.add(l.losers[i].InvoiceID, notice{typ: outbox.PaymentDeleted, payment: &l.losers[i].Payment})
	}
	w.best = bestRef(v.refs, refs)
	return l
}

// finish queues the sync of the movement's live payment (when links, a merge
// or new rows may have moved its money), the event's status and the
// recomputes, sends them, recomputes in a round trip of its own an invoice
// whose money only the sync was found to move, and writes the
// notifications.
func (w *movementWrite) finish(ctx context.Context, tx pgx.Tx, v *movementView, l linked, eventID string, res EventResult) error {
	l.queueMissing(&w.b)
	var sy synced
	var syncedLive bool
	if p := l.payment; p != nil && !p.deleted && (l.changed || w.facts) {
		queueSync(&w.b, p.ID, w.best, &sy, &syncedLive)
	}
	if !w.statusWritten && eventID != "" {
		w.b.Queue(setEventStatusSQL, eventID, res.Status, res.InvoiceID, res.Reason)
	}
	after := map[string]Invoice{}
	w.touched.queueRecompute(&w.b, after)
	if w.b.Len() > 0 {
		if err := tx.SendBatch(ctx, &w.b).Close(); err != nil {
			return fmt.Errorf("apply event %s to movement %s: %w", eventID, l.movementID, err)
		}
	}
	if w.sent != nil {
		w.sent()
	}
	if syncedLive {
		l.payment.Payment = sy.payment // what notifications of the payment show
	}
	if syncedLive && sy.moneyChanged() {
		id := sy.payment.InvoiceID
		if _, done := after[id]; !done {
			inv, err := recompute(ctx, tx, id)
			if err != nil {
				return err
			}
			after[id] = inv
		}
		w.touched.add(id, sy.notices()...)
	}
	return w.touched.notify(ctx, tx, v, after)
}
