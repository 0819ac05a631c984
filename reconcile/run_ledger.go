package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/outbox"
)

// watermarkMargin is how far before the last watermark an incremental
// check starts. updated_at is the start time of the transaction that wrote
// it (now()), so a change begun before a run's watermark may commit after
// the run walked past it; going back a minute catches those, since ledger
// transactions are short even when they wait for a row lock.
const watermarkMargin = time.Minute

// maxListed caps the invoice ids a run lists, so its record stays small
// whatever it finds; the counts are always complete.
const maxListed = 100

// LedgerStep is what the ledger check found.
type LedgerStep struct {
	// Scope is "all" (every live invoice) or "updated_since" (those with
	// history written after Since: every ledger change writes a row).
	Scope string     `json:"scope"`
	Since *time.Time `json:"since,omitempty"`
	// Checked counts the invoices compared with their rows; in an
	// incremental walk, an invoice changed again further on in the window is
	// compared, and counted, again.
	Checked int `json:"checked"`
	// DriftFound counts invoices whose stored totals differed from their
	// rows; Drifted names the first maxListed.
	DriftFound int      `json:"drift_found"`
	Drifted    []string `json:"drifted,omitempty"`
	// Repaired counts the drifts repaired, each with a reconciled history
	// row; a drift a concurrent change already fixed is not counted.
	Repaired     int `json:"repaired"`
	RepairFailed int `json:"repair_failed,omitempty"`
	// Overpaid names the first maxListed live invoices with a negative
	// balance, of every invoice, not only those checked; OverpaidCount
	// counts them all.
	Overpaid      []string `json:"overpaid"`
	OverpaidCount int      `json:"overpaid_count"`
	// NeedsReview counts the events kept for a human (a currency mismatch).
	NeedsReview int    `json:"needs_review"`
	Error       string `json:"error,omitempty"`
}

