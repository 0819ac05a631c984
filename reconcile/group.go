package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// A group commit applies several changes in one transaction: the worker
// applies a whole task's events together, so PostgreSQL's cost of a
// transaction (BEGIN, COMMIT, its WAL flush) is paid once per task rather
// than once per event.
//
// Every change keeps its own rules, locks, history and recompute; the group
// only shares the transaction. So that two groups, or a group and a single
// change, never wait for each other in a cycle, a group takes every lock its
// changes will want before the first change runs, in the order a single
// change takes them: the movement refs' advisory locks in key order, then the
// invoices in id order. What those locks are is learnt by running the changes
// once against a planning store, which records each change's refs and
// invoices and writes nothing.

// group is the state a Store bound to a group commit carries.
type group struct {
	// tx is the group's transaction; nil while the group is being planned.
	tx pgx.Tx
	// locks are what the planned changes asked for.
	locks groupLocks
	// payments are the planned online payments that may be written together
	// (see writeFresh).
	payments []freshPayment
	// done holds the results of the events writeFresh applied: their
	// changes return these and do nothing more.
	done map[string]EventResult
	// manual, in a group of jobs, judges manual payments in memory (see
	// manualPayments).
	manual *manualPayments
}

// groupLocks is what the changes of a group lock: the refs of their
// movements, the invoices they name by id, and the Stripe invoices they
// name (an invoice carrying one is theirs). Each list holds an entry per
// change that asked, so that counting tells what two changes share.
type groupLocks struct {
	refs, invoices, stripeInvoices []string
}

// add records the locks of one change of a movement.
func (l *groupLocks) add(refs []string, invoiceID string, stripeInvoiceIDs []string) {
	l.refs = append(l.refs, refs...)
	if invoiceID != "" {
		l.invoices = append(l.invoices, invoiceID)
	}
	l.stripeInvoices = append(l.stripeInvoices, stripeInvoiceIDs...)
}

// sorted is l with each set sorted and without duplicates.
func (l groupLocks) sorted() groupLocks {
	set := func(s []string) []string {
		s = slices.Clone(s)
		slices.Sort(s)
		return nonNil(slices.Compact(s))
	}
	return groupLocks{refs: set(l.refs), invoices: set(l.invoices), stripeInvoices: set(l.stripeInvoices)}
}

// groupInvoicesSQL locks, in id order, every invoice the changes of a group
// may touch: those named by id ($2), those carrying one of the Stripe
// invoices named ($3) or among the movements' refs, and those of the
// movements' payments (as movementInvoicesSQL does for one change). It
// returns each with its currency, and whether it was reached otherwise
// than by its id.
var groupInvoicesSQL = `
	WITH m AS MATERIALIZED (SELECT ` + movementOfRefs + ` AS ids),
	other AS MATERIALIZED (SELECT ARRAY(
		SELECT id FROM invoices WHERE stripe_invoice_id = ANY ($3::text[] || ARRAY(
			SELECT ref FROM movement_refs WHERE movement_id = ANY ((SELECT ids FROM m)::text[]) AND ref LIKE 'in\_%'))
		UNION ALL SELECT invoice_id FROM payments WHERE movement_id = ANY ((SELECT ids FROM m)::text[])) AS ids)
	SELECT id, currency, id = ANY ((SELECT ids FROM other)::text[]) FROM invoices
	WHERE deleted_at IS NULL AND id = ANY ($2::text[] || (SELECT ids FROM other)::text[])
	ORDER BY id
	FOR UPDATE`

// lockedInvoice is a row of groupInvoicesSQL.
type lockedInvoice struct {
	currency string
	// otherwise is set when a change may reach the invoice by a Stripe
	// invoice or a movement's payment, not only by its id.
	otherwise bool
}

// groupView is what taking a group's locks read.
type groupView struct {
	invoices  map[string]lockedInvoice
	knownRefs []string // of the planned payments' refs, those some movement has
	subs      subscriptions
}

// lock takes the group's locks in one round trip, reading what writeFresh
// needs to know under them. paymentRefs are the refs of the planned online
// payments.
func (l groupLocks) lock(ctx context.Context, tx pgx.Tx, paymentRefs []string) (groupView, error) {
	v := groupView{invoices: map[string]lockedInvoice{}}
	var b pgx.Batch
	if len(l.refs) > 0 {
		b.Queue(lockRefsSQL, l.refs)
	}
	b.Queue(groupInvoicesSQL, l.refs, l.invoices, l.stripeInvoices).Query(func(rows pgx.Rows) error {
		var id string
		var inv lockedInvoice
		_, err := pgx.ForEachRow(rows, []any{&id, &inv.currency, &inv.otherwise}, func() error {
			v.invoices[id] = inv
			return nil
		})
		return err
	})
	b.Queue(`SELECT coalesce(array_agg(ref), '{}') FROM movement_refs WHERE ref = ANY ($1)`, nonNil(paymentRefs)).
		QueryRow(func(row pgx.Row) error { return row.Scan(&v.knownRefs) })
	b.Queue(subscribedTypes).QueryRow(func(row pgx.Row) error { return row.Scan(&v.subs) })
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return groupView{}, fmt.Errorf("lock a group of %d refs and %d invoices: %w", len(l.refs), len(l.invoices), err)
	}
	return v, nil
}

// planning reports whether s is a group's planning store: its changes are
// recorded, not made.
func (s *Store) planning() bool { return s.group != nil && s.group.tx == nil }

// Group runs apply once with every change it makes through the store it is
// given sharing one transaction, committed when apply returns nil and rolled
// back otherwise.
//
// apply must be a function of its inputs alone: it runs first against a
// planning store, where changes record what they will lock and return zero
// results, then (once or more, if the group's movements turn out larger than
// planned and another change holds one of their refs) against the
// transaction's store. The results of the last run are the ones committed.
// A change the ledger refuses (an apperr error) refuses before it writes,
// so apply may record that refusal as its result and go on; any other
// error means the transaction is lost, and apply must return it.
func (s *Store) Group(ctx context.Context, apply func(g *Store) error) error {
	plan := &Store{db: s.db, group: &group{}}
	if err := apply(plan); err != nil {
		return fmt.Errorf("plan a group commit: %w", err)
	}
	locks := plan.group.locks.sorted()
	var paymentRefs []string
	for _, p := range plan.group.payments {
		paymentRefs = append(paymentRefs, p.refs...)
	}
	for attempt := 0; ; attempt++ {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			v, err := locks.lock(ctx, tx, paymentRefs)
			if err != nil {
				return err
			}
			g := &Store{db: s.db, group: &group{tx: tx}}
			if g.group.done, err = writeFresh(ctx, tx, plan.group, v); err != nil {
				return err
			}
			return apply(g)
		})
		var relock errRelock
		if errors.As(err, &relock) && attempt < maxRelocks {
			locks.refs = union(locks.refs, relock.refs)
			continue
		}
		return err
	}
}
