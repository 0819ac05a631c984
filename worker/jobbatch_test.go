package worker_test

import (
	"context"
	"encoding/json"
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

// TestJobsSubmittedTogetherShareATask submits manual payments from many
// goroutines at once, some replayed with their key: the jobs a group
// commit creates are queued in one task. Every job is in a live task, none
// in two batches, and a batch holds only new jobs that group; a relay
// sweep queues none of them again. The worker then applies every job once:
// each succeeded with one payment, and every invoice's totals are its
// rows'.
func TestJobsSubmittedTogetherShareATask(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	redis := testenv.Redis(t)
	client := newClient(t, s, redis)
	ctx := context.Background()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	const invoices = 6
	for i := range invoices {
		sentInvoice(t, s, fmt.Sprintf("inv_jb_%d", i), 100000)
	}
	today := reconcile.DateOf(time.Now())
	const senders, each = 16, 10
	requests := make([]reconcile.NewJob, senders*each)
	for i := range requests {
		inv := fmt.Sprintf("inv_jb_%d", r.IntN(invoices))
		key := fmt.Sprintf("pay-%d", i)
		if i > 0 && r.IntN(5) == 0 {
			// A replay of an earlier request, which may share its group.
			requests[i] = requests[r.IntN(i)]
			continue
		}
		requests[i] = reconcile.NewJob{Type: reconcile.JobRecordPayment, Actor: "ann", InvoiceID: inv, IdempotencyKey: key,
			RequestHash: key, Payload: worker.RecordPaymentArgs{InvoiceID: inv, Amount: reconcile.Amount(100 + r.IntN(900)), PaidDate: today}}
	}
	jobs := make([]reconcile.Job, len(requests))
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := g * each; i < (g+1)*each; i++ {
				job, err := client.Submit(ctx, requests[i])
				if err != nil {
					t.Errorf("submit %d: %v", i, err)
				}
				jobs[i] = job
			}
		})
	}
	wg.Wait()

	inBatch, covered := map[string]int{}, map[string]bool{}
	for _, task := range pendingJobTasks(t, redis) {
		var p worker.JobPayload
		if err := json.Unmarshal(task.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.JobID != "" {
			covered[p.JobID] = true
			continue
		}
		if len(p.JobIDs) < 2 {
			t.Fatalf("task %s carries %d jobs in a batch, want two or more", task.ID, len(p.JobIDs))
		}
		for _, id := range p.JobIDs {
			inBatch[id]++
			covered[id] = true
		}
	}
	for i, j := range jobs {
		if !covered[j.ID] || inBatch[j.ID] > 1 {
			t.Fatalf("job %s of request %d is in %d batches (live task: %v), want one live task and at most one batch",
				j.ID, i, inBatch[j.ID], covered[j.ID])
		}
	}
	t.Logf("%d jobs of %d requests were queued in batches", len(inBatch), len(jobs))
	n, err := client.Relay(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n.Jobs != 0 {
		t.Fatalf("a sweep queued %d jobs their tasks still hold", n.Jobs)
	}

	runWorker(t, s, client, redis)
	waitFor(t, func() bool {
		var unfinished int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE status NOT IN ('succeeded', 'failed')`).Scan(&unfinished)
		return unfinished == 0
	})
	want := map[string]int64{}
	for i, j := range jobs {
		got, err := s.GetJob(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != reconcile.JobSucceeded {
			t.Fatalf("job %s of request %d %s (%q), want succeeded", j.ID, i, got.Status, got.Error)
		}
		want[j.ID] = int64(requests[i].Payload.(worker.RecordPaymentArgs).Amount)
	}
	rows, err := db.Query(ctx, `SELECT idempotency_key, amount FROM payments WHERE idempotency_key IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	paid := map[string]int64{}
	for rows.Next() {
		var key string
		var amount int64
		if err := rows.Scan(&key, &amount); err != nil {
			t.Fatal(err)
		}
		if _, twice := paid[key]; twice {
			t.Fatalf("job %s has two payments", key)
		}
		paid[key] = amount
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(paid) != len(want) {
		t.Fatalf("%d payments, want one for each of the %d jobs", len(paid), len(want))
	}
	for id, amount := range want {
		if paid[id] != amount {
			t.Fatalf("job %s paid %d, want %d", id, paid[id], amount)
		}
	}
	checkRowsTruth(t, db)
}

// pendingJobTasks lists the tasks waiting in the jobs queue.
func pendingJobTasks(t *testing.T, redis asynq.RedisClientOpt) []*asynq.TaskInfo {
	t.Helper()
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	pending, err := insp.ListPendingTasks(worker.QueueJobs, asynq.PageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	return pending
}
