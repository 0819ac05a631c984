package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/internal/testing/stripefake"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestComparisonPullsThroughTheWorker runs reconciliation jobs through the
// worker with the comparison wired as cmd/reconciler wires it: a payment
// Stripe took for one of our invoices, whose event never arrived, is pulled
// by the first run and applied by the worker, and the second run pulls
// nothing more; a payment naming no invoice of ours is one discrepancy,
// however many runs find it.
func TestComparisonPullsThroughTheWorker(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	redis := testenv.Redis(t)
	ctx := context.Background()
	fake := stripefake.New(t)
	client := worker.NewClient(redis, s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	runner := reconcile.NewRunner(s, client, reconcile.RunnerConfig{RelayAfter: time.Hour,
		Provider: worker.ProviderRecords(stripe.NewPaymentLister(stripefake.APIKey, fake.URL()))})
	srv := worker.NewServer(redis, 4, worker.NewHandlers(s, client, runner, time.Hour, zap.NewNop()).WithLivemode(false), zap.NewNop())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	if _, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_cmp", Number: "C-1", Client: "c", Currency: "usd", Amount: 8000}); err != nil {
		t.Fatal(err)
	}
	created := time.Now().Add(-2 * time.Hour)
	fake.AddPaymentIntent(
		stripefake.PaymentIntent{ID: "pi_missed", Amount: 8000, Created: created, Metadata: map[string]string{"invoice_id": "inv_cmp"},
			Charge: &stripefake.Charge{}},
		stripefake.PaymentIntent{ID: "pi_nameless", Amount: 1234, Created: created, Charge: &stripefake.Charge{}},
	)
	run := func() reconcile.CompareStep {
		t.Helper()
		job, err := client.Submit(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobReconcile, Payload: worker.ReconcileArgs{Full: true}})
		if err != nil {
			t.Fatal(err)
		}
		var done reconcile.Job
		waitFor(t, func() bool { done, _ = s.GetJob(ctx, job.ID); return done.Status.Finished() })
		if done.Status != reconcile.JobSucceeded {
			t.Fatalf("run job %s: %s", done.Status, done.Error)
		}
		var result struct {
			RunID string `json:"run_id"`
		}
		if err := json.Unmarshal(done.Result, &result); err != nil {
			t.Fatal(err)
		}
		r, err := s.GetRun(ctx, result.RunID)
		if err != nil {
			t.Fatal(err)
		}
		var steps reconcile.RunSteps
		if err := json.Unmarshal(r.Steps, &steps); err != nil || steps.StripeCompare == nil {
			t.Fatalf("steps %s: %v", r.Steps, err)
		}
		return *steps.StripeCompare
	}

	first := run()
	if first.Pulled != 1 || first.Enqueued != 1 || first.Opened != 1 {
		t.Fatalf("first comparison %+v", first)
	}
	waitFor(t, func() bool {
		inv, err := s.GetInvoice(ctx, "inv_cmp")
		return err == nil && inv.State == reconcile.StatePaid
	})
	second := run()
	if second.Pulled != 0 || second.Opened != 0 || second.Found != 1 || second.Compared != 2 {
		t.Fatalf("second comparison %+v", second)
	}
	var events, payments, discrepancies int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE source = 'pull'),
		(SELECT count(*) FROM payments WHERE provider_ref = 'pi_missed'),
		(SELECT count(*) FROM discrepancies)`).Scan(&events, &payments, &discrepancies); err != nil {
		t.Fatal(err)
	}
	if events != 1 || payments != 1 || discrepancies != 1 {
		t.Fatalf("%d pulled events, %d payments, %d discrepancies; want one of each", events, payments, discrepancies)
	}
}
