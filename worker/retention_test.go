package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestRetentionPrune ages a ledger's worth of rows past RETENTION and runs
// the daily prune as the worker does: raw payloads of events done with are
// emptied (their rows and statuses stay), finished jobs and finished
// deliveries are deleted, and so are notifications no delivery refers to;
// events still waiting, unfinished jobs, pending deliveries, anything
// younger than RETENTION, and every money row and history row stay. The
// metric counts each kind.
func TestRetentionPrune(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	notifications := notify.NewStore(pool)
	ctx := context.Background()
	h := newHandlers(t, s)

	// The ledger: an invoice with an endpoint listening, two manual
	// payments (two notifications, two deliveries), Stripe events of each
	// outcome, and jobs of each status.
	inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_old", Number: "O", Client: "c", Currency: "usd", Amount: 100000})
	noErr(t, err)
	_, err = s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID)
	noErr(t, err)
	ep, _, err := notifications.CreateEndpoint(ctx, "https://hooks.example.com/x", nil, "listener")
	noErr(t, err)
	for _, key := range []string{"pay-delivered", "pay-pending"} {
		_, _, err := s.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: key, InvoiceID: inv.ID, Amount: 100, PaidDate: reconcile.DateOf(time.Now())})
		noErr(t, err)
	}
	ds, err := notifications.ListDeliveries(ctx, ep.ID, "", 10)
	noErr(t, err)
	if len(ds) != 2 {
		t.Fatalf("%d deliveries, want 2", len(ds))
	}
	noErr(t, notifications.MarkDelivered(ctx, ds[0].ID, 204))
	storeEvents(t, s, map[string][]byte{
		"evt_processed": piSucceeded("evt_processed", "pi_old", inv.ID, 500),
		"evt_ignored":   stripeEvent("evt_ignored", "customer.created", map[string]any{"id": "cus_1"}),
		"evt_failed":    piSucceeded("evt_failed", "pi_bad\x00", inv.ID, 500),
		"evt_unmatched": piSucceeded("evt_unmatched", "pi_nobody", "inv_nobody", 500),
		"evt_received":  piSucceeded("evt_received", "pi_later", inv.ID, 500),
	})
	process(t, h, "evt_processed", "evt_ignored", "evt_failed", "evt_unmatched")
	finished := map[reconcile.JobStatus]string{}
	for _, status := range []reconcile.JobStatus{reconcile.JobSucceeded, reconcile.JobFailed, reconcile.JobQueued} {
		job, _, err := s.CreateJob(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobReconcile, Payload: worker.ReconcileArgs{}})
		noErr(t, err)
		if status.Finished() {
			noErr(t, s.FinishJob(ctx, job.ID, status, "", nil))
		}
		finished[status] = job.ID
	}

	// Everything so far is 100 days old; then a young event and job.
	for _, q := range []string{
		`UPDATE events SET received_at = now() - interval '100 days'`,
		`UPDATE jobs SET created_at = now() - interval '100 days', finished_at = finished_at - interval '100 days', updated_at = now() - interval '100 days'`,
		`UPDATE deliveries SET created_at = now() - interval '100 days', updated_at = now() - interval '100 days'`,
		`UPDATE notifications SET created_at = now() - interval '100 days'`,
	} {
		_, err := pool.Exec(ctx, q)
		noErr(t, err)
	}
	storeEvents(t, s, map[string][]byte{"evt_young": piSucceeded("evt_young", "pi_young", inv.ID, 500)})
	process(t, h, "evt_young")
	young, _, err := s.CreateJob(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobReconcile, Payload: worker.ReconcileArgs{}})
	noErr(t, err)
	noErr(t, s.FinishJob(ctx, young.ID, reconcile.JobSucceeded, "", nil))
	money := moneyRows(t, pool)
	var pendingBefore int
	noErr(t, pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&pendingBefore))

	reg := prometheus.NewRegistry()
	prune := h.WithRetention(90*24*time.Hour, notifications).WithMetrics(worker.NewMetrics(reg))
	noErr(t, prune.Prune(ctx, asynq.NewTask(worker.TypeRetention, nil)))

	for id, kept := range map[string]bool{
		"evt_processed": false, "evt_ignored": false, "evt_failed": false,
		"evt_unmatched": true, "evt_received": true, "evt_young": true,
	} {
		ev, err := s.GetEvent(ctx, id)
		noErr(t, err)
		if (len(ev.Payload) > 0) != kept {
			t.Errorf("%s (%s): payload of %d bytes, want kept %v", id, ev.Status, len(ev.Payload), kept)
		}
	}
	if ev, _ := s.GetEvent(ctx, "evt_processed"); ev.Status != reconcile.EventProcessed || ev.InvoiceID == nil {
		t.Errorf("pruned event %+v, want it still processed, with its invoice", ev)
	}
	for id, kept := range map[string]bool{
		finished[reconcile.JobSucceeded]: false, finished[reconcile.JobFailed]: false,
		finished[reconcile.JobQueued]: true, young.ID: true,
	} {
		if _, err := s.GetJob(ctx, id); (err == nil) != kept {
			t.Errorf("job %s: read %v, want kept %v", id, err, kept)
		}
	}
	var delivered, pending, orphans, referenced int
	noErr(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status <> 'pending'), count(*) FILTER (WHERE status = 'pending')
		FROM deliveries`).Scan(&delivered, &pending))
	noErr(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id)),
		count(*) FILTER (WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id))
		FROM notifications n`).Scan(&orphans, &referenced))
	if delivered != 0 || pending != pendingBefore || orphans != 0 || referenced != pendingBefore {
		t.Errorf("after the prune: %d finished and %d pending deliveries, %d notifications without one and %d with one; "+
			"want 0, %d, 0, %d", delivered, pending, orphans, referenced, pendingBefore, pendingBefore)
	}
	if after := moneyRows(t, pool); after != money {
		t.Errorf("money and history rows %+v after the prune, want %+v", after, money)
	}
	want := map[string]float64{"event_payloads": 3, "jobs": 2, "deliveries": 1, "notifications": 1}
	if got := prunedMetric(t, reg); len(got) != len(want) || got["event_payloads"] != 3 || got["jobs"] != 2 ||
		got["deliveries"] != 1 || got["notifications"] != 1 {
		t.Errorf("reconciler_retention_pruned_total %v, want %v", got, want)
	}

	// The next day's prune finds nothing left to do.
	noErr(t, prune.Prune(ctx, asynq.NewTask(worker.TypeRetention, nil)))
	if got := prunedMetric(t, reg); got["event_payloads"] != 3 || got["jobs"] != 2 {
		t.Errorf("a second prune changed the counts to %v", got)
	}
}

