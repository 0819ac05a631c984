package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pool invoice ids: one prefix per phase, so that every phase pays invoices
// of its own.
const (
	ingestPrefix    = "binv_i_"
	ingestAllPrefix = "binv_a_" // the ingest measured with the worker draining beside it
	e2ePrefix       = "binv_e_"
	jobsPrefix      = "binv_j_"
)

// poolID is the id of invoice n of a phase's pool.
func poolID(prefix string, n int) string { return fmt.Sprintf("%s%07d", prefix, n) }

// Amounts the phases use: an event pays its invoice in full (it reads paid),
// a manual payment pays part of it.
const (
	poolAmount   = 2000
	manualAmount = 500
)

var invoiceCopyColumns = []string{"id", "number", "client", "currency", "amount", "paid_amount", "written_off_amount",
	"balance", "state", "issue_date", "due_date", "sent_at", "paid_at", "written_off_at", "created_at", "updated_at",
	"refunded_amount"}

func connectPool(ctx context.Context, size int32) (*pgxpool.Pool, error) {
	dbURL, err := need("DATABASE_URL")
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	cfg.MaxConns = size
	// Named, so that the CPU notes can leave the load generator's own
	// queries out of PostgreSQL's CPU (loadgenBackends).
	cfg.ConnConfig.RuntimeParams["application_name"] = loadgenApp
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	return pool, nil
}

