package webhooks

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

const (
	// enqueueQueue is how many committed batches may wait for Redis. Past it
	// a batch is not enqueued here at all: its events stay received in
	// PostgreSQL and the relay sweep (RELAY_AFTER) enqueues them, which is
	// better than letting a slow Redis back up into the webhook answers.
	enqueueQueue = 256
	// enqueueSenders enqueue batches side by side: one Redis round trip per
	// event, in one goroutine, cannot keep up with group-committed ingest.
	enqueueSenders = 8
	// enqueueTimeout bounds one EnqueueEvents call, for the same reason.
	enqueueTimeout = 5 * time.Second
	// closeGrace is how long Close lets queued enqueues run before giving
	// up on them; whatever is left is the sweep's.
	closeGrace = 10 * time.Second
)

// enqueuer enqueues the ids of newly stored events, one EnqueueEvents call per
// batch, on its own goroutine so that the answer to Stripe depends only on
// the commit.
type enqueuer struct {
	enq   Enqueuer
	log   *zap.Logger
	stats *counters
	ids   chan []string

	ctx     context.Context // cancelled when closeGrace runs out
	cancel  context.CancelFunc
	stopped chan struct{}
}

func newEnqueuer(enq Enqueuer, log *zap.Logger, stats *counters) *enqueuer {
	ctx, cancel := context.WithCancel(context.Background())
	r := &enqueuer{enq: enq, log: log, stats: stats, ids: make(chan []string, enqueueQueue),
		ctx: ctx, cancel: cancel, stopped: make(chan struct{})}
	go r.run()
	return r
}

// submit queues ids without ever blocking. It is called only by the batch
// writer, so it never races close.
func (r *enqueuer) submit(ids []string) {
	if len(ids) == 0 || r.enq == nil {
		return
	}
	select {
	case r.ids <- ids:
	default:
		r.stats.enqueueDropped.Add(int64(len(ids)))
		r.log.Warn("enqueue queue full: events left for the relay sweep", zap.Int("events", len(ids)))
	}
}

func (r *enqueuer) run() {
	defer close(r.stopped)
	var senders sync.WaitGroup
	for range enqueueSenders {
		senders.Go(r.send)
	}
	senders.Wait()
}

// send enqueues queued batches until the queue is closed.
func (r *enqueuer) send() {
	for ids := range r.ids {
		ctx, cancel := context.WithTimeout(r.ctx, enqueueTimeout)
		err := r.enq.EnqueueEvents(ctx, ids)
		cancel()
		if err != nil {
			r.stats.enqueueErrors.Add(int64(len(ids)))
			r.log.Warn("enqueue events failed: left for the relay sweep", zap.Int("events", len(ids)), zap.Error(err))
		}
	}
}

// close runs what is queued, for at most closeGrace, then stops.
func (r *enqueuer) close() {
	close(r.ids)
	t := time.AfterFunc(closeGrace, r.cancel)
	<-r.stopped
	t.Stop()
	r.cancel()
}
