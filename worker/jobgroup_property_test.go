package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestQueuedJobsProperty queues random operators' jobs (payments, credit
// notes, write-offs, reopens) on a few invoices, then runs their tasks,
// each once or twice, alone or in batches, shuffled, from several workers
// at once: groups of jobs claim each other's jobs, and their tasks meet
// jobs held or done.
// Whatever the order, every job ends once, started at least once,
// succeeded with exactly its change or failed with none, no manual payment
// takes an invoice past what is due, and every invoice's totals are its
// rows'.
func TestQueuedJobsProperty(t *testing.T) {
	t.Parallel()
	seed := uint64(propEnv("PROPERTY_SEED", int(rand.Uint32())))
	t.Logf("PROPERTY_SEED=%d", seed)
	r := rand.New(rand.NewPCG(seed, 23))
	pool := testenv.PoolOn(t, testenv.DatabaseURL(t), 8)
	s := reconcile.NewStore(pool)
	h := newHandlers(t, s)
	ctx := context.Background()
	// Invoices 0-4 take every kind of job; 5-9 only payments, which a group
	// judges in memory.
	const invoices = 10
	for i := range invoices {
		sentInvoice(t, s, fmt.Sprintf("inv_qj_%d", i), 10000)
	}
	today := reconcile.DateOf(time.Now())
	var jobs []reconcile.Job
	for range 200 {
		i := r.IntN(invoices)
		inv := fmt.Sprintf("inv_qj_%d", i)
		var n reconcile.NewJob
		switch k := r.IntN(20); {
		case k < 12 || i >= invoices/2:
			n = reconcile.NewJob{Type: reconcile.JobRecordPayment, Payload: worker.RecordPaymentArgs{InvoiceID: inv,
				Amount: reconcile.Amount(100 + r.IntN(2900)), PaidDate: today, Method: "check"}}
		case k < 15:
			n = reconcile.NewJob{Type: reconcile.JobIssueCreditNote, Payload: worker.IssueCreditNoteArgs{InvoiceID: inv,
				Amount: reconcile.Amount(100 + r.IntN(900)), Reason: "discount"}}
		case k < 18:
			n = reconcile.NewJob{Type: reconcile.JobWriteOff, Payload: worker.WriteOffArgs{InvoiceID: inv}}
		default:
			n = reconcile.NewJob{Type: reconcile.JobReopen, Payload: worker.ReopenArgs{InvoiceID: inv}}
		}
		n.Actor, n.InvoiceID = "ann", inv
		j, _, err := s.CreateJob(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	// Each job is delivered once or twice, alone or in a batch of up to
	// eight (as the jobs of one group commit of requests travel).
	var ids []string
	for _, j := range jobs {
		for range 1 + r.IntN(2) {
			ids = append(ids, j.ID)
		}
	}
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	var tasks []worker.JobPayload
	for len(ids) > 0 {
		n := min(1+r.IntN(8), len(ids))
		if n == 1 {
			tasks = append(tasks, worker.JobPayload{JobID: ids[0]})
		} else {
			tasks = append(tasks, worker.JobPayload{JobIDs: ids[:n]})
		}
		ids = ids[n:]
	}
	queue := make(chan worker.JobPayload)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for p := range queue {
				payload, _ := json.Marshal(p)
				// A refusal ends a task with SkipRetry; a fault is retried.
				for range 5 {
					if err := h.RunJob(ctx, asynq.NewTask(worker.TypeRunJob, payload)); err == nil || isSkipRetry(err) {
						break
					}
				}
			}
		})
	}
	for _, p := range tasks {
		queue <- p
	}
	close(queue)
	wg.Wait()
	// A job left queued is one a group held while its tasks ran, and that
	// rolled back: the relay sweep would give it a task; run it as that.
	for _, j := range jobs {
		if got, _ := s.GetJob(ctx, j.ID); !got.Status.Finished() {
			payload, _ := json.Marshal(worker.JobPayload{JobID: j.ID})
			_ = h.RunJob(ctx, asynq.NewTask(worker.TypeRunJob, payload))
		}
	}

	for _, j := range jobs {
		got, err := s.GetJob(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		var changes int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM invoice_history WHERE op_key = $1`, j.ID).Scan(&changes); err != nil {
			t.Fatal(err)
		}
		if got.Attempts < 1 {
			t.Errorf("seed %d: job %s %s after %d attempts, want at least one", seed, j.ID, got.Status, got.Attempts)
		}
		switch {
		case got.Status == reconcile.JobSucceeded && changes == 1:
		case got.Status == reconcile.JobFailed && changes == 0 && got.Error != "":
		default:
			t.Errorf("seed %d: job %s (%s) %s (%q) with %d changes in history, want succeeded with 1 or failed with 0",
				seed, j.ID, j.Type, got.Status, got.Error, changes)
		}
		if j.Type == reconcile.JobRecordPayment {
			var payments int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE idempotency_key = $1`, j.ID).Scan(&payments); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[got.Status == reconcile.JobSucceeded]; payments != want {
				t.Errorf("seed %d: payment job %s %s has %d payments, want %d", seed, j.ID, got.Status, payments, want)
			}
		}
	}
	for i := range invoices {
		inv, err := s.GetInvoice(ctx, fmt.Sprintf("inv_qj_%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if inv.PaidAmount+inv.CreditedAmount > inv.Amount {
			t.Errorf("seed %d: invoice %s paid %d and credited %d of %d: manual money past what was due",
				seed, inv.ID, inv.PaidAmount, inv.CreditedAmount, inv.Amount)
		}
	}
	checkRowsTruth(t, pool)
}

func isSkipRetry(err error) bool { return errors.Is(err, asynq.SkipRetry) }