// ledgerStep checks invoices against their rows and repairs every drift.
// It returns the run's watermark: invoices updated up to it were checked.
func (r *Runner) ledgerStep(ctx context.Context, runID string, full bool, st *LedgerStep) (time.Time, error) {
	st.Overpaid = []string{}
	// Taken before the walk: a change committed after it is either seen by
	// the walk or left to the next run, which starts before this time.
	watermark, err := r.store.dbNow(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var since *time.Time
	if !full {
		last, err := r.store.lastWatermark(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if last != nil {
			s := last.Add(-watermarkMargin).UTC()
			since = &s
		}
	}
	st.Scope, st.Since = "all", since
	if since != nil {
		st.Scope = "updated_since"
	}

	var repairErr error
	var cur ledgerKey
	changed := true
	if since != nil {
		first, found, err := r.store.firstHistorySince(ctx, *since, watermark)
		if err != nil {
			return time.Time{}, err
		}
		cur.history, changed = first-1, found
	}
	for changed {
		b, err := r.store.checkBatch(ctx, since, watermark, cur, r.cfg.BatchSize)
		if err != nil {
			return time.Time{}, err
		}
		st.Checked += b.checked
		for _, id := range b.drifted {
			st.DriftFound++
			if len(st.Drifted) < maxListed {
				st.Drifted = append(st.Drifted, id)
			}
			repaired, err := r.store.repairDrift(ctx, runID, id)
			if err != nil {
				if ctx.Err() != nil {
					return time.Time{}, err
				}
				// One invoice failing to repair must not hide the others.
				st.RepairFailed++
				repairErr = errors.Join(repairErr, err)
				continue
			}
			if repaired {
				st.Repaired++
			}
		}
		if b.last {
			break
		}
		cur = b.next
	}

	if err := r.store.reportLedger(ctx, st); err != nil {
		return time.Time{}, err
	}
	if repairErr != nil {
		return time.Time{}, fmt.Errorf("%d repairs failed: %w", st.RepairFailed, repairErr)
	}
	return watermark, nil
}

// ledgerKey is the walk's place: the last invoice id of a full walk, the
// last history row of an incremental one.
type ledgerKey struct {
	id      string
	history int64
}

// checkedBatch is one batch of the walk: how many invoices it checked, the
// drifted ones, where the next batch starts, and whether this was the last.
type checkedBatch struct {
	checked int
	drifted []string
	next    ledgerKey
	last    bool
}

// driftPredicate compares an invoice b with its truth t: the totals, the
// state, and the times recompute derives from them.
const driftPredicate = `
	(b.credited_amount, b.paid_amount, b.refunded_amount, b.disputed_amount, b.written_off_amount, b.balance, b.state,
	 b.paid_at IS NOT NULL, b.written_off_at)
	IS DISTINCT FROM
	(t.credited_amount, t.paid_amount, t.refunded_amount, t.disputed_amount, t.written_off_amount, t.balance, t.state,
	 t.state = 'paid',
	 CASE WHEN t.state = 'written_off' THEN t.written_off_at END)`

// A full walk goes by id over the primary key, a batch at a time. Each batch
// is checked as the key range [first id, last id] of its invoices, against
// invoice_truth_between: the range's payments are summed in one grouped pass
// and merge-joined with its invoices, where invoice_truth would sum them
// invoice by invoice. A full run so costs about what one statement over every
// invoice does, yet holds one batch at a time. The batch, its stored totals
// and its truth are read in one statement, so from one snapshot. The stored
// side is bounded by the range too: PostgreSQL carries equalities across a
// join, not ranges, and would read every invoice to join the range's.
//
// The range's bounds reach its scans through a lateral join, so they are
// known only when the statement runs, whether pgx's prepared statement gets
// custom plans or the generic one: the planner then estimates the range at
// its default fraction of each table and merge-joins index scans over it,
// which fits any batch size. Bound by values it can see (two queries, or
// parameters), a custom plan would read a batch's narrow range off the
// histogram as a handful of rows and probe write-offs invoice by invoice.
//
// The batch size is written into the statement (%d) rather than passed: as a
// parameter, LIMIT makes the generic plan's estimate of a batch a tenth of
// the invoices, dearer than the custom plans, so each batch would be planned
// afresh; written in, the generic plan costs the same and, once PostgreSQL
// has compared them, is kept, the same plan as above.
const fullCheck = `
	SELECT r.n, r.last_id, d.id
	FROM (
		SELECT count(*) AS n, min(id) AS first_id, max(id) AS last_id
		FROM (SELECT id FROM invoices WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT %d) batch
	) r
	LEFT JOIN LATERAL (
		SELECT b.id
		FROM invoices b JOIN invoice_truth_between(r.first_id, r.last_id) t ON t.id = b.id
		WHERE b.deleted_at IS NULL AND b.id BETWEEN r.first_id AND r.last_id AND ` + driftPredicate + `
	) d ON true`

// An incremental walk goes by id over the history rows written in (since,
// until]: every ledger change writes one, and the block-range index on
// invoice_history.at finds them (an index on invoices.updated_at would cost
// every change its heap-only update, see migration 012). The bound keeps
// invoices changed during the walk (a repair among them) from being chased.
// A batch takes the next limit history rows and checks their live invoices
// against invoice_truth, which sums only that invoice's payments; an
// invoice changed again in a later batch is checked again. The batch and
// its truth are read in one statement, so from one snapshot, which returns
// the rows read, the last one's id, the invoices checked and the drifted
// ids.
const incrementalCheck = `
	WITH changes AS MATERIALIZED (
		SELECT id, invoice_id FROM invoice_history
		WHERE at > $2 AND at <= $3 AND id > $1
		ORDER BY id LIMIT $4),
	batch AS MATERIALIZED (
		SELECT id, credited_amount, paid_amount, refunded_amount, disputed_amount, written_off_amount, balance,
			state, paid_at, written_off_at
		FROM invoices
		WHERE deleted_at IS NULL AND id IN (SELECT invoice_id FROM changes)),
	drifted AS (
		SELECT b.id FROM batch b JOIN invoice_truth t ON t.id = b.id
		WHERE ` + driftPredicate + `)
	SELECT (SELECT count(*) FROM changes), (SELECT coalesce(max(id), 0) FROM changes), (SELECT count(*) FROM batch), d.id
	FROM (SELECT 1) one
	LEFT JOIN drifted d ON true`

// firstHistorySince returns the id of the first history row written in
// (since, until], and whether there is one. The incremental walk starts
// there, so it reads the history's primary key from the window on, not
// from its oldest row.
//
// The history's block-range index finds the window. PostgreSQL summarizes
// the ranges written since it last looked when autovacuum visits the
// table; a range not yet summarized is read whole, so the run summarizes
// them first, which reads only what was written since. Only the table's
// owner may: a role that is not leaves it to autovacuum, and the walk reads
// the ranges not yet summarized (slower, the same result). min(id + 0) keeps
// the planner from answering min(id) by walking the primary key from its
// oldest row until one falls in the window.
func (s *Store) firstHistorySince(ctx context.Context, since, until time.Time) (int64, bool, error) {
	if _, err := s.db.Exec(ctx, `SELECT brin_summarize_new_values('invoice_history_at')`); err != nil && !isInsufficientPrivilege(err) {
		return 0, false, fmt.Errorf("summarize the history's new block ranges: %w", err)
	}
	var first *int64
	if err := s.db.QueryRow(ctx, `SELECT min(id + 0) FROM invoice_history WHERE at > $1 AND at <= $2`,
		since, until).Scan(&first); err != nil {
		return 0, false, fmt.Errorf("find the history written since %s: %w", since, err)
	}
	if first == nil {
		return 0, false, nil
	}
	return *first, true, nil
}

// checkBatch checks the batch of invoices after cur: every live invoice
// when since is nil, else those with history written in (since, until].
func (s *Store) checkBatch(ctx context.Context, since *time.Time, until time.Time, cur ledgerKey, limit int) (checkedBatch, error) {
	var rows pgx.Rows
	var err error
	if since == nil {
		rows, err = s.db.Query(ctx, fmt.Sprintf(fullCheck, limit), cur.id)
	} else {
		rows, err = s.db.Query(ctx, incrementalCheck, cur.history, *since, until, limit)
	}
	if err != nil {
		return checkedBatch{}, fmt.Errorf("check invoices after %+v: %w", cur, err)
	}
	defer rows.Close()
	var b checkedBatch
	var read int // invoices in a full walk, history rows in an incremental one
	for rows.Next() {
		var lastID, drifted *string
		if since == nil {
			err = rows.Scan(&b.checked, &lastID, &drifted)
			read = b.checked
		} else {
			err = rows.Scan(&read, &b.next.history, &b.checked, &drifted)
		}
		if err != nil {
			return checkedBatch{}, fmt.Errorf("check invoices after %+v: %w", cur, err)
		}
		if lastID != nil {
			b.next.id = *lastID
		}
		if drifted != nil {
			b.drifted = append(b.drifted, *drifted)
		}
	}
	if err := rows.Err(); err != nil {
		return checkedBatch{}, fmt.Errorf("check invoices after %+v: %w", cur, err)
	}
	b.last = read < limit
	return b, nil
}

// invoiceTotals is what a reconciled history row shows of an invoice
// before and after its repair.
type invoiceTotals struct {
	CreditedAmount   Amount     `json:"credited_amount"`
	PaidAmount       Amount     `json:"paid_amount"`
	RefundedAmount   Amount     `json:"refunded_amount"`
	DisputedAmount   Amount     `json:"disputed_amount"`
	WrittenOffAmount Amount     `json:"written_off_amount"`
	Balance          Amount     `json:"balance"`
	State            State      `json:"state"`
	PaidAt           *time.Time `json:"paid_at"`
	WrittenOffAt     *time.Time `json:"written_off_at"`
}

func totalsAt(inv Invoice) invoiceTotals {
	return invoiceTotals{inv.CreditedAmount, inv.PaidAmount, inv.RefundedAmount, inv.DisputedAmount, inv.WrittenOffAmount,
		inv.Balance, inv.State, inv.PaidAt, inv.WrittenOffAt}
}

// repairDrift sets a drifted invoice's totals from its rows, as every ledger
// change does, writes a reconciled history row with the totals before and
// after, and notifies invoice.reconciled. The drift is checked again under the row lock: a change that
// committed since the batch was read may have fixed it already. It reports
// whether it repaired anything.
func (s *Store) repairDrift(ctx context.Context, runID, id string) (bool, error) {
	var repaired bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		before, err := lockInvoice(ctx, tx, id)
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindNotFound {
			return nil // deleted since the batch was read: nothing to prove
		}
		if err != nil {
			return err
		}
		var drifted bool
		if err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM invoices b JOIN invoice_truth t ON t.id = b.id
			WHERE b.id = $1 AND `+driftPredicate+`)`, id).Scan(&drifted); err != nil {
			return fmt.Errorf("check drift of invoice %s: %w", id, err)
		}
		if !drifted {
			return nil
		}
		after, err := recompute(ctx, tx, id)
		if err != nil {
			return err
		}
		repaired = true
		if err := addHistory(ctx, tx, id, history{
			kind:  HistoryReconciled,
			notes: "stored totals differed from the payments, credit notes and write-offs; recomputed",
			details: map[string]any{
				"run_id": runID,
				"before": totalsAt(before),
				"after":  totalsAt(after),
			},
			// Names the repair: a run repairs an invoice at most once.
			opKey: "reconcile:" + runID + ":" + id,
			actor: ActorReconciler,
		}); err != nil {
			return err
		}
		// Subscribers saw the wrong totals: they are told the right ones in
		// the repair's own transaction, like any ledger change.
		return notify(ctx, tx, before.State, after, notice{typ: outbox.Reconciled})
	})
	if err != nil {
		return false, fmt.Errorf("repair invoice %s: %w", id, err)
	}
	return repaired, nil
}

// reportLedger adds what the ledger holds for a human: overpaid invoices
// and events needing review.
func (s *Store) reportLedger(ctx context.Context, st *LedgerStep) error {
	err := s.db.QueryRow(ctx, `
		WITH live AS (SELECT o.invoice_id FROM overpaid_invoices o JOIN invoices i ON i.id = o.invoice_id
			WHERE i.deleted_at IS NULL)
		SELECT (SELECT count(*) FROM live),
			ARRAY(SELECT invoice_id FROM live ORDER BY invoice_id LIMIT $1),
			(SELECT count(*) FROM events WHERE status = 'needs_review')`, maxListed).
		Scan(&st.OverpaidCount, &st.Overpaid, &st.NeedsReview)
	if err != nil {
		return fmt.Errorf("report overpaid invoices and events to review: %w", err)
	}
	return nil
}
