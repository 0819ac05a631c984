package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/ids"
)

// A money movement is what a provider names by several ids: Stripe's
// PaymentIntent, its Charge, a Checkout Session, a Stripe invoice and an
// InvoicePayment can all name the one movement of money. Every event that
// shows two of them links them in movement_refs; a movement has at most one
// payment, whichever of its ids the event that recorded it carried.
//
// Work on a movement is serialised by transaction-scoped advisory locks on
// its refs, taken before any invoice lock: first, blocking and in one
// order, on the refs the event shows; then, without waiting, on the other
// refs of the movements they belong to. Every transaction that changes a
// movement so holds all of its refs, and two such transactions always meet
// on one. When a lock cannot be had without waiting (another transaction
// holds it), the transaction starts again taking every ref blocking, in
// order: a wait in order cannot deadlock, a try never waits.

// maxRefLength bounds a ref, as the table does.
const maxRefLength = 255

// validID reports whether id can be a provider's id: printable ASCII
// without spaces, at most maxRefLength bytes.
func validID(id string) bool {
	return id != "" && len(id) <= maxRefLength && !strings.ContainsFunc(id, func(c rune) bool { return c <= ' ' || c > '~' })
}

// validRefs checks and sorts the refs of an event, dropping duplicates.
func validRefs(refs []string) ([]string, error) {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		if r == "" {
			continue
		}
		if !validID(r) {
			return nil, apperr.Errorf(apperr.KindInvalid, "invalid_ref", "payment id %s is not a provider id", quoteShort(r))
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, apperr.Errorf(apperr.KindInvalid, "invalid_ref", "an event of a money movement needs at least one provider id")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// refRank orders a movement's ids for display: the PaymentIntent names a
// movement best (it is what Stripe's own listings and the comparison with
// Stripe match on), then the Charge, the invoice, the session.
func refRank(ref string) int {
	for i, p := range []string{"pi_", "ch_", "py_", "in_", "cs_", "inpay_"} {
		if strings.HasPrefix(ref, p) {
			return i
		}
	}
	return 99
}

// bestRef is the id a movement's payment shows as its provider_ref.
func bestRef(refs ...[]string) string {
	best := ""
	for _, rs := range refs {
		for _, r := range rs {
			if best == "" || refRank(r) < refRank(best) || (refRank(r) == refRank(best) && r < best) {
				best = r
			}
		}
	}
	return best
}

// movementPayment is a payment of a movement, live or deleted.
type movementPayment struct {
	Payment
	movementID string
	deleted    bool
}

// movementView is what the first round trip of a movement's change reads,
// under the refs' locks: the movements the event's refs belong to, their
// payments, and the invoices the change may touch, locked.
type movementView struct {
	refs      []string // every ref of those movements, sorted
	movements []string // their ids, sorted
	payments  []movementPayment
	invoices  []Invoice // locked, in id order
	subs      subscriptions
}

// invoice returns the locked invoice id, if the view holds it.
func (v *movementView) invoice(id string) (Invoice, bool) {
	for _, inv := range v.invoices {
		if inv.ID == id {
			return inv, true
		}
	}
	return Invoice{}, false
}

// survivor is the movement's payment: the oldest live one, else the oldest;
// nil when it has none.
func (v *movementView) survivor() *movementPayment {
	for i := range v.payments {
		if !v.payments[i].deleted {
			return &v.payments[i]
		}
	}
	if len(v.payments) > 0 {
		return &v.payments[0]
	}
	return nil
}

// errRelock asks for the change to start again holding every ref in refs.
type errRelock struct{ refs []string }

func (e errRelock) Error() string {
	return fmt.Sprintf("movement refs %v are locked by another change", e.refs)
}

// maxRelocks bounds how often a change starts again for a movement that
// keeps growing under it; the worker retries the event later after that.
const maxRelocks = 8

// lockRefsSQL takes the refs' locks in the order of their keys, so that two
// changes wanting some of the same locks never wait for each other in a
// cycle (PostgreSQL computes the select list after the ORDER BY).
const lockRefsSQL = `
	SELECT pg_advisory_xact_lock(k)
	FROM (SELECT DISTINCT hashtextextended(r, 0) AS k FROM unnest($1::text[]) AS u (r)) s
	ORDER BY k`

// The statements below reach each row through an index whatever the
// planner knows of the tables: a set of keys is gathered into an array
// first (ARRAY(...), computed once), then looked up with = ANY. Joins or
// IN (subquery) over the same keys would let the generic plan of a
// prepared statement, made while a table's statistics are stale, hash the
// whole table instead.

// movementOfRefs is the array of the ids of the movements of the refs $1.
const movementOfRefs = `ARRAY(SELECT movement_id FROM movement_refs WHERE ref = ANY ($1))`

// movementClosureSQL reads the movements of the refs $1 with all their
// refs, trying, without waiting, the lock of each ref not in $1.
const movementClosureSQL = `
	WITH c AS (SELECT m.ref, m.movement_id FROM movement_refs m WHERE m.movement_id = ANY (` + movementOfRefs + `))
	SELECT coalesce(array_agg(ref ORDER BY ref), '{}'),
		coalesce(array_agg(DISTINCT movement_id), '{}'),
		coalesce(bool_and(CASE WHEN ref = ANY ($1) THEN true
			ELSE pg_try_advisory_xact_lock(hashtextextended(ref, 0)) END), true),
		(` + subscribedTypes + `)
	FROM c`

// movementPaymentsSQL reads the payments of the movements of the refs $1.
var movementPaymentsSQL = `
	SELECT ` + paymentColumns + `, movement_id, deleted_at IS NOT NULL
	FROM payments
	WHERE movement_id = ANY (` + movementOfRefs + `)
	ORDER BY created_at, id`

// movementInvoicesSQL locks, in id order, the invoices a change of the
// movement of the refs $1 may touch: the invoice named by id ($2), those
// whose Stripe invoice is one of $3 (the event's) or a Stripe invoice of
// the movement, and those of the movement's payments.
var movementInvoicesSQL = `
	WITH m AS MATERIALIZED (SELECT ` + movementOfRefs + ` AS ids)
	SELECT ` + invoiceColumns + ` FROM invoices
	WHERE deleted_at IS NULL AND id = ANY (ARRAY(
		SELECT $2::text
		UNION ALL SELECT id FROM invoices WHERE stripe_invoice_id = ANY ($3::text[] || ARRAY(
			SELECT ref FROM movement_refs WHERE movement_id = ANY ((SELECT ids FROM m)::text[]) AND ref LIKE 'in\_%'))
		UNION ALL SELECT invoice_id FROM payments WHERE movement_id = ANY ((SELECT ids FROM m)::text[])))
	ORDER BY id
	FOR UPDATE`

// stripeInvoiceRefs keeps, of refs, those that may be a Stripe invoice an
// invoice of ours carries (in_...): probing the others would find nothing.
func stripeInvoiceRefs(refs []string) []string {
	out := []string{}
	for _, r := range refs {
		if strings.HasPrefix(r, "in_") {
			out = append(out, r)
		}
	}
	return out
}

// readMovement takes the refs' locks and reads the movement in one round
// trip. lockSet holds the event's refs, and after a relock the refs seen
// since; invoiceID and stripeInvoiceIDs name the invoices an event of a
// payment may be for.
func readMovement(ctx context.Context, tx pgx.Tx, lockSet []string, invoiceID string, stripeInvoiceIDs []string) (movementView, error) {
	var v movementView
	var allLocked bool
	var b pgx.Batch
	b.Queue(lockRefsSQL, lockSet)
	b.Queue(movementClosureSQL, lockSet).QueryRow(func(row pgx.Row) error {
		return row.Scan(&v.refs, &v.movements, &allLocked, &v.subs)
	})
	b.Queue(movementPaymentsSQL, lockSet).Query(func(rows pgx.Rows) error {
		var err error
		v.payments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (movementPayment, error) {
			var p movementPayment
			var err error
			p.Payment, err = scanPayment(rowWith{r, []any{&p.movementID, &p.deleted}})
			return p, err
		})
		return err
	})
	b.Queue(movementInvoicesSQL, lockSet, invoiceID, stripeInvoiceIDs).Query(func(rows pgx.Rows) error {
		var err error
		v.invoices, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invoice, error) { return scanInvoice(r) })
		return err
	})
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return movementView{}, fmt.Errorf("read movement of %v: %w", lockSet, err)
	}
	if !allLocked {
		return movementView{}, errRelock{refs: v.refs}
	}
	return v, nil
}

