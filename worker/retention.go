package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/reconcile"
)

// pruneTimeout bounds one day's prune; what it leaves, the next day takes.
const pruneTimeout = 30 * time.Minute

// RetentionPayload is the payload of TypeRetention: the UTC day whose prune
// it is, which names its task.
type RetentionPayload struct {
	Day string `json:"day"`
}

// WithRetention lets the handlers run the daily prune (TypeRetention): raw
// event payloads, finished jobs and finished deliveries (and notifications
// none refers to) older than retention, from the ledger's store and from
// notifications.
func (h *Handlers) WithRetention(retention time.Duration, notifications *notify.Store) *Handlers {
	h.retention, h.notifications = retention, notifications
	return h
}

// Prune lets go of what RETENTION no longer keeps, in small batches that
// never hold up the ledger: the raw payloads of events done with (their
// rows and statuses stay), finished jobs, finished deliveries and the
// notifications no delivery refers to any more. Money rows and history are
// never pruned. Each kind's count goes to reconciler_retention_pruned_total.
func (h *Handlers) Prune(ctx context.Context, _ *asynq.Task) error {
	if h.retention <= 0 || h.notifications == nil {
		return fmt.Errorf("this worker has no RETENTION to prune by: %w", asynq.SkipRetry)
	}
	before := time.Now().Add(-h.retention)
	payloads, err := h.store.PruneEventPayloads(ctx, before, reconcile.PruneBatch)
	h.metrics.prune("event_payloads", payloads)
	if err != nil {
		return err
	}
	jobs, err := h.store.PruneJobs(ctx, before, reconcile.PruneBatch)
	h.metrics.prune("jobs", jobs)
	if err != nil {
		return err
	}
	outbox, err := h.notifications.Prune(ctx, before, reconcile.PruneBatch)
	h.metrics.prune("deliveries", outbox.Deliveries)
	h.metrics.prune("notifications", outbox.Notifications)
	if err != nil {
		return err
	}
	h.log.Info("pruned what RETENTION no longer keeps", zap.Time("before", before),
		zap.Int64("event_payloads", payloads), zap.Int64("jobs", jobs),
		zap.Int64("deliveries", outbox.Deliveries), zap.Int64("notifications", outbox.Notifications))
	return nil
}

func (m *Metrics) prune(kind string, n int64) {
	if m != nil {
		m.pruned.WithLabelValues(kind).Add(float64(n))
	}
}

// QueueRetention queues the prune of the UTC day that holds now. Its task id
// is the day, and the finished task is kept a day, so any number of
// schedulers queue one prune a day.
func (s *Scheduler) QueueRetention(ctx context.Context, now time.Time) error {
	day := now.UTC().Truncate(24 * time.Hour).Format(time.DateOnly)
	payload, err := json.Marshal(RetentionPayload{Day: day})
	if err != nil {
		return fmt.Errorf("encode retention task: %w", err)
	}
	err = s.client.enqueue(ctx, asynq.NewTask(TypeRetention, payload),
		asynq.TaskID("retention:"+day), asynq.Queue(QueueMaintenance),
		asynq.MaxRetry(3), asynq.Timeout(pruneTimeout), asynq.Retention(24*time.Hour))
	if err != nil {
		return fmt.Errorf("queue the prune of %s: %w", day, err)
	}
	return nil
}
