package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// flushRedis empties the test's Redis db, as a Redis restarted without its
// data would be.
func (h *harness) flushRedis() {
	h.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: h.redis.Addr, Password: h.redis.Password, DB: h.redis.DB})
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		h.t.Fatalf("flush Redis: %v", err)
	}
}

func TestJobsOutliveRedis(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	t.Run("a succeeded job still reads succeeded after Redis is flushed", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-flush", 10000, true)
		stop := h.startWorker()
		done := h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-flush/payments", `{"amount": 3000}`).ID)
		stop()
		h.flushRedis()
		var after reconcile.Job
		h.do("GET", "/admin/jobs/"+done.ID, nil).must(t, http.StatusOK, &after)
		if after.Status != reconcile.JobSucceeded || !after.FinishedAt.Equal(*done.FinishedAt) {
			t.Fatalf("after the flush: %+v", after)
		}
		h.mustFigures("inv-flush", figures{3000, 0, 7000, reconcile.StatePartial})
	})

	t.Run("a job whose task Redis lost is still queued, and the relay sweep runs it", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-lost", 10000, true)
		job := h.queue("POST", "/admin/invoices/inv-lost/payments", `{"amount": 4000}`)
		h.flushRedis()
		var after reconcile.Job
		h.do("GET", "/admin/jobs/"+job.ID, nil).must(t, http.StatusOK, &after)
		if after.Status != reconcile.JobQueued {
			t.Fatalf("after the flush: %+v", after)
		}
		if _, err := h.client.Relay(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		h.startWorker()
		h.waitSucceeded(job.ID)
		h.mustFigures("inv-lost", figures{4000, 0, 6000, reconcile.StatePartial})
	})
}

func TestWorkerKilledMidJob(t *testing.T) {
	t.Parallel()
	t.Run("a job whose change committed before its worker died reads succeeded, and changes the ledger once when delivered again", func(t *testing.T) {
		h := newHarness(t).in(t)
		ctx := context.Background()
		h.createInvoice("inv-crash", 10000, true)
		job := h.queue("POST", "/admin/invoices/inv-crash/payments", `{"amount": 2500, "paid_date": "2024-06-01"}`,
			"Idempotency-Key", "crash-1")

		// The first attempt: what RunJob does up to its ledger change, then
		// the process dies before it acknowledges the task.
		if _, err := h.store.StartJob(ctx, job.ID); err != nil {
			t.Fatal(err)
		}
		date, _ := reconcile.ParseDate("2024-06-01")
		_, first, err := h.store.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester",
			Key: job.ID, InvoiceID: "inv-crash", Amount: 2500, PaidDate: date})
		if err != nil {
			t.Fatal(err)
		}
		// The change's own transaction marked the job succeeded: the operator
		// never sees a job unfinished whose payment is on the invoice.
		var crashed reconcile.Job
		h.do("GET", "/admin/jobs/"+job.ID, nil).must(t, http.StatusOK, &crashed)
		if crashed.Status != reconcile.JobSucceeded {
			t.Fatalf("after the crash: %+v", crashed)
		}

		// Asynq delivers the task again once the dead worker's lease
		// expires; here twice at once, as two workers might.
		payload, _ := json.Marshal(worker.JobPayload{JobID: job.ID})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { errs[i] = h.handlers.RunJob(ctx, asynq.NewTask(worker.TypeRunJob, payload)) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("redelivery: %v", err)
			}
		}

		// And the original task, still in Redis, reaches a fresh worker.
		h.startWorker()
		h.waitTaskGone(job.ID)

		done := h.waitSucceeded(job.ID)
		var result struct {
			PaymentID string `json:"payment_id"`
		}
		if err := json.Unmarshal(done.Result, &result); err != nil || result.PaymentID != first.ID {
			t.Fatalf("result %s, want payment %s", done.Result, first.ID)
		}
		d := h.mustFigures("inv-crash", figures{2500, 0, 7500, reconcile.StatePartial})
		if len(d.Payments) != 1 || d.Payments[0].ID != first.ID {
			t.Fatalf("payments %+v", d.Payments)
		}
	})
}

// waitTaskGone waits until the worker has taken a job's task off Redis.
func (h *harness) waitTaskGone(id string) {
	h.t.Helper()
	inspector := asynq.NewInspector(h.redis)
	defer inspector.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := inspector.GetTaskInfo(worker.QueueJobs, id)
		if errors.Is(err, asynq.ErrTaskNotFound) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("task %s still in Redis after 60s: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
