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
}

// groupLocks is what the changes of a group lock: the refs of their
// movements, the invoices they name by id, and the Stripe invoices they
// name (an invoice carrying one is theirs).
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
// movements' payments. It is movementInvoicesSQL for a set of invoice ids.
var groupInvoicesSQL = `
	WITH m AS MATERIALIZED (SELECT ` + movementOfRefs + ` AS ids)
	SELECT id FROM invoices
	WHERE deleted_at IS NULL AND id = ANY (ARRAY(
		SELECT unnest($2::text[])
		UNION ALL SELECT id FROM invoices WHERE stripe_invoice_id = ANY ($3::text[] || ARRAY(
			SELECT ref FROM movement_refs WHERE movement_id = ANY ((SELECT ids FROM m)::text[]) AND ref LIKE 'in\_%'))
		UNION ALL SELECT invoice_id FROM payments WHERE movement_id = ANY ((SELECT ids FROM m)::text[])))
	ORDER BY id
	FOR UPDATE`

// lock takes the group's locks in one round trip.
func (l groupLocks) lock(ctx context.Context, tx pgx.Tx) error {
	var b pgx.Batch
	if len(l.refs) > 0 {
		b.Queue(lockRefsSQL, l.refs)
	}
	b.Queue(groupInvoicesSQL, l.refs, l.invoices, l.stripeInvoices)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("lock a group of %d refs and %d invoices: %w", len(l.refs), len(l.invoices), err)
	}
	return nil
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
	for attempt := 0; ; attempt++ {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			if err := locks.lock(ctx, tx); err != nil {
				return err
			}
			return apply(&Store{db: s.db, group: &group{tx: tx}})
		})
		var relock errRelock
		if errors.As(err, &relock) && attempt < maxRelocks {
			locks.refs = union(locks.refs, relock.refs)
			continue
		}
		return err
	}
}
