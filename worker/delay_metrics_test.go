package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestDelaysCountFromReceiptAndQueueing: reconciler_event_apply_delay_seconds
// counts each status an event reaches once, from the event's receipt,
// whether the event was applied in a group or alone: not again when its
// task is delivered twice (an unmatched event tried again stays unmatched),
// and once more when an unmatched event finds its invoice.
// reconciler_job_delay_seconds counts each job that ends, succeeded or
// refused, from its queueing. Receipts and queueings are moved back in
// time, so the figures are known to within the test's own run.
func TestDelaysCountFromReceiptAndQueueing(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	reg := prometheus.NewRegistry()
	h := newHandlers(t, s).WithMetrics(worker.NewMetrics(reg))
	ctx := context.Background()
	sentInvoice(t, s, "inv_delay", 10000)
	storeEvents(t, s, map[string][]byte{
		"evt_delay_paid":   piSucceeded("evt_delay_paid", "pi_delay_1", "inv_delay", 4000),
		"evt_delay_nobody": piSucceeded("evt_delay_nobody", "pi_delay_2", "inv_delay_missing", 100),
		"evt_delay_alone":  piSucceeded("evt_delay_alone", "pi_delay_3", "inv_delay", 1000),
	})
	received := map[string]int{"evt_delay_paid": 90, "evt_delay_nobody": 30, "evt_delay_alone": 10} // seconds ago
	for id, ago := range received {
		_, err := pool.Exec(ctx, `UPDATE events SET received_at = now() - make_interval(secs => $2) WHERE id = $1`, id, ago)
		noErr(t, err)
	}
	started := time.Now()
	process(t, h, "evt_delay_paid", "evt_delay_nobody") // a group of two
	process(t, h, "evt_delay_alone")                    // one alone
	process(t, h, "evt_delay_paid", "evt_delay_nobody") // delivered again: nothing to apply
	slack := time.Since(started).Seconds() + 1
	mustStatus(t, s, "evt_delay_paid", reconcile.EventProcessed)
	mustStatus(t, s, "evt_delay_nobody", reconcile.EventUnmatched)
	mustStatus(t, s, "evt_delay_alone", reconcile.EventProcessed)
	wantHistogram(t, reg, "reconciler_event_apply_delay_seconds", "status", "processed", 2, 100, slack*2)
	wantHistogram(t, reg, "reconciler_event_apply_delay_seconds", "status", "unmatched", 1, 30, slack)
	sentInvoice(t, s, "inv_delay_missing", 100)
	process(t, h, "evt_delay_nobody") // its invoice now exists
	slack = time.Since(started).Seconds() + 1
	mustStatus(t, s, "evt_delay_nobody", reconcile.EventProcessed)
	wantHistogram(t, reg, "reconciler_event_apply_delay_seconds", "status", "processed", 3, 130, slack*3)
	wantHistogram(t, reg, "reconciler_event_apply_delay_seconds", "status", "unmatched", 1, 30, slack)

	queue := func(amount reconcile.Amount, ago int) reconcile.Job {
		t.Helper()
		j, _, err := s.CreateJob(ctx, reconcile.NewJob{Type: reconcile.JobRecordPayment, Actor: "ann", InvoiceID: "inv_delay",
			Payload: worker.RecordPaymentArgs{InvoiceID: "inv_delay", Amount: amount, PaidDate: reconcile.DateOf(time.Now())}})
		noErr(t, err)
		_, err = pool.Exec(ctx, `UPDATE jobs SET created_at = created_at - make_interval(secs => $2) WHERE id = $1`, j.ID, ago)
		noErr(t, err)
		return j
	}
	jobs := []reconcile.Job{queue(2000, 45), queue(9000, 15)} // 3000 left after the first: the second is refused
	started = time.Now()
	for _, j := range jobs {
		payload, _ := json.Marshal(worker.JobPayload{JobID: j.ID})
		if err := h.RunJob(ctx, asynq.NewTask(worker.TypeRunJob, payload)); err != nil && !isSkipRetry(err) {
			t.Fatalf("job %s: %v", j.ID, err)
		}
	}
	slack = time.Since(started).Seconds() + 1
	for i, want := range []reconcile.JobStatus{reconcile.JobSucceeded, reconcile.JobFailed} {
		if got, err := s.GetJob(ctx, jobs[i].ID); err != nil || got.Status != want {
			t.Fatalf("job %d: %+v, %v; want %s", i, got, err, want)
		}
	}
	wantHistogram(t, reg, "reconciler_job_delay_seconds", "type", string(reconcile.JobRecordPayment), 2, 60, slack*2)
}

// wantHistogram checks that the histogram name's series with label = value
// holds count samples summing to at least atLeast seconds and less than
// atLeast + slack.
func wantHistogram(t *testing.T, reg *prometheus.Registry, name, labelName, value string, count uint64, atLeast, slack float64) {
	t.Helper()
	for _, m := range series(t, reg, name) {
		if label(m, labelName) != value {
			continue
		}
		h := m.GetHistogram()
		if h.GetSampleCount() != count || h.GetSampleSum() < atLeast || h.GetSampleSum() >= atLeast+slack {
			t.Errorf("%s{%s=%q}: %d samples summing to %.3f s, want %d summing to [%.0f, %.3f)",
				name, labelName, value, h.GetSampleCount(), h.GetSampleSum(), count, atLeast, atLeast+slack)
		}
		return
	}
	t.Errorf("%s{%s=%q}: no series, want %d samples", name, labelName, value, count)
}

// delayCount is how many delays reconciler_event_apply_delay_seconds holds,
// of every status.
func delayCount(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	var n uint64
	for _, m := range series(t, reg, "reconciler_event_apply_delay_seconds") {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}
