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
	// Scope is "all" (every live invoice) or "updated_since" (those updated
	// after Since).
	Scope string     `json:"scope"`
	Since *time.Time `json:"since,omitempty"`
	// Checked counts the invoices compared with their rows.
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
	cur := walkKey{}
	if since != nil {
		cur.at = *since
	}
	for {
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
		if b.checked < r.cfg.BatchSize {
			break
		}
		cur = b.last
	}

	if err := r.store.reportLedger(ctx, st); err != nil {
		return time.Time{}, err
	}
	if repairErr != nil {
		return time.Time{}, fmt.Errorf("%d repairs failed: %w", st.RepairFailed, repairErr)
	}
	return watermark, nil
}

// walkKey is an invoice's place in the walk: its id in a full walk,
// (updated_at, id) in an incremental one.
type walkKey struct {
	at time.Time
	id string
}

// checkedBatch is one batch of the walk: how many invoices it held, the
// last one's key, and the drifted ones.
type checkedBatch struct {
	checked int
	last    walkKey
	drifted []string
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

// An incremental walk goes by (updated_at, id) over invoices_updated_id,
// bounded by the watermark: a walk by id filtered on updated_at would read
// every invoice to find the few that changed, and the bound keeps invoices
// changed during the walk (a repair among them) from being chased. Its
// batches are scattered over the keys, so each invoice is joined with
// invoice_truth, which sums only that invoice's payments. The batch and its
// truth are read in one statement, so from one snapshot, which returns only
// the batch's size, its last key and the drifted ids.
const incrementalCheck = `
	WITH batch AS MATERIALIZED (
		SELECT id, updated_at, credited_amount, paid_amount, refunded_amount, disputed_amount, written_off_amount, balance,
			state, paid_at, written_off_at
		FROM invoices
		WHERE deleted_at IS NULL AND updated_at > $3 AND updated_at <= $4
		  AND (updated_at, id) > ($5, $1)
		ORDER BY updated_at, id LIMIT $2),
	tail AS (SELECT updated_at, id FROM batch ORDER BY updated_at DESC, id DESC LIMIT 1),
	drifted AS (
		SELECT b.id FROM batch b JOIN invoice_truth t ON t.id = b.id
		WHERE ` + driftPredicate + `)
	SELECT (SELECT count(*) FROM batch), tail.updated_at, tail.id, d.id
	FROM (SELECT 1) one
	LEFT JOIN tail ON true
	LEFT JOIN drifted d ON true`

// checkBatch checks the batch of invoices after cur: every live invoice
// when since is nil, else those updated in (since, until].
func (s *Store) checkBatch(ctx context.Context, since *time.Time, until time.Time, cur walkKey, limit int) (checkedBatch, error) {
	var rows pgx.Rows
	var err error
	if since == nil {
		rows, err = s.db.Query(ctx, fmt.Sprintf(fullCheck, limit), cur.id)
	} else {
		rows, err = s.db.Query(ctx, incrementalCheck, cur.id, limit, *since, until, cur.at)
	}
	if err != nil {
		return checkedBatch{}, fmt.Errorf("check invoices after %q: %w", cur.id, err)
	}
	defer rows.Close()
	var b checkedBatch
	for rows.Next() {
		var lastAt *time.Time
		var lastID, drifted *string
		if since == nil {
			err = rows.Scan(&b.checked, &lastID, &drifted)
		} else {
			err = rows.Scan(&b.checked, &lastAt, &lastID, &drifted)
		}
		if err != nil {
			return checkedBatch{}, fmt.Errorf("check invoices after %q: %w", cur.id, err)
		}
		if lastID != nil {
			b.last.id = *lastID
		}
		if lastAt != nil {
			b.last.at = *lastAt
		}
		if drifted != nil {
			b.drifted = append(b.drifted, *drifted)
		}
	}
	if err := rows.Err(); err != nil {
		return checkedBatch{}, fmt.Errorf("check invoices after %q: %w", cur.id, err)
	}
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
		SELECT (SELECT count(*) FROM invoices WHERE balance < 0 AND deleted_at IS NULL),
			ARRAY(SELECT id FROM invoices WHERE balance < 0 AND deleted_at IS NULL ORDER BY id LIMIT $1),
			(SELECT count(*) FROM events WHERE status = 'needs_review')`, maxListed).
		Scan(&st.OverpaidCount, &st.Overpaid, &st.NeedsReview)
	if err != nil {
		return fmt.Errorf("report overpaid invoices and events to review: %w", err)
	}
	return nil
}
