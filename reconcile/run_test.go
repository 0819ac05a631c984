package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// recordingRelay is a EventQueue that records what a run queues. Its
// RelayReceived asks the store for stale events as the worker's relay does,
// so the tests see which events a run would relay.
type recordingRelay struct {
	store *reconcile.Store

	mu         sync.Mutex
	olderThan  []time.Duration
	relayed    []string
	enqueued   []string
	relayErr   error
	enqueueErr error
}

func (r *recordingRelay) RelayReceived(ctx context.Context, olderThan time.Duration) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.olderThan = append(r.olderThan, olderThan)
	if r.relayErr != nil {
		return 0, r.relayErr
	}
	ids, err := r.store.StaleEvents(ctx, reconcile.EventReceived, olderThan, "", 1000)
	if err != nil {
		return 0, err
	}
	r.relayed = append(r.relayed, ids...)
	return len(ids), nil
}

func (r *recordingRelay) EnqueueEvents(_ context.Context, ids []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.enqueueErr != nil {
		return r.enqueueErr
	}
	r.enqueued = append(r.enqueued, ids...)
	return nil
}

// takeEnqueued returns what was enqueued since the last call, sorted.
func (r *recordingRelay) takeEnqueued() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Sorted(slices.Values(r.enqueued))
	r.enqueued = nil
	return out
}

// runOnce runs a reconciliation and returns its record and steps.
func runOnce(t *testing.T, s *reconcile.Store, r *reconcile.Runner, full bool) (reconcile.Run, reconcile.RunSteps) {
	t.Helper()
	ctx := context.Background()
	id, err := r.Run(ctx, full)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return runRecord(t, s, id)
}

func runRecord(t *testing.T, s *reconcile.Store, id string) (reconcile.Run, reconcile.RunSteps) {
	t.Helper()
	run, err := s.GetRun(context.Background(), id)
	if err != nil {
		t.Fatalf("get run %s: %v", id, err)
	}
	var steps reconcile.RunSteps
	if err := json.Unmarshal(run.Steps, &steps); err != nil {
		t.Fatalf("steps of run %s: %v (%s)", id, err, run.Steps)
	}
	if steps.Relay == nil || steps.StripePull == nil || steps.Ledger == nil {
		t.Fatalf("run %s lacks a step: %s", id, run.Steps)
	}
	return run, steps
}

// sentInvoice creates a sent invoice of amount usd.
func sentInvoice(t *testing.T, s *reconcile.Store, amount reconcile.Amount) reconcile.Invoice {
	t.Helper()
	ctx := context.Background()
	inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: "R-1", Client: "acme", Currency: "usd", Amount: amount})
	noErr(t, err)
	inv, err = s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID)
	noErr(t, err)
	return inv
}

// payManually records a manual payment with a key of its own (the shared
// key() helper is not safe for parallel tests).
func payManually(t *testing.T, s *reconcile.Store, invoiceID string, amount reconcile.Amount) {
	t.Helper()
	_, _, err := s.RecordManualPayment(context.Background(), reconcile.ManualPayment{Actor: "tester",
		Key: ids.New("key"), InvoiceID: invoiceID, Amount: amount, PaidDate: today, Method: "check"})
	noErr(t, err)
}

// plantDrift makes an invoice's stored paid amount wrong by delta, keeping
// the balance CHECK valid. With updatedAt nil it is a change made now, as a
// faulty ledger change would make it: with its history row, which is what
// incremental runs look for. With updatedAt it is an edit outside the ledger,
// which only a full run finds.
func plantDrift(t *testing.T, db *pgxpool.Pool, id string, delta reconcile.Amount, updatedAt *time.Time) {
	t.Helper()
	tag, err := db.Exec(context.Background(), `
		UPDATE invoices SET paid_amount = paid_amount + $2, balance = balance - $2,
			updated_at = COALESCE($3, now())
		WHERE id = $1`, id, delta, updatedAt)
	noErr(t, err)
	if tag.RowsAffected() != 1 {
		t.Fatalf("no invoice %s to plant drift on", id)
	}
	if updatedAt == nil {
		touchHistory(t, db, id)
	}
}

// touchHistory writes a history row for invoice id now, as every ledger
// change does.
func touchHistory(t *testing.T, db *pgxpool.Pool, id string) {
	t.Helper()
	_, err := db.Exec(context.Background(), `
		INSERT INTO invoice_history (invoice_id, kind, notes, actor) VALUES ($1, 'sent', 'planted drift', 'test')`, id)
	noErr(t, err)
}