// cmdSeedPools copies sent, unpaid invoices for the service phases.
func cmdSeedPools(ctx context.Context, args []string) error {
	fs := flags("seed-pools")
	ingest := fs.Int("ingest", 150000, "invoices the ingest phase pays (it wraps around past them)")
	ingestAll := fs.Int("ingest-all", 150000, "invoices the ingest beside the draining worker pays (it wraps around past them)")
	e2e := fs.Int("e2e", 160000, "invoices the end-to-end phase pays, one each")
	jobs := fs.Int("jobs", 10000, "invoices the jobs phase pays, one manual payment each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if min(*ingest, *ingestAll, *e2e, *jobs) < 0 {
		return errors.New("every pool's size must be 0 or more")
	}
	pool, err := connectPool(ctx, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	start := time.Now()
	sent := start.Add(-time.Hour).UTC().Truncate(time.Microsecond)
	var wg sync.WaitGroup
	pools := []struct {
		prefix string
		n      int
	}{{ingestPrefix, *ingest}, {ingestAllPrefix, *ingestAll}, {e2ePrefix, *e2e}, {jobsPrefix, *jobs}}
	errs := make([]error, len(pools))
	for i, p := range pools {
		wg.Go(func() {
			n := 0
			_, errs[i] = pool.CopyFrom(ctx, pgx.Identifier{"invoices"}, invoiceCopyColumns, pgx.CopyFromFunc(func() ([]any, error) {
				if n == p.n {
					return nil, nil
				}
				n++
				return []any{poolID(p.prefix, n), fmt.Sprintf("B-%s%d", p.prefix[5:6], n), "bench-client", "usd",
					int64(poolAmount), int64(0), int64(0), int64(poolAmount), "open", sent, sent.AddDate(0, 0, 30),
					sent, nil, nil, sent, sent, int64(0)}, nil
			}))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("copy pool invoices: %w", err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE invoices`); err != nil {
		return err
	}
	progress("seeded %d + %d + %d + %d sent invoices for ingest (worker paused, then draining), e2e and jobs in %v",
		*ingest, *ingestAll, *e2e, *jobs, time.Since(start).Round(time.Millisecond))
	return nil
}

// scaleInvoice is invoice i of the scale data set with its three payments
// and maybe a write-off, totals already consistent with its rows.
type scaleInvoice struct {
	id                           string
	client                       int
	amount, paid, writtenOff     int64
	refundedTotal                int64 // of the live payments, as invoice_truth sums it
	state                        string
	created, updated             time.Time
	payments                     [3]int64
	refunded                     [3]int64
	paymentsDeleted, hasWriteOff bool
}

// scaleEpoch is the clock of the scale data: every row of it is at least
// half a day old, as most of a real ledger is, so an incremental run, which
// looks a minute before the last run's start, sees none of them.
var scaleEpoch = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)

// makeScaleInvoice builds invoice i. The mix: 60% paid in three parts, 20%
// partly paid, 10% partly paid and written off, 5% paid then partly
// refunded, 5% with every payment deleted (open again).
func makeScaleInvoice(i int) scaleInvoice {
	inv := scaleInvoice{id: fmt.Sprintf("inv_%09d", i), client: i % 5000, amount: int64(10000 + (i%50)*500)}
	inv.created = scaleEpoch.Add(-time.Duration(i%400) * 24 * time.Hour).Add(-time.Duration(i%86400) * time.Second)
	inv.updated = inv.created.Add(36 * time.Hour)
	a := inv.amount
	switch c := i % 20; {
	case c < 12:
		inv.payments = [3]int64{a / 3, a / 3, a - 2*(a/3)}
	case c < 16:
		inv.payments = [3]int64{a / 6, a / 6, a / 6}
	case c < 18:
		inv.payments = [3]int64{a / 10, a / 10, a / 10}
		inv.hasWriteOff = true
	case c < 19:
		inv.payments = [3]int64{a / 3, a / 3, a - 2*(a/3)}
		inv.refunded[2] = 1000
	default:
		inv.payments = [3]int64{a / 4, a / 4, a / 4}
		inv.paymentsDeleted = true
	}
	if !inv.paymentsDeleted {
		for k := range 3 {
			inv.paid += inv.payments[k] - inv.refunded[k]
			inv.refundedTotal += inv.refunded[k]
		}
	}
	if inv.hasWriteOff {
		inv.writtenOff = a - inv.paid
	}
	// As invoice_truth decides it.
	switch {
	case inv.paid >= a:
		inv.state = "paid"
	case inv.writtenOff > 0:
		inv.state = "written_off"
	case inv.paid <= 0:
		inv.state = "open"
	default:
		inv.state = "partial"
	}
	return inv
}

func (inv *scaleInvoice) row() []any {
	var paidAt, writtenOffAt any
	if inv.state == "paid" {
		paidAt = inv.updated
	}
	if inv.state == "written_off" {
		writtenOffAt = inv.updated // the write-off's created_at, as invoice_truth reports it
	}
	issue := inv.created.Truncate(24 * time.Hour)
	return []any{inv.id, "S-" + inv.id[4:], fmt.Sprintf("client-%04d", inv.client), "usd",
		inv.amount, inv.paid, inv.writtenOff, inv.amount - inv.paid - inv.writtenOff, inv.state,
		issue, issue.AddDate(0, 0, 30), inv.created, paidAt, writtenOffAt, inv.created, inv.updated, inv.refundedTotal}
}

var (
	paymentCopyColumns = []string{"id", "invoice_id", "source", "amount", "refunded_amount", "currency", "paid_date",
		"method", "notes", "provider_ref", "deleted_at", "created_at"}
	writeOffCopyColumns = []string{"id", "invoice_id", "amount", "notes", "written_off_on", "created_at", "actor"}
)

func (inv *scaleInvoice) paymentRow(k int) []any {
	at := inv.created.Add(time.Duration(k+1) * 8 * time.Hour)
	source, method, ref := "manual", "check", any(nil)
	if k == 2 {
		source, method, ref = "stripe", "card", "pi_scale_"+inv.id[4:]
	}
	var deleted any
	if inv.paymentsDeleted {
		deleted = inv.updated
	}
	return []any{fmt.Sprintf("pay_%s_%d", inv.id[4:], k), inv.id, source, inv.payments[k], inv.refunded[k], "usd",
		at.Truncate(24 * time.Hour), method, "", ref, deleted, at}
}

// cmdSeedScale copies invoices 1..n with three payments each, in chunks of
// one transaction each (invoices, payments and write-offs of a chunk
// together, so the foreign keys hold), on two connections at once.
func cmdSeedScale(ctx context.Context, args []string) error {
	fs := flags("seed-scale")
	n := fs.Int("invoices", 1000000, "invoices to seed (three payments each)")
	chunk := fs.Int("chunk", 25000, "invoices per transaction")
	streams := fs.Int("streams", 2, "concurrent COPY connections")
	keep := fs.Bool("keep", false, "keep what the ledger holds (by default it is emptied first, so the data set is exactly the seeded one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, err := connectPool(ctx, int32(*streams))
	if err != nil {
		return err
	}
	defer pool.Close()
	if !*keep {
		if _, err := pool.Exec(ctx, `TRUNCATE invoices, overpaid_invoices, payments, refunds, refund_totals, disputes, movement_refs, credit_notes, write_offs,
			invoice_history, events, jobs, notifications, deliveries, runs`); err != nil {
			return fmt.Errorf("empty the ledger: %w", err)
		}
	}
	progress("seeding %d invoices and %d payments with COPY...", *n, 3**n)
	start := time.Now()
	chunks := make(chan int)
	errs := make([]error, *streams)
	var wg sync.WaitGroup
	var done sync.Mutex
	seeded, lastNote := 0, start
	for s := range *streams {
		wg.Go(func() {
			for first := range chunks {
				last := min(first+*chunk-1, *n)
				if err := copyChunk(ctx, pool, first, last); err != nil {
					errs[s] = err
					return
				}
				done.Lock()
				seeded += last - first + 1
				if time.Since(lastNote) > 10*time.Second {
					lastNote = time.Now()
					progress("  %d invoices seeded (%.0f/s)", seeded, float64(seeded)/time.Since(start).Seconds())
				}
				done.Unlock()
			}
		})
	}
feed:
	for first := 1; first <= *n; first += *chunk {
		select {
		case chunks <- first:
		case <-ctx.Done():
			break feed
		}
	}
	close(chunks)
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := noteOverpaid(ctx, pool); err != nil {
		return err
	}
	copied := time.Since(start)
	progress("copied %d invoices, %d payments in %v; vacuum analyze (as autovacuum would have by now)...",
		*n, 3**n, copied.Round(time.Millisecond))
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) invoices, payments, write_offs`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	// A checkpoint now keeps the seed's writes out of the timings that follow.
	if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil {
		progress("checkpoint skipped: %v", err)
	}
	progress("seeded in %v (copy %v)", time.Since(start).Round(time.Millisecond), copied.Round(time.Millisecond))
	return nil
}

// noteOverpaid lists the seeded overpaid invoices in overpaid_invoices, as
// the ledger's recompute would have.
func noteOverpaid(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, `INSERT INTO overpaid_invoices (invoice_id) SELECT id FROM invoices WHERE balance < 0`); err != nil {
		return fmt.Errorf("list the overpaid invoices: %w", err)
	}
	return nil
}

func copyChunk(ctx context.Context, pool *pgxpool.Pool, first, last int) error {
	invs := make([]scaleInvoice, 0, last-first+1)
	for i := first; i <= last; i++ {
		invs = append(invs, makeScaleInvoice(i))
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		i := 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"invoices"}, invoiceCopyColumns, pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(invs) {
				return nil, nil
			}
			i++
			return invs[i-1].row(), nil
		})); err != nil {
			return fmt.Errorf("copy invoices %d..%d: %w", first, last, err)
		}
		j := 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"payments"}, paymentCopyColumns, pgx.CopyFromFunc(func() ([]any, error) {
			if j == 3*len(invs) {
				return nil, nil
			}
			j++
			return invs[(j-1)/3].paymentRow((j - 1) % 3), nil
		})); err != nil {
			return fmt.Errorf("copy payments of invoices %d..%d: %w", first, last, err)
		}
		var wo [][]any
		for _, inv := range invs {
			if inv.hasWriteOff {
				wo = append(wo, []any{"wo_" + inv.id[4:], inv.id, inv.writtenOff, "bench", inv.updated.Truncate(24 * time.Hour), inv.updated, "bench"})
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"write_offs"}, writeOffCopyColumns, pgx.CopyFromRows(wo)); err != nil {
			return fmt.Errorf("copy write-offs of invoices %d..%d: %w", first, last, err)
		}
		return nil
	})
}