// onMovement runs change in a transaction holding the locks of every ref of
// the movement of refs, starting again with more locks when the movement
// turns out larger than the refs and another change holds one of its refs.
// A planning store (see Group) only records what the change would lock.
func (s *Store) onMovement(ctx context.Context, refs []string, invoiceID string, stripeInvoiceIDs []string,
	change func(tx pgx.Tx, v *movementView) (EventResult, error)) (EventResult, error) {
	if s.planning() {
		s.group.locks.add(refs, invoiceID, stripeInvoiceIDs)
		return EventResult{}, nil
	}
	lockSet := refs
	for attempt := 0; ; attempt++ {
		var res EventResult
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			v, err := readMovement(ctx, tx, lockSet, invoiceID, stripeInvoiceIDs)
			if err != nil {
				return err
			}
			res, err = change(tx, &v)
			return err
		})
		var relock errRelock
		// A group starts again as a whole, with the locks it lacked.
		if errors.As(err, &relock) && attempt < maxRelocks && s.group == nil {
			lockSet = union(lockSet, relock.refs)
			continue
		}
		return res, err
	}
}

// union is the sorted union of two sorted sets of refs.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// linked is what linking an event's refs into the movement decided.
type linked struct {
	movementID string
	payment    *movementPayment  // the movement's payment, if any
	losers     []movementPayment // live payments merged into payment
	changed    bool              // refs were added or movements merged
	missing    []string          // refs that join the movement: queued by queueMissing
}