// ageInvoices moves every invoice's updated_at and history an hour back, as
// if nothing had changed since.
func ageInvoices(t *testing.T, db *pgxpool.Pool) {
	t.Helper()
	_, err := db.Exec(context.Background(), `UPDATE invoices SET updated_at = updated_at - interval '1 hour'`)
	noErr(t, err)
	_, err = db.Exec(context.Background(), `UPDATE invoice_history SET at = at - interval '1 hour'`)
	noErr(t, err)
}

func TestRunLedgerCheck(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	relay := &recordingRelay{store: s}
	runner := reconcile.NewRunner(s, relay, reconcile.RunnerConfig{RelayAfter: 2 * time.Minute, BatchSize: 3})

	// Seven invoices in every state, so batches of three end mid-walk.
	paid := sentInvoice(t, s, 10000)
	payManually(t, s, paid.ID, 10000)
	partial := sentInvoice(t, s, 10000)
	payManually(t, s, partial.ID, 2500)
	writtenOff := sentInvoice(t, s, 10000)
	payManually(t, s, writtenOff.ID, 1000)
	_, err := s.WriteOff(ctx, reconcile.Op{Key: ids.New("key"), Actor: "tester"}, writtenOff.ID, "bad debt")
	noErr(t, err)
	overpaid := sentInvoice(t, s, 5000)
	_, err = s.RecordOnlinePayment(ctx, "", online("pi_over", overpaid.ID, 7000))
	noErr(t, err)
	_ = sentInvoice(t, s, 3000)
	_, err = s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: "D-1", Client: "acme", Currency: "usd", Amount: 100})
	noErr(t, err)
	gone := sentInvoice(t, s, 4000)
	noErr(t, s.DeleteInvoice(ctx, reconcile.Op{Actor: "tester"}, gone.ID))
	const live = 6

	t.Run("a clean ledger reports no drift and lists the overpaid invoice", func(t *testing.T) {
		run, steps := runOnce(t, s, runner, true)
		if run.Status != reconcile.RunSucceeded || run.FinishedAt == nil || run.Watermark == nil || run.Error != "" || !run.Full {
			t.Fatalf("run %+v", run)
		}
		l := steps.Ledger
		if l.Scope != "all" || l.Checked != live || l.DriftFound != 0 || l.Repaired != 0 {
			t.Fatalf("ledger step %+v", l)
		}
		if l.OverpaidCount != 1 || !slices.Equal(l.Overpaid, []string{overpaid.ID}) {
			t.Fatalf("overpaid %d %v, want %s", l.OverpaidCount, l.Overpaid, overpaid.ID)
		}
	})

	t.Run("a planted drift is found and repaired with a reconciled history row", func(t *testing.T) {
		plantDrift(t, db, partial.ID, 1500, nil)
		// A state that disagrees with the amounts is drift too.
		_, err := db.Exec(ctx, `UPDATE invoices SET state = 'open' WHERE id = $1`, paid.ID)
		noErr(t, err)

		_, steps := runOnce(t, s, runner, true)
		l := steps.Ledger
		if l.Checked != live || l.DriftFound != 2 || l.Repaired != 2 || l.RepairFailed != 0 {
			t.Fatalf("ledger step %+v", l)
		}
		if want := slices.Sorted(slices.Values([]string{paid.ID, partial.ID})); !slices.Equal(slices.Sorted(slices.Values(l.Drifted)), want) {
			t.Fatalf("drifted %v, want %v", l.Drifted, want)
		}
		mustTotals(t, s, partial.ID, totals{2500, 0, 7500, reconcile.StatePartial})
		mustTotals(t, s, paid.ID, totals{10000, 0, 0, reconcile.StatePaid})
		checkTruth(t, db)

		d, err := s.GetInvoiceDetail(ctx, partial.ID)
		noErr(t, err)
		last := d.History[len(d.History)-1]
		if last.Kind != reconcile.HistoryReconciled {
			t.Fatalf("last history row is %s, want reconciled", last.Kind)
		}
		var details struct {
			RunID  string `json:"run_id"`
			Before struct {
				PaidAmount reconcile.Amount `json:"paid_amount"`
				Balance    reconcile.Amount `json:"balance"`
				State      reconcile.State  `json:"state"`
			} `json:"before"`
			After struct {
				PaidAmount reconcile.Amount `json:"paid_amount"`
				Balance    reconcile.Amount `json:"balance"`
				State      reconcile.State  `json:"state"`
			} `json:"after"`
		}
		b, err := json.Marshal(last.Details)
		noErr(t, err)
		noErr(t, json.Unmarshal(b, &details))
		if details.RunID == "" || details.Before.PaidAmount != 4000 || details.Before.Balance != 6000 ||
			details.After.PaidAmount != 2500 || details.After.Balance != 7500 || details.After.State != reconcile.StatePartial {
			t.Fatalf("reconciled details %s", b)
		}
	})

	t.Run("a second run finds nothing", func(t *testing.T) {
		before := historyCount(t, db, partial.ID)
		_, steps := runOnce(t, s, runner, true)
		if l := steps.Ledger; l.Checked != live || l.DriftFound != 0 || l.Repaired != 0 {
			t.Fatalf("ledger step %+v", l)
		}
		if after := historyCount(t, db, partial.ID); after != before {
			t.Fatalf("history grew from %d to %d", before, after)
		}
	})

	t.Run("runs are listed newest first", func(t *testing.T) {
		runs, err := s.ListRuns(ctx, 2)
		noErr(t, err)
		if len(runs) != 2 || runs[0].StartedAt.Before(runs[1].StartedAt) {
			t.Fatalf("runs %+v", runs)
		}
		b, err := json.Marshal(runs[0])
		noErr(t, err)
		var shown map[string]any
		noErr(t, json.Unmarshal(b, &shown))
		for _, k := range []string{"id", "full", "status", "started_at", "finished_at", "steps"} {
			if _, ok := shown[k]; !ok {
				t.Fatalf("run JSON lacks %q: %s", k, b)
			}
		}
	})
}

