package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/reconcile"
)

// reconcileTimeout bounds one reconciliation run, which walks every invoice.
const reconcileTimeout = 30 * time.Minute

// Reconciler runs a reconciliation run and names it.
type Reconciler interface {
	Run(ctx context.Context, full bool) (runID string, err error)
}

// Handlers turn tasks into ledger changes.
type Handlers struct {
	livemode   bool
	store      *reconcile.Store
	deliverer  *notify.Deliverer
	metrics    *Metrics
	client     *Client
	relayAfter time.Duration
	reconciler Reconciler
	log        *zap.Logger
	// retention and notifications are the daily prune's (WithRetention).
	retention     time.Duration
	notifications *notify.Store
	// events lets concurrent tasks' events share group commits.
	events *eventCombiner
}

// NewHandlers wires the handlers to the ledger. relayAfter is how long work
// may wait before a relay sweep queues it again. They take live Stripe
// events only, unless WithLivemode says otherwise.
func NewHandlers(store *reconcile.Store, client *Client, reconciler Reconciler, relayAfter time.Duration, log *zap.Logger) *Handlers {
	return &Handlers{livemode: true, store: store, client: client, reconciler: reconciler, relayAfter: relayAfter, log: log,
		events: newEventCombiner(defaultConcurrency / 2)}
}

// WithLivemode sets which mode's Stripe events touch the ledger
// (STRIPE_LIVEMODE; true unless set): an event of the other mode is stored
// ignored, with the reason.
func (h *Handlers) WithLivemode(live bool) *Handlers {
	h.livemode = live
	return h
}

// defaultConcurrency is how many tasks the handlers expect to run at once
// until WithConcurrency (which NewServer calls) says otherwise:
// WORKER_CONCURRENCY's default.
const defaultConcurrency = 10

// WithConcurrency tells the handlers how many tasks the worker runs at once
// (WORKER_CONCURRENCY): half of them may apply events at once, and the
// events of the others wait to share their group commits (eventCombiner).
func (h *Handlers) WithConcurrency(n int) *Handlers {
	h.events = newEventCombiner(n / 2)
	return h
}

// WithMetrics records the handlers' figures in m.
func (h *Handlers) WithMetrics(m *Metrics) *Handlers {
	h.metrics = m
	return h
}

// WithDeliverer lets the handlers deliver notifications (TypeDeliver).
func (h *Handlers) WithDeliverer(d *notify.Deliverer) *Handlers {
	h.deliverer = d
	return h
}

// Deliver makes one attempt at a notification's delivery. A failed attempt
// is queued again for when its backoff ends; a busy endpoint (too many
// requests in flight from this process) is tried again shortly, so a slow
// receiver never holds up a worker.
func (h *Handlers) Deliver(ctx context.Context, task *asynq.Task) error {
	var p DeliveryPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil || p.DeliveryID == "" {
		return fmt.Errorf("bad delivery task payload: %w", asynq.SkipRetry)
	}
	if h.deliverer == nil {
		return fmt.Errorf("notifications are not delivered by this worker: %w", asynq.SkipRetry)
	}
	res, err := h.deliverer.Deliver(ctx, p.DeliveryID)
	switch {
	case errors.Is(err, notify.ErrEndpointBusy):
		h.metrics.delivery("busy")
	case err != nil:
		h.metrics.delivery("error")
	case res.Delivered:
		h.metrics.delivery("delivered")
	case res.Retry:
		h.metrics.delivery("retry")
	default:
		h.metrics.delivery("done")
	}
	if res.Retry {
		// The retry is a task of its own: this one's id is taken until it ends.
		taskID := fmt.Sprintf("delivery:%s:%d", p.DeliveryID, res.NextAt.UnixNano())
		if enqErr := h.client.enqueueDelivery(ctx, p.DeliveryID, taskID, res.NextAt); enqErr != nil {
			// The row stays pending: the dispatcher's sweep offers it again.
			h.log.Warn("could not queue the next delivery attempt", zap.String("delivery", p.DeliveryID), zap.Error(enqErr))
		}
	}
	if err != nil && !errors.Is(err, notify.ErrEndpointBusy) {
		return err
	}
	return nil
}

// Relay runs a relay sweep (TypeRelay).
func (h *Handlers) Relay(ctx context.Context, _ *asynq.Task) error {
	_, err := h.client.Relay(ctx, h.relayAfter)
	return err
}

// retryUnlessRefused hands err back for Asynq to retry, unless the ledger
// refused: a refusal (no such event or job) never succeeds on retry.
func retryUnlessRefused(what string, err error) error {
	if _, refused := apperr.As(err); refused {
		return fmt.Errorf("%s: %v: %w", what, err, asynq.SkipRetry)
	}
	return err
}

// lastAttempt reports whether Asynq will not retry this task after a failure.
func lastAttempt(ctx context.Context) bool {
	retried, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && retried >= maxRetry
}
