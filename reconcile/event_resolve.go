package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// ResolveAction is what an operator decides for an event waiting for a
// person.
type ResolveAction string

// The resolutions of an event.
const (
	// ResolveIgnore: the event becomes ignored and no run matches it again.
	ResolveIgnore ResolveAction = "ignore"
	// ResolveApply: the event is processed as if it named the invoice the
	// operator gives.
	ResolveApply ResolveAction = "apply"
)

// EventResolution is an operator's resolution of an event, as the admin API
// shows it.
type EventResolution struct {
	Action ResolveAction `json:"action"`
	Notes  string        `json:"notes"`
	Actor  string        `json:"actor"`
	At     time.Time     `json:"at"`
	// InvoiceID is the invoice an applied event was applied to.
	InvoiceID *string `json:"invoice_id,omitempty"`
}

// CanResolve refuses a resolution of an event that is not waiting for a
// person: any unmatched or needs_review event may be ignored; only an
// unmatched one applied (one kept for review, such as a currency mismatch,
// would move money the ledger refused to move).
func (e Event) CanResolve(action ResolveAction) error {
	switch {
	case action == ResolveIgnore && (e.Status == EventUnmatched || e.Status == EventNeedsReview):
		return nil
	case action == ResolveApply && e.Status == EventUnmatched:
		return nil
	case action != ResolveIgnore && action != ResolveApply:
		return apperr.Errorf(apperr.KindInvalid, "invalid_action", "action must be ignore or apply")
	case action == ResolveApply && e.Status == EventNeedsReview:
		return apperr.Errorf(apperr.KindConflict, "event_not_waiting",
			"event %s is kept for review: it can be ignored, not applied", e.ID)
	}
	return apperr.Errorf(apperr.KindConflict, "event_not_waiting", "event %s is %s, not waiting for a person", e.ID, e.Status)
}

// validResolution checks what every resolution takes: notes within the
// limit, and who resolves.
func validResolution(notes, actor string) error {
	switch {
	case !textcheck.Valid(notes, textcheck.MaxNotes):
		return errInvalidNotes()
	case actor == "" || !textcheck.Valid(actor, 200):
		return apperr.Errorf(apperr.KindInvalid, "invalid_actor", "a resolution must name its actor")
	}
	return nil
}

// lockEvent reads a stored event and holds its row lock until the
// transaction ends: resolutions of one event are serialised here.
func lockEvent(ctx context.Context, tx pgx.Tx, id string) (Event, error) {
	e, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Event{}, apperr.Errorf(apperr.KindNotFound, "event_not_found", "no event %s", id)
	}
	if err != nil {
		return Event{}, fmt.Errorf("lock event %s: %w", id, err)
	}
	return e, nil
}

// IgnoreEvent records an operator's decision to ignore an event waiting
// for a person: it becomes ignored, with its resolution, and is never
// matched again. The event's invoice, when it has one, gets an
// event_resolved history row. key is the operator job's id, marked
// succeeded in the same transaction; an event ignored already is left as it
// is.
func (s *Store) IgnoreEvent(ctx context.Context, key, eventID, notes, actor string) (Event, error) {
	if err := validResolution(notes, actor); err != nil {
		return Event{}, err
	}
	var out Event
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ev, err := lockEvent(ctx, tx, eventID)
		if err != nil {
			return err
		}
		if ev.Status == EventIgnored && ev.Resolution != nil && ev.Resolution.Action == ResolveIgnore {
			out = ev // ignored already: a job run twice
			return finishJobInTx(ctx, tx, key)
		}
		if err := ev.CanResolve(ResolveIgnore); err != nil {
			return err
		}
		out, err = scanEvent(tx.QueryRow(ctx, `
			UPDATE events SET status = $2, resolution_action = $3, resolution_notes = $4, resolution_actor = $5,
				resolved_at = now(), resolved_invoice_id = NULL
			WHERE id = $1
			RETURNING `+eventColumns, eventID, EventIgnored, ResolveIgnore, notes, actor))
		if err != nil {
			return fmt.Errorf("ignore event %s: %w", eventID, err)
		}
		if ev.InvoiceID != nil {
			note := fmt.Sprintf("event %s (%s) ignored by %s", ev.ID, ev.Type, actor)
			if err := noteResolution(ctx, tx, *ev.InvoiceID, key, note, notes, out.Resolution); err != nil {
				return err
			}
		}
		return finishJobInTx(ctx, tx, key)
	})
	return out, err
}