// TestRetentionIsQueuedOncePerDay: two schedulers ticking through a day
// queue one prune for it, and the next day another.
func TestRetentionIsQueuedOncePerDay(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	redis := testenv.Redis(t)
	ctx := context.Background()
	for range 2 {
		client := newClient(t, s, redis)
		sched := worker.NewScheduler(client, 15*time.Minute, 2*time.Minute, zap.NewNop())
		for _, at := range []time.Time{
			time.Date(2026, 11, 24, 0, 0, 5, 0, time.UTC),
			time.Date(2026, 11, 24, 13, 2, 0, 0, time.UTC),
			time.Date(2026, 11, 25, 0, 1, 0, 0, time.UTC),
		} {
			noErr(t, sched.QueueRetention(ctx, at))
		}
	}
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	tasks, err := insp.ListPendingTasks(worker.QueueMaintenance)
	noErr(t, err)
	var days []string
	for _, task := range tasks {
		var p worker.RetentionPayload
		noErr(t, json.Unmarshal(task.Payload, &p))
		if task.Type == worker.TypeRetention {
			days = append(days, p.Day)
		}
	}
	if len(days) != 2 {
		t.Fatalf("prunes queued for %v, want one for 2026-11-24 and one for 2026-11-25", days)
	}
}

// moneyRows counts the rows retention must never touch.
type moneyCounts struct{ Payments, History, Invoices, Refunds int }

func moneyRows(t *testing.T, pool *pgxpool.Pool) moneyCounts {
	t.Helper()
	var c moneyCounts
	noErr(t, pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM invoice_history),
		(SELECT count(*) FROM invoices), (SELECT count(*) FROM refunds)`).Scan(&c.Payments, &c.History, &c.Invoices, &c.Refunds))
	return c
}

// prunedMetric reads reconciler_retention_pruned_total by kind.
func prunedMetric(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range series(t, reg, "reconciler_retention_pruned_total") {
		out[label(m, "kind")] = m.GetCounter().GetValue()
	}
	return out
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