func TestRunIncremental(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	relay := &recordingRelay{store: s}
	runner := reconcile.NewRunner(s, relay, reconcile.RunnerConfig{RelayAfter: time.Minute, BatchSize: 2})

	var ids []string
	for range 5 {
		inv := sentInvoice(t, s, 1000)
		payManually(t, s, inv.ID, 100)
		ids = append(ids, inv.ID)
	}
	ageInvoices(t, db)

	t.Run("the first incremental run checks everything", func(t *testing.T) {
		_, steps := runOnce(t, s, runner, false)
		if l := steps.Ledger; l.Scope != "all" || l.Checked != 5 || l.DriftFound != 0 {
			t.Fatalf("ledger step %+v", l)
		}
	})

	old := time.Now().Add(-time.Hour)
	plantDrift(t, db, ids[0], 50, &old) // untouched since: incremental runs do not look
	plantDrift(t, db, ids[3], 70, nil)  // touched now
	payManually(t, s, ids[4], 100)      // a real change, no drift

	t.Run("an incremental run checks only invoices touched since the last run", func(t *testing.T) {
		_, steps := runOnce(t, s, runner, false)
		l := steps.Ledger
		if l.Scope != "updated_since" || l.Since == nil || l.Checked != 2 || l.DriftFound != 1 || l.Repaired != 1 ||
			!slices.Equal(l.Drifted, []string{ids[3]}) {
			t.Fatalf("ledger step %+v", l)
		}
		mustTotals(t, s, ids[3], totals{100, 0, 900, reconcile.StatePartial})
		mustTotals(t, s, ids[0], totals{150, 0, 850, reconcile.StatePartial}) // still drifted
	})

	t.Run("an invoice changed in several batches is repaired once", func(t *testing.T) {
		plantDrift(t, db, ids[1], 30, nil)
		touchHistory(t, db, ids[1])
		touchHistory(t, db, ids[1])
		// The minute's margin takes in the last run's three history rows
		// (ids[3] planted and repaired, ids[4] paid) before these three of
		// ids[1]: batches of 2 rows check 2, 2 and 1 invoices.
		_, steps := runOnce(t, s, runner, false)
		if l := steps.Ledger; l.Checked != 5 || l.DriftFound != 1 || l.Repaired != 1 || !slices.Equal(l.Drifted, []string{ids[1]}) {
			t.Fatalf("ledger step %+v", l)
		}
		mustTotals(t, s, ids[1], totals{100, 0, 900, reconcile.StatePartial})
	})

	t.Run("a full run finds the drift incremental runs cannot see", func(t *testing.T) {
		_, steps := runOnce(t, s, runner, true)
		if l := steps.Ledger; l.Checked != 5 || l.DriftFound != 1 || l.Repaired != 1 || !slices.Equal(l.Drifted, []string{ids[0]}) {
			t.Fatalf("ledger step %+v", l)
		}
		checkTruth(t, db)
	})

}

