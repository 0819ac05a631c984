package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/reconcile"
)

// Scheduler queues the periodic work: a reconciliation run every
// reconcileEvery, a relay sweep every relayAfter, and the RETENTION prune
// once a UTC day. Each is named by its time slot, so any number of
// schedulers queue each slot once: a run is a job whose internal key is its
// slot (the database's unique key is the guarantee; operators'
// Idempotency-Keys live in another space), a sweep or a prune a task whose
// id is its slot.
type Scheduler struct {
	client         *Client
	reconcileEvery time.Duration
	relayAfter     time.Duration
	log            *zap.Logger
	now            func() time.Time
}

// NewScheduler makes a scheduler.
func NewScheduler(client *Client, reconcileEvery, relayAfter time.Duration, log *zap.Logger) *Scheduler {
	return &Scheduler{client: client, reconcileEvery: reconcileEvery, relayAfter: relayAfter, log: log, now: time.Now}
}

// Run queues each slot as it starts, until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		now := s.now().UTC()
		if err := s.QueueSlots(ctx, now); err != nil {
			s.log.Warn("scheduling failed; trying again next tick", zap.Error(err))
		}
		if err := s.QueueRetention(ctx, now); err != nil {
			s.log.Warn("scheduling the daily prune failed; trying again next tick", zap.Error(err))
		}
		wait := min(now.Truncate(s.reconcileEvery).Add(s.reconcileEvery).Sub(now),
			now.Truncate(s.relayAfter).Add(s.relayAfter).Sub(now))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// QueueSlots queues the run and the sweep of the slots that hold now. A run
// in the first slot of a UTC day is full; the others look only at what
// changed since the last run.
func (s *Scheduler) QueueSlots(ctx context.Context, now time.Time) error {
	slot := now.Truncate(s.reconcileEvery)
	full := slot.Sub(slot.Truncate(24*time.Hour)) < s.reconcileEvery
	_, err := s.client.Submit(ctx, reconcile.NewJob{
		Type:    reconcile.JobReconcile,
		Actor:   reconcile.ActorReconciler,
		Payload: ReconcileArgs{Full: full},
		// Not an Idempotency-Key: an operator could post that one first.
		InternalKey: "reconcile-slot:" + slot.Format(time.RFC3339),
		RequestHash: "scheduler",
	})
	if err != nil {
		return fmt.Errorf("queue reconciliation of slot %s: %w", slot.Format(time.RFC3339), err)
	}
	relaySlot := now.Truncate(s.relayAfter)
	payload, _ := json.Marshal(struct{}{})
	err = s.client.enqueue(ctx, asynq.NewTask(TypeRelay, payload),
		asynq.TaskID("relay:"+relaySlot.Format(time.RFC3339)), asynq.Queue(QueueMaintenance),
		asynq.MaxRetry(0), asynq.Timeout(taskTimeout), asynq.Retention(s.relayAfter))
	if err != nil {
		return fmt.Errorf("queue relay sweep of slot %s: %w", relaySlot.Format(time.RFC3339), err)
	}
	return nil
}
