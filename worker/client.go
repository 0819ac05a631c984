package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/gather"
	"github.com/payrecon/reconciler/reconcile"
)

// Client is the one place that enqueues tasks. A job is a row in
// PostgreSQL before it is a task in Redis, so a job answered to an operator
// survives Redis losing its task.
type Client struct {
	asynq *asynq.Client
	// inspector tells a relay which events and jobs a task in Redis still
	// covers.
	inspector *asynq.Inspector
	store     *reconcile.Store
	// jobs stores the jobs of concurrent Submits together.
	jobs *jobCommitter
	// keys looks up the idempotency keys of concurrent LookupKeys together.
	keys *gather.Gatherer[reconcile.KeyRead, reconcile.KeyReadResult]
	log  *zap.Logger
}

// NewClient makes a client on a Redis connection.
func NewClient(redis asynq.RedisConnOpt, store *reconcile.Store, log *zap.Logger) *Client {
	c := &Client{asynq: asynq.NewClient(redis), inspector: asynq.NewInspector(redis), store: store, log: log}
	c.jobs = newJobCommitter(store, c.enqueueJobBatch)
	c.keys = gather.New(store.LookupJobsByKeysReading, gather.DefaultMax, gather.DefaultTimeout)
	return c
}

// Close closes the Redis connections.
func (c *Client) Close() error {
	return errors.Join(c.asynq.Close(), c.inspector.Close())
}

// enqueue adds a task; a task with the same id already queued is success.
func (c *Client) enqueue(ctx context.Context, task *asynq.Task, opts ...asynq.Option) error {
	_, err := c.asynq.EnqueueContext(ctx, task, opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", task.Type(), err)
	}
	return nil
}

// EnqueueEvents queues the processing of stored events, in tasks of up to
// maxEventsPerTask events.
func (c *Client) EnqueueEvents(ctx context.Context, ids []string) error {
	for chunk := range slices.Chunk(ids, maxEventsPerTask) {
		if err := c.enqueueEventTask(ctx, chunk, eventsTaskID(chunk)); err != nil {
			return err
		}
	}
	return nil
}

// enqueueEventTask queues one task processing the events of ids.
func (c *Client) enqueueEventTask(ctx context.Context, ids []string, taskID string) error {
	payload, err := json.Marshal(EventPayload{EventIDs: ids})
	if err != nil {
		return fmt.Errorf("encode event task: %w", err)
	}
	if err := c.enqueue(ctx, asynq.NewTask(TypeProcessEvent, payload),
		asynq.TaskID(taskID), asynq.Queue(QueueEvents),
		asynq.MaxRetry(eventMaxRetry), asynq.Timeout(taskTimeout)); err != nil {
		return fmt.Errorf("events %s..%s: %w", ids[0], ids[len(ids)-1], err)
	}
	return nil
}

// EnqueueJob queues the task of a stored job; its task id is the job id.
func (c *Client) EnqueueJob(ctx context.Context, job reconcile.Job) error {
	payload, err := json.Marshal(JobPayload{JobID: job.ID})
	if err != nil {
		return fmt.Errorf("encode job task: %w", err)
	}
	timeout := taskTimeout
	if job.Type == reconcile.JobReconcile {
		timeout = reconcileTimeout
	}
	return c.enqueue(ctx, asynq.NewTask(TypeRunJob, payload),
		asynq.TaskID(job.ID), asynq.Queue(QueueJobs), asynq.MaxRetry(jobMaxRetry), asynq.Timeout(timeout))
}

// enqueueJobBatch queues one task applying the jobs of ids together (see
// JobPayload): the jobs of one group commit of requests.
func (c *Client) enqueueJobBatch(ctx context.Context, ids []string) error {
	payload, err := json.Marshal(JobPayload{JobIDs: ids})
	if err != nil {
		return fmt.Errorf("encode jobs task: %w", err)
	}
	return c.enqueue(ctx, asynq.NewTask(TypeRunJob, payload),
		asynq.TaskID(jobsTaskID(ids)), asynq.Queue(QueueJobs), asynq.MaxRetry(jobMaxRetry), asynq.Timeout(taskTimeout))
}

// EnqueueDelivery queues an attempt at a notification's delivery at a
// time (notify.Enqueuer). A delivery offered twice is attempted once: the
// attempt claims its row. One already waiting in Redis keeps its task id.
func (c *Client) EnqueueDelivery(ctx context.Context, deliveryID string, at time.Time) error {
	return c.enqueueDelivery(ctx, deliveryID, "delivery:"+deliveryID, at)
}

func (c *Client) enqueueDelivery(ctx context.Context, deliveryID, taskID string, at time.Time) error {
	payload, err := json.Marshal(DeliveryPayload{DeliveryID: deliveryID})
	if err != nil {
		return fmt.Errorf("encode delivery task: %w", err)
	}
	// The delivery's own retry budget (3 days) lives in its row; Asynq
	// retries only faults of this process, a few times.
	return c.enqueue(ctx, asynq.NewTask(TypeDeliver, payload), asynq.TaskID(taskID), asynq.ProcessAt(at),
		asynq.Queue(QueueNotifications), asynq.MaxRetry(3), asynq.Timeout(taskTimeout))
}

// LookupKey is reconcile.Store.LookupJobByKeyReading (LookupJobByKey when
// invoiceID is empty), made with the lookups of concurrent requests in one
// round trip (reconcile.Store.LookupJobsByKeysReading): each request's
// check of its key and read of its invoice cost a share of two statements
// instead of a transaction of its own. Every lookup of a round trip was
// asked for before it started, so each sees what a lookup of its own
// would have.
func (c *Client) LookupKey(ctx context.Context, key, requestHash, invoiceID string) (reconcile.Job, bool, reconcile.InvoiceRead, error) {
	res, err := c.keys.Do(ctx, reconcile.KeyRead{Key: key, RequestHash: requestHash, InvoiceID: invoiceID})
	if err != nil {
		return reconcile.Job{}, false, reconcile.InvoiceRead{}, err
	}
	return res.Job, res.Found, res.Invoice, res.Err
}

// Submit stores a job, with those of concurrent Submits, and queues it:
// the new jobs of a group commit that group are queued together, in one
// task. With an idempotency key already used, the first job is returned
// and, while unfinished, queued again (a no-op unless Redis lost it). Redis
// being down is not an error: the job is stored, and the relay sweep queues
// it.
func (c *Client) Submit(ctx context.Context, n reconcile.NewJob) (reconcile.Job, error) {
	job, queued, err := c.jobs.create(ctx, n)
	if err != nil {
		return reconcile.Job{}, err
	}
	if job.Status.Finished() || queued {
		return job, nil
	}
	if err := c.EnqueueJob(ctx, job); err != nil {
		c.log.Warn("job stored, not queued: the relay sweep will queue it", zap.String("job", job.ID), zap.Error(err))
	}
	return job, nil
}
