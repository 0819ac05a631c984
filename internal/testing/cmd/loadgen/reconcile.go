package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// noRelay stands in for Redis when REDIS_URL is not set: the run's relay
// step then queues nothing.
type noRelay struct{}

func (noRelay) RelayReceived(context.Context, time.Duration) (int, error) { return 0, nil }
func (noRelay) EnqueueEvents(context.Context, []string) error             { return nil }

// cmdReconcile runs one reconciliation as the worker's job would (the same
// Runner, default batch size), in this process alone so that its peak
// resident memory (VmHWM) is the run's, and reports its time and that peak.
func cmdReconcile(ctx context.Context, args []string) error {
	fs := flags("reconcile")
	full := fs.Bool("full", false, "check every invoice (else only those changed since the last run)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	name := "reconcile_incremental"
	if *full {
		name = "reconcile_full"
	}
	zcfg := zap.NewProductionConfig()
	zcfg.Level = zap.NewAtomicLevelAt(zapcore.WarnLevel)
	log, err := zcfg.Build()
	if err != nil {
		return err
	}
	db, err := connectPool(ctx, 4)
	if err != nil {
		return err
	}
	defer db.Close()
	store := reconcile.NewStore(db)
	var relay reconcile.EventQueue = noRelay{}
	if raw := env("REDIS_URL", ""); raw != "" {
		opt, err := redisOptions(raw)
		if err != nil {
			return err
		}
		c := worker.NewClient(opt, store, log)
		defer c.Close()
		relay = c
	}
	runner := reconcile.NewRunner(store, relay, reconcile.RunnerConfig{RelayAfter: 2 * time.Minute, Log: log.Sugar()})
	base, _ := peakRSS()

	progress("%s: running...", name)
	start := time.Now()
	id, runErr := runner.Run(ctx, *full)
	took := time.Since(start)
	peak, err := peakRSS()
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if runErr != nil {
		return fmt.Errorf("run %s: %w", id, runErr)
	}
	run, err := store.GetRun(ctx, id)
	if err != nil {
		return err
	}
	var steps reconcile.RunSteps
	if err := json.Unmarshal(run.Steps, &steps); err != nil {
		return fmt.Errorf("steps of run %s: %w", id, err)
	}
	if l := steps.Ledger; l != nil {
		progress("%s: %v, scope %s, checked %d, drift %d, repaired %d, overpaid %d; peak RSS %.1f MB (%.1f MB before the run), Go heap sys %.1f MB, %d GCs",
			name, took.Round(time.Millisecond), l.Scope, l.Checked, l.DriftFound, l.Repaired, l.OverpaidCount,
			float64(peak)/1e6, float64(base)/1e6, float64(ms.HeapSys)/1e6, ms.NumGC)
	}
	emit(name+"_seconds", took.Seconds(), "s")
	emit(name+"_peak_rss_mb", float64(peak)/(1<<20), "MB")
	return nil
}

// floorQuery is the least the database must do to prove every invoice:
// one statement computing each live invoice's totals from its rows (payments
// and credit notes summed per invoice in one pass each, the live write-off
// joined) and comparing them with the stored ones, as invoice_truth and the
// run's check do. It counts the drifted rather than returning rows, so only
// the work remains; the comparison keeps the planner from dropping the joins.
const floorQuery = `
	SELECT count(*), count(*) FILTER (WHERE drift) FROM (
		SELECT (i.credited_amount, i.paid_amount, i.written_off_amount, i.balance, i.state, i.paid_at IS NOT NULL)
		       IS DISTINCT FROM
		       (t.credited, t.paid, t.written_off, i.amount - t.credited - t.paid - t.written_off,
		        CASE WHEN t.paid >= i.amount - t.credited THEN 'paid'
		             WHEN t.written_off > 0 THEN 'written_off'
		             WHEN i.sent_at IS NULL AND t.paid = 0 THEN 'draft'
		             WHEN t.paid <= 0 THEN 'open'
		             ELSE 'partial' END,
		        t.paid >= i.amount - t.credited) AS drift
		FROM invoices i
		LEFT JOIN (SELECT invoice_id, sum(amount - refunded_amount) AS paid
		           FROM payments WHERE deleted_at IS NULL GROUP BY invoice_id) p ON p.invoice_id = i.id
		LEFT JOIN (SELECT invoice_id, sum(amount) AS credited
		           FROM credit_notes WHERE reversed_at IS NULL GROUP BY invoice_id) c ON c.invoice_id = i.id
		LEFT JOIN write_offs w ON w.invoice_id = i.id AND w.reversed_at IS NULL
		CROSS JOIN LATERAL (
			SELECT coalesce(p.paid, 0) AS paid, coalesce(c.credited, 0) AS credited,
			       CASE WHEN w.id IS NULL THEN 0
			            ELSE least(w.amount, greatest(i.amount - coalesce(c.credited, 0) - coalesce(p.paid, 0), 0)) END AS written_off) t
		WHERE i.deleted_at IS NULL) x`

// cmdSQLFloor times floorQuery.
func cmdSQLFloor(ctx context.Context, args []string) error {
	fs := flags("sqlfloor")
	explain := fs.Bool("explain", false, "print the plan with its timings on stderr too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := connectPool(ctx, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	progress("sql floor: one statement over every invoice...")
	start := time.Now()
	var checked, drift int
	if err := db.QueryRow(ctx, floorQuery).Scan(&checked, &drift); err != nil {
		return fmt.Errorf("floor query: %w", err)
	}
	took := time.Since(start)
	progress("sql floor: %v, %d invoices, %d drifted", took.Round(time.Millisecond), checked, drift)
	if *explain {
		rows, err := db.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+floorQuery)
		if err != nil {
			return err
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, "    "+line)
		}
		rows.Close()
	}
	emit("reconcile_sql_floor_seconds", took.Seconds(), "s")
	return nil
}
