package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

func TestTwoSchedulersQueueEachSlotOnce(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	s := reconcile.NewStore(pool)
	redis := testenv.Redis(t)
	ctx := context.Background()

	slots := []time.Time{
		time.Date(2026, 11, 24, 0, 3, 0, 0, time.UTC),   // the day's first slot: a full run
		time.Date(2026, 11, 24, 10, 16, 0, 0, time.UTC), // an incremental one
	}
	var wg sync.WaitGroup
	for range 2 {
		client := worker.NewClient(redis, s, zap.NewNop())
		t.Cleanup(func() { _ = client.Close() })
		sched := worker.NewScheduler(client, 15*time.Minute, 2*time.Minute, zap.NewNop())
		for _, now := range slots {
			wg.Go(func() {
				if err := sched.QueueSlots(ctx, now); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()

	rows, err := pool.Query(ctx, `SELECT payload->>'full' FROM jobs WHERE type = 'reconcile.run' ORDER BY created_at`)
	if err != nil {
		t.Fatal(err)
	}
	var fulls []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			t.Fatal(err)
		}
		fulls = append(fulls, f)
	}
	if len(fulls) != 2 {
		t.Fatalf("%d reconciliation jobs for 2 slots from 2 schedulers, want 2", len(fulls))
	}
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	runs, err := insp.ListPendingTasks(worker.QueueJobs)
	if err != nil {
		t.Fatal(err)
	}
	sweeps, err := insp.ListPendingTasks(worker.QueueMaintenance)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || len(sweeps) != 2 {
		t.Fatalf("%d run tasks and %d sweep tasks queued, want 2 and 2", len(runs), len(sweeps))
	}
}

// TestRelayAfterRedisLosesEverything stores an event and a job, loses their
// tasks (Redis flushed), and checks that a relay sweep queues them again and
// a worker then applies them once.
func TestRelayAfterRedisLosesEverything(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	redis := testenv.Redis(t)
	ctx := context.Background()
	client := worker.NewClient(redis, s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })

	inv, _ := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_relay", Number: "R", Client: "c", Currency: "usd", Amount: 10000})
	if _, err := s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID); err != nil {
		t.Fatal(err)
	}
	storeEvents(t, s, map[string][]byte{"evt_relay": piSucceeded("evt_relay", "pi_relay", inv.ID, 3000)})
	if err := client.EnqueueEvents(ctx, []string{"evt_relay"}); err != nil {
		t.Fatal(err)
	}
	job, err := client.Submit(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobRecordPayment, InvoiceID: inv.ID,
		Payload: worker.RecordPaymentArgs{InvoiceID: inv.ID, Amount: 2000, PaidDate: reconcile.DateOf(time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	flushRedis(t, redis)

	// Nothing is lost yet, only late: a sweep that sees them as old enough
	// queues both again.
	n, err := client.Relay(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n.Events != 1 || n.Jobs != 1 {
		t.Fatalf("relayed %+v, want 1 event and 1 job", n)
	}
	// A second sweep while they wait in Redis queues nothing twice.
	if _, err := client.Relay(ctx, 0); err != nil {
		t.Fatal(err)
	}
	runWorker(t, s, client, redis)
	waitFor(t, func() bool {
		j, _ := s.GetJob(ctx, job.ID)
		ev, _ := s.GetEvent(ctx, "evt_relay")
		return j.Status == reconcile.JobSucceeded && ev.Status == reconcile.EventProcessed
	})
	got, _ := s.GetInvoice(ctx, inv.ID)
	if got.PaidAmount != 5000 || got.Balance != 5000 || got.State != reconcile.StatePartial {
		t.Fatalf("invoice %+v, want paid 5000, balance 5000, partial", got)
	}
	var payments int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE invoice_id = $1`, inv.ID).Scan(&payments)
	if payments != 2 {
		t.Fatalf("%d payments, want 2", payments)
	}
}

func flushRedis(t *testing.T, opt asynq.RedisClientOpt) {
	t.Helper()
	rc := opt.MakeRedisClient().(*goredis.Client)
	defer rc.Close()
	if err := rc.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func runWorker(t *testing.T, s *reconcile.Store, client *worker.Client, redis asynq.RedisConnOpt) {
	t.Helper()
	h := worker.NewHandlers(s, client, nil, time.Minute, zap.NewNop()).WithLivemode(false)
	srv := worker.NewServer(redis, 4, h, zap.NewNop())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRelayTakesAWholeBacklog: one sweep queues every stranded event, not
// only its first page, so a large backlog is late by one sweep at worst.
func TestRelayTakesAWholeBacklog(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	redis := testenv.Redis(t)
	client := worker.NewClient(redis, s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	const backlog = 2500 // two and a half pages
	events := map[string][]byte{}
	for i := range backlog {
		id := fmt.Sprintf("evt_backlog_%05d", i)
		events[id] = piSucceeded(id, "pi_"+id, "inv_none", 100)
	}
	storeEvents(t, s, events)
	n, err := client.Relay(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n.Events != backlog {
		t.Fatalf("one sweep relayed %d events, want %d", n.Events, backlog)
	}
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	tasks, err := insp.ListPendingTasks(worker.QueueEvents, asynq.PageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	queued := map[string]int{}
	for _, task := range tasks {
		var p worker.EventPayload
		if err := json.Unmarshal(task.Payload, &p); err != nil {
			t.Fatal(err)
		}
		for _, id := range p.EventIDs {
			queued[id]++
		}
	}
	for id := range events {
		if queued[id] != 1 {
			t.Fatalf("%s queued %d times, want once (%d tasks hold %d events)", id, queued[id], len(tasks), len(queued))
		}
	}
}