// queueLink queues the writes that link refs into one movement: refs not yet
// known join it (see queueMissing); several movements become one, the movement of the oldest
// live payment (or of the oldest payment, or the smallest id), and every
// other payment of them is merged into that payment: marked deleted, with
// a payment_deleted history row when it was live.
func queueLink(b *pgx.Batch, v *movementView, refs []string) linked {
	l := linked{payment: v.survivor()}
	switch {
	case len(v.movements) == 0:
		l.movementID = ids.New("mov")
	case l.payment != nil:
		l.movementID = l.payment.movementID
	default:
		l.movementID = v.movements[0]
	}
	if len(v.movements) > 1 {
		l.changed = true
		others := slices.DeleteFunc(slices.Clone(v.movements), func(m string) bool { return m == l.movementID })
		b.Queue(`UPDATE movement_refs SET movement_id = $1 WHERE movement_id = ANY ($2)`, l.movementID, others)
		for _, p := range v.payments {
			if p.ID == l.payment.ID {
				continue
			}
			b.Queue(`UPDATE payments SET movement_id = NULL, merged_into = $2, deleted_at = coalesce(deleted_at, now())
				WHERE id = $1`, p.ID, l.payment.ID)
			if !p.deleted {
				l.losers = append(l.losers, p)
				b.Queue(`INSERT INTO invoice_history (invoice_id, kind, amount, payment_id, notes, actor)
					VALUES ($1, $2, $3, $4, $5, 'stripe')`, p.InvoiceID, HistoryPaymentDeleted, p.Amount, p.ID,
					fmt.Sprintf("merged into %s: the same money movement, first known by two ids", l.payment.ID))
			}
		}
	}
	for _, r := range refs {
		if _, known := slices.BinarySearch(v.refs, r); !known {
			l.missing = append(l.missing, r)
		}
	}
	l.changed = l.changed || len(l.missing) > 0
	return l
}

// insertRefsSQL adds refs ($1) to a movement ($2). No other change can add
// them meanwhile: it would hold their locks.
const insertRefsSQL = `INSERT INTO movement_refs (ref, movement_id) SELECT r, $2 FROM unnest($1::text[]) AS u (r)
	ON CONFLICT (ref) DO NOTHING`

// queueMissing queues the insert of the refs that join the movement, unless
// a statement of the change already writes them.
func (l *linked) queueMissing(b *pgx.Batch) {
	if len(l.missing) > 0 {
		b.Queue(insertRefsSQL, l.missing, l.movementID)
		l.missing = nil
	}
}
