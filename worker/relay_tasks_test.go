package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestRelayNeverMultipliesTasks runs relay sweeps over events whose tasks
// still exist in Redis, pending or waiting for a retry: no sweep queues
// them again, so a backlog never feeds itself and a poison event is not
// queued once per sweep. Events whose tasks Redis lost are queued once,
// however many sweeps run.
func TestRelayNeverMultipliesTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a backlog still queued is queued again by no sweep", func(t *testing.T) {
		s, _ := testenv.Store(t)
		redis := testenv.Redis(t)
		client := newClient(t, s, redis)
		ids := storeBacklog(t, s, "evt_queued", 600)
		// As the webhook queues them: one task per group commit.
		for i := 0; i < len(ids); i += 100 {
			if err := client.EnqueueEvents(ctx, ids[i:i+100]); err != nil {
				t.Fatal(err)
			}
		}
		for sweep := range 3 {
			n, err := client.Relay(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n.Events != 0 {
				t.Errorf("sweep %d queued %d events again, want none", sweep+1, n.Events)
			}
		}
		assertEachQueuedOnce(t, redis, ids, 6)
	})

	t.Run("a poison event waiting for its retry is not queued again", func(t *testing.T) {
		s, _ := testenv.Store(t)
		redis := testenv.Redis(t)
		client := newClient(t, s, redis)
		ids := storeBacklog(t, s, "evt_poison", 3)
		if err := client.EnqueueEvents(ctx, ids); err != nil {
			t.Fatal(err)
		}
		failOnce(t, redis) // the task now waits an hour for its retry
		// Its other events went through; the poison one stays received.
		for _, id := range ids[1:] {
			if err := s.MarkEvent(ctx, id, reconcile.EventResult{Status: reconcile.EventIgnored, Reason: "done"}); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if _, err := client.Relay(ctx, 0); err != nil {
				t.Fatal(err)
			}
		}
		insp := asynq.NewInspector(redis)
		defer insp.Close()
		info, err := insp.GetQueueInfo(worker.QueueEvents)
		if err != nil {
			t.Fatal(err)
		}
		if info.Retry != 1 || info.Pending != 0 || info.Scheduled != 0 {
			t.Fatalf("queue holds %d retrying, %d pending, %d scheduled tasks; want the one retrying task only",
				info.Retry, info.Pending, info.Scheduled)
		}
	})

	t.Run("events whose tasks Redis lost are queued once, however many sweeps run", func(t *testing.T) {
		s, _ := testenv.Store(t)
		redis := testenv.Redis(t)
		client := newClient(t, s, redis)
		ids := storeBacklog(t, s, "evt_lost", 700)
		relayed := 0
		for range 3 {
			n, err := client.Relay(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			relayed += n.Events
		}
		if relayed != len(ids) {
			t.Errorf("the sweeps queued %d events, want each of the %d once", relayed, len(ids))
		}
		assertEachQueuedOnce(t, redis, ids, 0)
	})
}

func newClient(t *testing.T, s *reconcile.Store, redis asynq.RedisClientOpt) *worker.Client {
	client := worker.NewClient(redis, s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// storeBacklog stores n received events for an unknown invoice and returns
// their ids, in order.
func storeBacklog(t *testing.T, s *reconcile.Store, prefix string, n int) []string {
	events := map[string][]byte{}
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s_%05d", prefix, i)
		events[ids[i]] = piSucceeded(ids[i], "pi_"+ids[i], "inv_none", 100)
	}
	storeEvents(t, s, events)
	return ids
}

// assertEachQueuedOnce checks that the pending tasks of the events queue
// hold each id exactly once, in tasks tasks when tasks is not 0.
func assertEachQueuedOnce(t *testing.T, redis asynq.RedisClientOpt, ids []string, tasks int) {
	t.Helper()
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	pending, err := insp.ListPendingTasks(worker.QueueEvents, asynq.PageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	if tasks != 0 && len(pending) != tasks {
		t.Errorf("%d tasks queued, want %d", len(pending), tasks)
	}
	queued := map[string]int{}
	for _, task := range pending {
		var p worker.EventPayload
		if err := json.Unmarshal(task.Payload, &p); err != nil {
			t.Fatal(err)
		}
		for _, id := range p.EventIDs {
			queued[id]++
		}
	}
	for _, id := range ids {
		if queued[id] != 1 {
			t.Fatalf("%s queued %d times, want once (%d tasks hold %d events)", id, queued[id], len(pending), len(queued))
		}
	}
}

// failOnce runs a worker whose event tasks fail, with an hour before their
// retry, until the queued task has failed once; then stops it.
func failOnce(t *testing.T, redis asynq.RedisClientOpt) {
	t.Helper()
	failed := make(chan struct{}, 1)
	srv := asynq.NewServer(redis, asynq.Config{
		Concurrency:       1,
		Queues:            map[string]int{worker.QueueEvents: 1},
		TaskCheckInterval: 10 * time.Millisecond,
		RetryDelayFunc:    func(int, error, *asynq.Task) time.Duration { return time.Hour },
		LogLevel:          asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(worker.TypeProcessEvent, func(context.Context, *asynq.Task) error {
		select {
		case failed <- struct{}{}:
		default:
		}
		return errors.New("poison: the database refuses this event today")
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	<-failed
	srv.Shutdown()
}