// ForceEventInvoice records an operator's decision to apply an unmatched
// event to invoice invoiceID: the invoice is stored on the event, and every
// processing of it from now on pays that invoice instead of the one it
// names. The event stays unmatched until processed. Asked again with the
// same invoice, it returns the event as it is (a job run twice).
func (s *Store) ForceEventInvoice(ctx context.Context, eventID, invoiceID, notes, actor string) (Event, error) {
	if err := validResolution(notes, actor); err != nil {
		return Event{}, err
	}
	var out Event
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ev, err := lockEvent(ctx, tx, eventID)
		if err != nil {
			return err
		}
		if ev.Resolution != nil && ev.Resolution.Action == ResolveApply && ev.ResolvedInvoiceID == invoiceID {
			out = ev
			return nil
		}
		if err := ev.CanResolve(ResolveApply); err != nil {
			return err
		}
		var live bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM invoices WHERE id = $1 AND deleted_at IS NULL)`,
			invoiceID).Scan(&live); err != nil {
			return fmt.Errorf("find invoice %s: %w", invoiceID, err)
		}
		if !live {
			return invoiceNotFound(invoiceID)
		}
		out, err = scanEvent(tx.QueryRow(ctx, `
			UPDATE events SET resolution_action = $2, resolution_notes = $3, resolution_actor = $4,
				resolved_at = now(), resolved_invoice_id = $5
			WHERE id = $1
			RETURNING `+eventColumns, eventID, ResolveApply, notes, actor, invoiceID))
		if err != nil {
			return fmt.Errorf("apply event %s to invoice %s: %w", eventID, invoiceID, err)
		}
		return nil
	})
	return out, err
}

// NoteEventApplied finishes an operator's apply of an event once its
// processing has paid the invoice: an event_resolved history row on it,
// and the job key marked succeeded, in one transaction. An event that did
// not end processed is refused with where it stands (a currency mismatch
// keeps it for review). The same key again changes nothing.
func (s *Store) NoteEventApplied(ctx context.Context, key, eventID string) (Event, error) {
	var out Event
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ev, err := lockEvent(ctx, tx, eventID)
		if err != nil {
			return err
		}
		out = ev
		if ev.Resolution == nil || ev.Resolution.Action != ResolveApply {
			return apperr.Errorf(apperr.KindConflict, "event_not_applied", "event %s was not applied by hand", eventID)
		}
		if ev.Status != EventProcessed {
			return apperr.Errorf(apperr.KindRefused, "event_not_applied",
				"event %s applied to invoice %s ended %s: %s", eventID, ev.ResolvedInvoiceID, ev.Status, ev.Error)
		}
		if done, err := historyKeyUsed(ctx, tx, key); err != nil || done {
			return err
		}
		note := fmt.Sprintf("event %s (%s) applied to this invoice by %s", ev.ID, ev.Type, ev.Resolution.Actor)
		if err := noteResolution(ctx, tx, ev.ResolvedInvoiceID, key, note, ev.Resolution.Notes, ev.Resolution); err != nil {
			return err
		}
		return finishJobInTx(ctx, tx, key)
	})
	return out, err
}

// historyKeyUsed reports whether a history row of key exists: the change
// it names was made already.
func historyKeyUsed(ctx context.Context, tx pgx.Tx, key string) (bool, error) {
	if key == "" {
		return false, nil
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM invoice_history WHERE op_key = $1)`, key).Scan(&done); err != nil {
		return false, fmt.Errorf("look up change %s: %w", key, err)
	}
	return done, nil
}

// noteResolution writes the event_resolved history row of a resolution on
// invoiceID, under its row lock. An invoice deleted since is left alone.
func noteResolution(ctx context.Context, tx pgx.Tx, invoiceID, key, what, notes string, r *EventResolution) error {
	if _, err := lockInvoice(ctx, tx, invoiceID); err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindNotFound {
			return nil
		}
		return err
	}
	if notes != "" {
		what += ": " + notes
	}
	details, actor := map[string]any{}, ActorReconciler
	if r != nil {
		details, actor = map[string]any{"action": r.Action}, r.Actor
	}
	return addHistory(ctx, tx, invoiceID, history{kind: HistoryEventResolved, notes: truncate(what, textcheck.MaxNotes),
		details: details, opKey: key, actor: actor})
}