// storeEvent stores a raw event with a status and an age.
func storeEvent(t *testing.T, s *reconcile.Store, db *pgxpool.Pool, id string, status reconcile.EventStatus, age time.Duration) {
	t.Helper()
	ctx := context.Background()
	_, err := s.StoreEvents(ctx, []reconcile.InboxEvent{{ID: id, Type: "payment_intent.succeeded",
		Created: time.Now(), Payload: []byte(`{"id":"` + id + `"}`)}})
	noErr(t, err)
	_, err = db.Exec(ctx, `UPDATE events SET status = $2, received_at = now() - $3::interval WHERE id = $1`, id, status, age)
	noErr(t, err)
}

func TestRunRelay(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	relay := &recordingRelay{store: s}
	runner := reconcile.NewRunner(s, relay, reconcile.RunnerConfig{RelayAfter: 2 * time.Minute, BatchSize: 2})

	storeEvent(t, s, db, "evt_stuck", reconcile.EventReceived, 10*time.Minute)
	storeEvent(t, s, db, "evt_fresh", reconcile.EventReceived, 0)
	storeEvent(t, s, db, "evt_done", reconcile.EventProcessed, time.Hour)
	var unmatched []string
	for i, age := range []time.Duration{time.Hour, time.Hour, 30 * time.Minute, time.Minute, 0} {
		id := "evt_unmatched_" + string(rune('a'+i))
		storeEvent(t, s, db, id, reconcile.EventUnmatched, age)
		unmatched = append(unmatched, id)
	}

	t.Run("events received longer than RelayAfter are relayed and every unmatched one is queued once", func(t *testing.T) {
		_, steps := runOnce(t, s, runner, false)
		if !slices.Equal(relay.olderThan, []time.Duration{2 * time.Minute}) {
			t.Fatalf("RelayReceived asked for %v", relay.olderThan)
		}
		if !slices.Equal(relay.relayed, []string{"evt_stuck"}) {
			t.Fatalf("relayed %v, want evt_stuck", relay.relayed)
		}
		if got := relay.takeEnqueued(); !slices.Equal(got, unmatched) {
			t.Fatalf("enqueued %v, want %v", got, unmatched)
		}
		if r := steps.Relay; r.EventsRelayed != 1 || r.UnmatchedRetried != len(unmatched) || r.Error != "" {
			t.Fatalf("relay step %+v", r)
		}
	})

	t.Run("the run says the Stripe pull was skipped", func(t *testing.T) {
		run, err := s.ListRuns(context.Background(), 1)
		noErr(t, err)
		var raw struct {
			StripePull map[string]any `json:"stripe_pull"`
		}
		noErr(t, json.Unmarshal(run[0].Steps, &raw))
		if len(raw.StripePull) != 1 || raw.StripePull["skipped"] != "no STRIPE_API_KEY" {
			t.Fatalf("stripe_pull %v", raw.StripePull)
		}
	})

	t.Run("a relay that cannot reach Redis fails the run, and the other steps still run", func(t *testing.T) {
		relay.relayErr = errors.New("redis: connection refused")
		relay.enqueueErr = errors.New("redis: connection refused")
		t.Cleanup(func() { relay.relayErr, relay.enqueueErr = nil, nil })
		inv := sentInvoice(t, s, 1000)
		plantDrift(t, db, inv.ID, 10, nil)

		id, err := runner.Run(context.Background(), false)
		if err == nil {
			t.Fatal("run succeeded with Redis down")
		}
		run, steps := runRecord(t, s, id)
		if run.Status != reconcile.RunFailed || run.Error == "" || steps.Relay.Error == "" {
			t.Fatalf("run %+v, relay step %+v", run, steps.Relay)
		}
		if steps.Ledger.Repaired != 1 || steps.Ledger.Error != "" || run.Watermark == nil {
			t.Fatalf("ledger step %+v, watermark %v", steps.Ledger, run.Watermark)
		}
	})
}

