package admin_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

func TestConcurrentOperators(t *testing.T) {
	t.Parallel()
	t.Run("thirty operators paying 1000 each on an invoice of 10000 make exactly ten payments", func(t *testing.T) {
		h := newHarness(t).in(t)
		h.startWorker()
		h.createInvoice("inv-30", 10000, true)

		var wg sync.WaitGroup
		answers := make([]response, 30)
		errs := make([]error, 30)
		for i := range answers {
			wg.Go(func() {
				answers[i], errs[i] = h.try("POST", "/admin/invoices/inv-30/payments", `{"amount": 1000, "method": "cash"}`,
					append(authed, "Idempotency-Key", fmt.Sprintf("operator-%d", i))...)
			})
		}
		wg.Wait()

		var succeeded, refusedNow, failedLater int
		for i, res := range answers {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			switch res.status {
			case http.StatusUnprocessableEntity:
				res.mustError(t, http.StatusUnprocessableEntity, "overpayment")
				refusedNow++
			case http.StatusAccepted:
				var job reconcile.Job
				res.must(t, http.StatusAccepted, &job)
				done := h.waitJob(job.ID)
				switch {
				case done.Status == reconcile.JobSucceeded:
					succeeded++
				case done.Status == reconcile.JobFailed && strings.Contains(done.Error, "overpayment") && done.Attempts == 1:
					failedLater++
				default:
					t.Fatalf("job ended %+v", done)
				}
			default:
				t.Fatalf("operator %d: %d %s", i, res.status, res.body)
			}
		}
		if succeeded != 10 || refusedNow+failedLater != 20 {
			t.Fatalf("%d succeeded, %d refused at once, %d failed when run", succeeded, refusedNow, failedLater)
		}
		d := h.mustFigures("inv-30", figures{10000, 0, 0, reconcile.StatePaid})
		if len(d.Payments) != 10 {
			t.Fatalf("%d payments, want 10", len(d.Payments))
		}
		t.Logf("%d refused at once, %d failed when run", refusedNow, failedLater)
	})
}

func TestJobRefusedWhenItRuns(t *testing.T) {
	t.Parallel()
	t.Run("two payments that fit alone but not together: one job fails with its reason, once", func(t *testing.T) {
		h := newHarness(t).in(t)
		h.createInvoice("inv-race", 10000, true)
		// No worker yet, so the balance does not move between the two checks.
		a := h.queue("POST", "/admin/invoices/inv-race/payments", `{"amount": 6000}`)
		b := h.queue("POST", "/admin/invoices/inv-race/payments", `{"amount": 6000}`)
		h.startWorker()
		ja, jb := h.waitJob(a.ID), h.waitJob(b.ID)
		if ja.Status == jb.Status {
			t.Fatalf("jobs ended %s and %s, want one succeeded and one failed", ja.Status, jb.Status)
		}
		failed, ok := ja, jb
		if jb.Status == reconcile.JobFailed {
			failed, ok = jb, ja
		}
		if failed.Status != reconcile.JobFailed || !strings.Contains(failed.Error, "overpayment") || failed.Attempts != 1 ||
			failed.FinishedAt == nil || len(failed.Result) != 0 {
			t.Fatalf("failed job %+v: want failed once with the reason", failed)
		}
		// Not retried: Asynq archived its task at once rather than scheduling
		// a retry, or the other job's group applied it (the worker applies
		// queued jobs together) and its own task found it finished and
		// completed.
		inspector := asynq.NewInspector(h.redis)
		defer inspector.Close()
		// The job's row is final before the handler returns to Asynq, so the
		// task may still read active for a moment.
		info, err := inspector.GetTaskInfo(worker.QueueJobs, failed.ID)
		for deadline := time.Now().Add(10 * time.Second); err == nil && info.State == asynq.TaskStateActive && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			info, err = inspector.GetTaskInfo(worker.QueueJobs, failed.ID)
		}
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound): // completed: its job ran once (Attempts above)
		case err != nil || info.State != asynq.TaskStateArchived || info.Retried != 0:
			t.Fatalf("task of the failed job: %+v, %v; want archived, never retried", info, err)
		}
		var result struct {
			PaymentID string `json:"payment_id"`
		}
		if err := json.Unmarshal(ok.Result, &result); err != nil || result.PaymentID == "" {
			t.Fatalf("succeeded job result %s", ok.Result)
		}
		d := h.mustFigures("inv-race", figures{6000, 0, 4000, reconcile.StatePartial})
		recorded := 0
		for _, e := range d.History {
			if e.Kind == reconcile.HistoryPaymentRecorded {
				recorded++
			}
		}
		if len(d.Payments) != 1 || recorded != 1 {
			t.Fatalf("%d payments, %d payment_recorded entries; want 1 and 1", len(d.Payments), recorded)
		}
	})
}
