package reconcile_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// randomLedger writes n invoices and their rows straight into the tables,
// drawn at random: drafts, deleted invoices, invoices with no payment,
// manual and online payments, refunds, deleted payments, overpayments,
// live and reversed credit notes, live and reversed (reopened) write-offs,
// with payments after them. The
// ledger would refuse some of these combinations; the truth must hold for
// any rows. Stored totals are then set from invoice_truth, as recompute
// sets them, so the ledger starts without drift. It returns the live
// invoices' ids in key order.
func randomLedger(t *testing.T, db *pgxpool.Pool, r *rand.Rand, n int) []string {
	t.Helper()
	ctx := context.Background()
	var live []string
	b := &pgx.Batch{}
	for range n {
		id := ids.New("inv")
		amount := int64(1000 + r.IntN(9000))
		var sentAt, deletedAt *time.Time
		if r.IntN(100) >= 15 {
			at := time.Now().Add(-time.Duration(r.IntN(1000)) * time.Hour)
			sentAt = &at
		}
		if r.IntN(100) < 8 {
			at := time.Now()
			deletedAt = &at
		} else {
			live = append(live, id)
		}
		b.Queue(`INSERT INTO invoices (id, number, client, currency, amount, balance, sent_at, deleted_at)
			VALUES ($1, 'N-1', 'acme', 'usd', $2, $2, $3, $4)`, id, amount, sentAt, deletedAt)

		payments := r.IntN(5) // none in a fifth of the invoices
		for k := range payments {
			// Up to the whole amount each: several of them overpay.
			paid := int64(1 + r.IntN(int(amount)))
			var refunded int64
			if r.IntN(100) < 30 {
				refunded = int64(r.IntN(int(paid) + 1))
			}
			var deleted *time.Time
			if r.IntN(100) < 20 {
				at := time.Now()
				deleted = &at
			}
			source, ref := "manual", (*string)(nil)
			if r.IntN(2) == 0 {
				source, ref = "stripe", new(string)
				*ref = fmt.Sprintf("pi_%s_%d", id, k)
			}
			b.Queue(`INSERT INTO payments (id, invoice_id, source, amount, refunded_amount, currency, paid_date, provider_ref, deleted_at)
				VALUES ($1, $2, $3, $4, $5, 'usd', current_date, $6, $7)`,
				ids.New("pay"), id, source, paid, refunded, ref, deleted)
		}

		for k := range r.IntN(3) { // none in a third of the invoices
			var reversed *time.Time
			if r.IntN(100) < 30 {
				at := time.Now()
				reversed = &at
			}
			b.Queue(`INSERT INTO credit_notes (id, invoice_id, amount, reason, op_key, reversed_at)
				VALUES ($1, $2, $3, 'other', $4, $5)`,
				ids.New("cn"), id, 1+r.IntN(int(amount)/2), fmt.Sprintf("cn_%s_%d", id, k), reversed)
		}

		switch w := r.IntN(100); {
		case w < 20: // written off
			b.Queue(`INSERT INTO write_offs (id, invoice_id, amount, actor, created_at) VALUES ($1, $2, $3, 'tester', now() - $4 * interval '1 minute')`,
				ids.New("wo"), id, 1+r.IntN(int(amount)), r.IntN(10000))
		case w < 35: // written off, reopened, and perhaps written off again
			b.Queue(`INSERT INTO write_offs (id, invoice_id, amount, actor, reversed_at, reversed_by) VALUES ($1, $2, $3, 'tester', now(), 'tester')`,
				ids.New("wo"), id, 1+r.IntN(int(amount)))
			if w < 28 {
				b.Queue(`INSERT INTO write_offs (id, invoice_id, amount, actor) VALUES ($1, $2, $3, 'tester')`,
					ids.New("wo"), id, 1+r.IntN(int(amount)))
			}
		}
	}
	b.Queue(`
		UPDATE invoices i SET
			credited_amount = t.credited_amount,
			paid_amount = t.paid_amount,
			refunded_amount = t.refunded_amount,
			disputed_amount = t.disputed_amount,
			written_off_amount = t.written_off_amount,
			balance = t.balance,
			state = t.state,
			paid_at = CASE WHEN t.state = 'paid' THEN now() END,
			written_off_at = CASE WHEN t.state = 'written_off' THEN t.written_off_at END
		FROM invoice_truth t WHERE t.id = i.id`)
	noErr(t, db.SendBatch(ctx, b).Close())
	slices.Sort(live)
	return live
}