func TestRunNeedsReviewCount(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	runner := reconcile.NewRunner(s, &recordingRelay{store: s}, reconcile.RunnerConfig{RelayAfter: time.Minute})
	storeEvent(t, s, db, "evt_review_1", reconcile.EventNeedsReview, time.Hour)
	storeEvent(t, s, db, "evt_review_2", reconcile.EventNeedsReview, 0)
	_, steps := runOnce(t, s, runner, true)
	if steps.Ledger.NeedsReview != 2 || steps.Ledger.Checked != 0 {
		t.Fatalf("ledger step %+v", steps.Ledger)
	}
}

// cancellingRelay stops the run from inside its first step, as a shutdown
// would.
type cancellingRelay struct {
	recordingRelay
	cancel context.CancelFunc
}

func (r *cancellingRelay) RelayReceived(ctx context.Context, olderThan time.Duration) (int, error) {
	r.cancel()
	return 0, ctx.Err()
}

func TestRunStopped(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	relay := &cancellingRelay{recordingRelay: recordingRelay{store: s}, cancel: cancel}
	runner := reconcile.NewRunner(s, relay, reconcile.RunnerConfig{RelayAfter: time.Minute})

	id, err := runner.Run(ctx, true)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run error %v, want context.Canceled", err)
	}
	run, err := s.GetRun(context.Background(), id)
	noErr(t, err)
	if run.Status != reconcile.RunFailed || run.FinishedAt == nil || run.Watermark != nil {
		t.Fatalf("a stopped run is recorded %+v", run)
	}
	var steps map[string]json.RawMessage
	noErr(t, json.Unmarshal(run.Steps, &steps))
	if _, ok := steps["relay"]; !ok || len(steps) != 1 {
		t.Fatalf("a stopped run shows the steps it did not reach: %s", run.Steps)
	}
}

func TestRunNotifiesRepairs(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	_, err := db.Exec(ctx, `INSERT INTO endpoints (id, url, secret) VALUES ('ep_run', 'https://example.com/hook', 'whsec_run')`)
	noErr(t, err)
	inv := sentInvoice(t, s, 1000)
	payManually(t, s, inv.ID, 400)
	plantDrift(t, db, inv.ID, 100, nil)
	runner := reconcile.NewRunner(s, &recordingRelay{store: s}, reconcile.RunnerConfig{RelayAfter: time.Minute})

	_, steps := runOnce(t, s, runner, true)
	if steps.Ledger.Repaired != 1 {
		t.Fatalf("ledger step %+v", steps.Ledger)
	}
	var body []byte
	noErr(t, db.QueryRow(ctx, `
		SELECT n.body FROM notifications n JOIN deliveries d ON d.notification_id = n.id
		WHERE n.invoice_id = $1 AND n.type = 'invoice.reconciled' AND d.endpoint_id = 'ep_run'`, inv.ID).Scan(&body))
	var got struct {
		Data struct {
			Invoice reconcile.Invoice `json:"invoice"`
		} `json:"data"`
	}
	noErr(t, json.Unmarshal(body, &got))
	if got.Data.Invoice.PaidAmount != 400 || got.Data.Invoice.Balance != 600 {
		t.Fatalf("invoice.reconciled shows %+v, want the repaired totals", got.Data.Invoice)
	}
}

// TestIncrementalRunAsARoleThatDoesNotOwnTheTables: only a table's owner
// may summarize its block ranges; a service running as a role with rights
// on the tables but not their ownership still runs incremental checks.
func TestIncrementalRunAsARoleThatDoesNotOwnTheTables(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	role := strings.ToLower(ids.New("svc"))
	for _, q := range []string{
		`CREATE ROLE ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + role,
		`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ` + role,
	} {
		_, err := db.Exec(ctx, q)
		noErr(t, err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = db.Exec(context.Background(), `DROP ROLE `+role)
	})
	cfg := db.Config().Copy()
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `SET ROLE `+role)
		return err
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	noErr(t, err)
	t.Cleanup(pool.Close)
	svc := reconcile.NewStore(pool)
	runner := reconcile.NewRunner(svc, &recordingRelay{store: svc}, reconcile.RunnerConfig{RelayAfter: time.Minute})

	inv := sentInvoice(t, s, 1000)
	runOnce(t, svc, runner, true)
	plantDrift(t, db, inv.ID, 40, nil)
	_, steps := runOnce(t, svc, runner, false)
	if l := steps.Ledger; l.Scope != "updated_since" || l.DriftFound != 1 || l.Repaired != 1 {
		t.Fatalf("ledger step %+v", l)
	}
}
