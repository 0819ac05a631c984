package worker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// missedStripe is Stripe's API as far as listing events goes: it lists
// events Stripe sent that never reached the webhook.
func missedStripe(t *testing.T, events ...[]byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/events" || r.Header.Get("Authorization") != "Bearer sk_test_reconcile" {
			http.Error(w, `{"error":{"message":"no"}}`, http.StatusUnauthorized)
			return
		}
		data := []json.RawMessage{}
		if r.URL.Query().Get("starting_after") == "" {
			for _, e := range events {
				data = append(data, e)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": "/v1/events", "has_more": false, "data": data})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestReconciliationFixesWhatWasMissed plants the three things a run exists
// for (stored totals that drifted, an event whose task Redis lost, an event
// Stripe sent and the webhook never got) plus a payment that arrived before
// its invoice, and runs one reconciliation through the worker: all four
// are fixed, the run's figures say so, and a second run finds nothing.
func TestReconciliationFixesWhatWasMissed(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	redis := testenv.Redis(t)
	ctx := context.Background()
	client := worker.NewClient(redis, s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	missed := piSucceeded("evt_missed", "pi_missed", "inv_c", 3000)
	runner := reconcile.NewRunner(s, client, reconcile.RunnerConfig{RelayAfter: 0,
		Stripe: worker.StripeEvents(stripe.NewEventLister("sk_test_reconcile", missedStripe(t, missed)))})
	h := worker.NewHandlers(s, client, runner, 0, zap.NewNop()).WithLivemode(false)
	srv := worker.NewServer(redis, 4, h, zap.NewNop())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	for _, id := range []string{"inv_a", "inv_b", "inv_c"} {
		if _, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: id, Number: id, Client: "c", Currency: "usd", Amount: 3000}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, id); err != nil {
			t.Fatal(err)
		}
	}
	// Drift: inv_a's stored totals say 700 paid, its rows say nothing.
	if _, err := pool.Exec(ctx, `UPDATE invoices SET paid_amount = 700, balance = amount - 700, state = 'partial' WHERE id = 'inv_a'`); err != nil {
		t.Fatal(err)
	}
	// A lost event: stored, its task gone with Redis.
	storeEvents(t, s, map[string][]byte{"evt_lost": piSucceeded("evt_lost", "pi_lost", "inv_b", 3000)})
	// A payment for an invoice that did not exist yet: unmatched, then the
	// invoice is created.
	storeEvents(t, s, map[string][]byte{"evt_early": piSucceeded("evt_early", "pi_early", "inv_d", 3000)})
	process(t, newHandlers(t, s), "evt_early")
	if _, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_d", Number: "d", Client: "c", Currency: "usd", Amount: 3000}); err != nil {
		t.Fatal(err)
	}

	run := func(full bool) reconcile.RunSteps {
		t.Helper()
		job, err := client.Submit(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobReconcile, Payload: worker.ReconcileArgs{Full: full}})
		if err != nil {
			t.Fatal(err)
		}
		var done reconcile.Job
		waitFor(t, func() bool { done, _ = s.GetJob(ctx, job.ID); return done.Status.Finished() })
		if done.Status != reconcile.JobSucceeded {
			t.Fatalf("run job %s: %s", done.Status, done.Error)
		}
		runs, err := s.ListRuns(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		var steps reconcile.RunSteps
		if err := json.Unmarshal(runs[0].Steps, &steps); err != nil {
			t.Fatal(err)
		}
		return steps
	}
	first := run(true)
	if first.Ledger.DriftFound != 1 || first.Ledger.Repaired != 1 || first.Relay.EventsRelayed != 1 ||
		first.Relay.UnmatchedRetried != 1 || first.StripePull.Stored != 1 {
		t.Fatalf("first run: relay %+v, pull %+v, ledger %+v", *first.Relay, *first.StripePull, *first.Ledger)
	}
	want := map[string]reconcile.State{"inv_a": reconcile.StateOpen, "inv_b": reconcile.StatePaid, "inv_c": reconcile.StatePaid, "inv_d": reconcile.StatePaid}
	waitFor(t, func() bool {
		for id, state := range want {
			if inv, err := s.GetInvoice(ctx, id); err != nil || inv.State != state {
				return false
			}
		}
		return true
	})
	second := run(true)
	if second.Ledger.DriftFound != 0 || second.Relay.EventsRelayed != 0 || second.Relay.UnmatchedRetried != 0 || second.StripePull.Stored != 0 {
		t.Fatalf("second run found more: relay %+v, pull %+v, ledger %+v", *second.Relay, *second.StripePull, *second.Ledger)
	}
}
