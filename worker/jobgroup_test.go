package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestJobsQueuedTogetherApplyAsOne queues operators' jobs on two invoices
// (payments of which the last no longer fits, a write-off, a credit note)
// and runs the task of the first: the worker applies every queued job with
// it, in queue order, each with its own result. The others' tasks then find
// their jobs finished and change nothing.
func TestJobsQueuedTogetherApplyAsOne(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	h := newHandlers(t, s)
	ctx := context.Background()
	sentInvoice(t, s, "inv_jobs_a", 10000)
	sentInvoice(t, s, "inv_jobs_b", 10000)
	queue := func(typ reconcile.JobType, invoice string, args any) reconcile.Job {
		t.Helper()
		j, _, err := s.CreateJob(ctx, reconcile.NewJob{Type: typ, Actor: "ann", InvoiceID: invoice, Payload: args})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	today := reconcile.DateOf(time.Now())
	pay := func(invoice string, amount reconcile.Amount) reconcile.Job {
		return queue(reconcile.JobRecordPayment, invoice,
			worker.RecordPaymentArgs{InvoiceID: invoice, Amount: amount, PaidDate: today, Method: "cash"})
	}
	jobs := []reconcile.Job{
		pay("inv_jobs_a", 4000),
		pay("inv_jobs_b", 2500),
		pay("inv_jobs_a", 5000),
		pay("inv_jobs_a", 2000), // 1000 left by then: refused
		queue(reconcile.JobIssueCreditNote, "inv_jobs_b", worker.IssueCreditNoteArgs{InvoiceID: "inv_jobs_b", Amount: 500, Reason: "discount"}),
		queue(reconcile.JobWriteOff, "inv_jobs_b", worker.WriteOffArgs{InvoiceID: "inv_jobs_b", Notes: "gone"}),
	}
	run := func(j reconcile.Job) error {
		payload, _ := json.Marshal(worker.JobPayload{JobID: j.ID})
		return h.RunJob(ctx, asynq.NewTask(worker.TypeRunJob, payload))
	}
	if err := run(jobs[0]); err != nil {
		t.Fatalf("first job's task: %v", err)
	}
	want := []reconcile.JobStatus{reconcile.JobSucceeded, reconcile.JobSucceeded, reconcile.JobSucceeded, reconcile.JobFailed,
		reconcile.JobSucceeded, reconcile.JobSucceeded}
	check := func(when string) {
		t.Helper()
		for i, j := range jobs {
			got, err := s.GetJob(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != want[i] || got.Attempts != 1 {
				t.Errorf("%s: job %d (%s) %s after %d attempts (%q), want %s after 1", when, i, j.Type, got.Status, got.Attempts, got.Error, want[i])
			}
		}
		mustFigures(t, s, "inv_jobs_a", figures{Paid: 9000, Balance: 1000, State: reconcile.StatePartial, Payments: 2})
		b, err := s.GetInvoice(ctx, "inv_jobs_b")
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%d %d %d %d %s", b.PaidAmount, b.CreditedAmount, b.WrittenOffAmount, b.Balance, b.State); got != "2500 500 7000 0 written_off" {
			t.Errorf("%s: inv_jobs_b paid, credited, written off, balance, state %s, want 2500 500 7000 0 written_off", when, got)
		}
	}
	check("after the first task")
	// The payments of inv_jobs_a, judged together, are each their job's:
	// method, history row with its actor, the job's result.
	d, err := s.GetInvoiceDetail(ctx, "inv_jobs_a")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]reconcile.Payment{}
	for _, p := range d.Payments {
		byID[p.ID] = p
	}
	for _, j := range []reconcile.Job{jobs[0], jobs[2]} {
		got, _ := s.GetJob(ctx, j.ID)
		var result struct {
			PaymentID string `json:"payment_id"`
		}
		if err := json.Unmarshal(got.Result, &result); err != nil {
			t.Fatalf("job %s result %s: %v", j.ID, got.Result, err)
		}
		if p, ok := byID[result.PaymentID]; !ok || p.Method == nil || *p.Method != "cash" || p.Source != reconcile.SourceManual {
			t.Errorf("job %s names payment %s: %+v, want a manual cash payment of the invoice", j.ID, result.PaymentID, p)
		}
	}
	var recorded []string
	for _, e := range d.History {
		if e.Kind == reconcile.HistoryPaymentRecorded {
			recorded = append(recorded, fmt.Sprintf("%d by %s", *e.Amount, e.Actor))
		}
	}
	if got := fmt.Sprint(recorded); got != "[4000 by ann 5000 by ann]" {
		t.Errorf("payment_recorded history of inv_jobs_a %s, want [4000 by ann 5000 by ann]", got)
	}
	if got, _ := s.GetJob(ctx, jobs[3].ID); !strings.Contains(got.Error, "overpayment") {
		t.Errorf("refused job's error %q, want the overpayment named", got.Error)
	}
	for i, j := range jobs[1:] {
		if err := run(j); err != nil {
			t.Errorf("task of job %d: %v, want nil: its job was done", i+1, err)
		}
	}
	check("after every task")
	if err := run(reconcile.Job{ID: "job_missing"}); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("task of no job: %v, want it ended without retry", err)
	}
}

// TestJobHeldByAGroupIsNotWaitedFor: a job's task that finds its job held
// by another transaction (a group applying it) ends at once rather than
// holding a worker slot until that transaction ends; once the holder rolls
// back, the job starts as any queued job does.
func TestJobHeldByAGroupIsNotWaitedFor(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	h := newHandlers(t, s)
	ctx := context.Background()
	sentInvoice(t, s, "inv_held", 10000)
	job, _, err := s.CreateJob(ctx, reconcile.NewJob{Type: reconcile.JobRecordPayment, Actor: "ann", InvoiceID: "inv_held",
		Payload: worker.RecordPaymentArgs{InvoiceID: "inv_held", Amount: 100, PaidDate: reconcile.DateOf(time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT FROM jobs WHERE id = $1 FOR UPDATE`, job.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartJob(ctx, job.ID); !errors.Is(err, reconcile.ErrJobHeld) {
		t.Fatalf("StartJob of a held job: %v, want ErrJobHeld", err)
	}
	payload, _ := json.Marshal(worker.JobPayload{JobID: job.ID})
	if err := h.RunJob(ctx, asynq.NewTask(worker.TypeRunJob, payload)); err != nil {
		t.Fatalf("task of a held job: %v, want nil", err)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetJob(ctx, job.ID); err != nil || got.Status != reconcile.JobQueued || got.Attempts != 0 {
		t.Fatalf("held job after its holder rolled back: %+v, %v; want queued, never started", got, err)
	}
	if err := h.RunJob(ctx, asynq.NewTask(worker.TypeRunJob, payload)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetJob(ctx, job.ID); err != nil || got.Status != reconcile.JobSucceeded || got.Attempts != 1 {
		t.Fatalf("job run after its holder rolled back: %+v, %v; want succeeded after one attempt", got, err)
	}
}