// TestLedgerTruthBetweenMatchesView holds invoice_truth_between, which the
// full check reads a batch's range from, to invoice_truth, which every
// ledger change recomputes from, over random ranges of a random ledger.
func TestLedgerTruthBetweenMatchesView(t *testing.T) {
	t.Parallel()
	_, db := testenv.Store(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	randomLedger(t, db, r, 300)

	var all []string
	rows, err := db.Query(ctx, `SELECT id FROM invoices ORDER BY id`)
	noErr(t, err)
	all, err = pgx.CollectRows(rows, pgx.RowTo[string])
	noErr(t, err)

	// The state of every branch of the rules must occur, or the comparison
	// proves less than it seems.
	var states []string
	noErr(t, db.QueryRow(ctx, `SELECT array_agg(DISTINCT state ORDER BY state) FROM invoice_truth`).Scan(&states))
	if want := []string{"draft", "open", "paid", "partial", "written_off"}; !slices.Equal(states, want) {
		t.Fatalf("the random ledger has states %v, want all of %v", states, want)
	}

	type bounds struct{ first, last string }
	ranges := []bounds{
		{"", "~"},                          // every invoice
		{all[0], all[len(all)-1]},          // from the first id to the last
		{all[7], all[7]},                   // one invoice
		{all[5] + "-", all[40] + "-"},      // bounds that are no invoice's id
		{all[30], all[20]},                 // empty
		{all[len(all)-1] + "-", "~"},       // past the last
		{all[len(all)/2], all[len(all)-1]}, // the upper half
	}
	for range 40 {
		i, j := r.IntN(len(all)), r.IntN(len(all))
		ranges = append(ranges, bounds{all[min(i, j)], all[max(i, j)]})
	}
	for _, b := range ranges {
		var rangeRows, differ int
		err := db.QueryRow(ctx, `
			WITH v AS (SELECT * FROM invoice_truth WHERE id BETWEEN $1 AND $2),
			     f AS (SELECT * FROM invoice_truth_between($1, $2))
			SELECT (SELECT count(*) FROM f),
			       (SELECT count(*) FROM ((SELECT * FROM v EXCEPT ALL SELECT * FROM f)
			                              UNION ALL (SELECT * FROM f EXCEPT ALL SELECT * FROM v)) d)`,
			b.first, b.last).Scan(&rangeRows, &differ)
		noErr(t, err)
		if differ != 0 {
			t.Fatalf("range [%s, %s]: %d rows differ between invoice_truth_between and invoice_truth", b.first, b.last, differ)
		}
		if b == ranges[0] && rangeRows != len(all) {
			t.Fatalf("the whole range has %d rows, want %d", rangeRows, len(all))
		}
	}
}

// TestRunFullFindsDriftAnywhereInBatch plants drift at the first, last and
// a middle invoice of batches, on an invoice without payments, and at
// random, of every kind the drift predicate compares, and expects a full
// run to find exactly what invoice_truth calls drift, and a second to find
// nothing once the first has repaired it.
func TestRunFullFindsDriftAnywhereInBatch(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	live := randomLedger(t, db, r, 90)
	const batch = 7
	runner := reconcile.NewRunner(s, &recordingRelay{store: s}, reconcile.RunnerConfig{RelayAfter: time.Minute, BatchSize: batch})

	t.Run("a random ledger with its totals set from invoice_truth has no drift", func(t *testing.T) {
		_, steps := runOnce(t, s, runner, true)
		if l := steps.Ledger; l.Checked != len(live) || l.DriftFound != 0 {
			t.Fatalf("ledger step %+v, want %d checked and no drift", l, len(live))
		}
	})

	// Each way a stored invoice can disagree with its rows, keeping the
	// balance CHECK true.
	drifts := []string{
		`paid_amount = paid_amount + 1, balance = balance - 1`,
		`credited_amount = credited_amount + 2, balance = balance - 2`,
		`written_off_amount = written_off_amount + 3, balance = balance - 3`,
		`state = CASE state WHEN 'open' THEN 'partial' ELSE 'open' END`,
		`paid_at = CASE WHEN paid_at IS NULL THEN now() END`,
		`written_off_at = CASE WHEN written_off_at IS NULL THEN now() ELSE written_off_at - interval '1 second' END`,
	}
	plant := map[string]bool{}
	for b := 0; b*batch < len(live); b += 2 {
		batchIDs := live[b*batch : min((b+1)*batch, len(live))]
		plant[batchIDs[0]] = true
		plant[batchIDs[len(batchIDs)-1]] = true
		plant[batchIDs[len(batchIDs)/2]] = true
	}
	var unpaid string
	noErr(t, db.QueryRow(ctx, `
		SELECT i.id FROM invoices i
		WHERE i.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.invoice_id = i.id)
		ORDER BY i.id DESC LIMIT 1`).Scan(&unpaid))
	plant[unpaid] = true
	for range 5 {
		plant[live[r.IntN(len(live))]] = true
	}
	for id := range plant {
		_, err := db.Exec(ctx, `UPDATE invoices SET `+drifts[r.IntN(len(drifts))]+` WHERE id = $1`, id)
		noErr(t, err)
	}
	// Drift on a deleted invoice is no one's concern.
	_, err := db.Exec(ctx, `UPDATE invoices SET state = 'open' WHERE deleted_at IS NOT NULL`)
	noErr(t, err)

	// What invoice_truth calls drift, as the check compared before it read
	// ranges; every planted change is drift by it.
	rows, err := db.Query(ctx, `
		SELECT b.id FROM invoices b JOIN invoice_truth t ON t.id = b.id
		WHERE b.deleted_at IS NULL AND (b.credited_amount, b.paid_amount, b.written_off_amount, b.balance, b.state,
			b.paid_at IS NOT NULL, b.written_off_at)
			IS DISTINCT FROM (t.credited_amount, t.paid_amount, t.written_off_amount, t.balance, t.state, t.state = 'paid',
			CASE WHEN t.state = 'written_off' THEN t.written_off_at END)
		ORDER BY b.id`)
	noErr(t, err)
	want, err := pgx.CollectRows(rows, pgx.RowTo[string])
	noErr(t, err)
	if planted := slices.Sorted(func(yield func(string) bool) {
		for id := range plant {
			if !yield(id) {
				return
			}
		}
	}); !slices.Equal(want, planted) {
		t.Fatalf("invoice_truth sees drift on %v, planted on %v", want, planted)
	}

	t.Run("a full run finds every drift, wherever it is in its batch", func(t *testing.T) {
		_, steps := runOnce(t, s, runner, true)
		l := steps.Ledger
		if l.Checked != len(live) || l.DriftFound != len(want) || l.Repaired != len(want) || l.RepairFailed != 0 {
			t.Fatalf("ledger step %+v, want %d checked, %d drifted and repaired", l, len(live), len(want))
		}
		if !slices.Equal(l.Drifted, want) {
			t.Fatalf("drifted %v, want %v", l.Drifted, want)
		}
	})

	t.Run("what the run repaired through invoice_truth, its next run agrees with", func(t *testing.T) {
		_, steps := runOnce(t, s, runner, true)
		if l := steps.Ledger; l.Checked != len(live) || l.DriftFound != 0 {
			t.Fatalf("ledger step %+v", l)
		}
	})
}
