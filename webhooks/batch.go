package webhooks

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/reconcile"
)

// storeTimeout bounds one group commit: a commit stuck longer than this is
// better answered 503 (Stripe retries) than left holding every request of
// its batch.
const storeTimeout = 10 * time.Second

// errCommitSlow answers a request whose commit did not end within the
// batcher's answerWithin; the event may still be committed, and a retry finds it.
var errCommitSlow = errors.New("the event's commit did not end in time")

// errClosed answers requests that arrive after Close.
var errClosed = errors.New("webhook handler is closed")

// errOverloaded answers a request that finds the commit queue full.
var errOverloaded = errors.New("webhook commit queue is full")

// pending is one request's event waiting for its batch's commit.
type pending struct {
	event reconcile.InboxEvent
	at    time.Time   // when it was queued; its batch waits no longer than BatchWait past this
	done  chan result // buffered, so the writer never waits for a request that gave up
}

type result struct {
	isNew bool
	err   error
}

// batcher is the group commit: one goroutine takes the events of concurrent
// requests and stores them with one transaction, so ingest is bounded by
// what PostgreSQL commits per second, not by events per second.
type batcher struct {
	store        *reconcile.Store
	enqueuer     *enqueuer
	log          *zap.Logger
	stats        *counters
	wait         time.Duration
	max          int
	queueBytes   int64
	answerWithin time.Duration

	// heldBytes are the payload bytes of the events submitted and not yet
	// answered, waiting or being committed.
	heldBytes atomic.Int64

	// mu makes Close and submit agree on whether in is still open: submit
	// sends under the read lock, Close closes under the write lock.
	mu     sync.RWMutex
	closed bool
	in     chan *pending

	events  []reconcile.InboxEvent // reused by the writer goroutine only
	stopped chan struct{}
}

// batchLimits size the group commit and its queue.
type batchLimits struct {
	wait       time.Duration
	max        int   // events per commit
	queue      int   // events waiting beside those being committed
	queueBytes int64 // payload bytes held, waiting or being committed
	// answerWithin bounds a request's wait for its commit, from its
	// arrival: behind a commit stuck on a hung PostgreSQL a request is
	// answered at this bound, not when the commit before its own gives up.
	answerWithin time.Duration
}

func newBatcher(store *reconcile.Store, rl *enqueuer, log *zap.Logger, stats *counters, l batchLimits) *batcher {
	b := &batcher{
		store: store, enqueuer: rl, log: log, stats: stats, wait: l.wait, max: l.max, queueBytes: l.queueBytes,
		answerWithin: l.answerWithin,
		in:           make(chan *pending, l.queue),
		events:       make([]reconcile.InboxEvent, 0, l.max),
		stopped:      make(chan struct{}),
	}
	go b.run()
	return b
}

// submit queues ev for the next commit and waits for it. With ctx done it
// returns ctx's error, and the event may or may not be committed later.
// When the queue holds as many events or bytes as it may, it returns
// errOverloaded at once, without waiting for room: under more load than
// PostgreSQL commits, waiting would only pile up requests and their bodies.
func (b *batcher) submit(ctx context.Context, ev reconcile.InboxEvent) (isNew bool, err error) {
	size := int64(len(ev.Payload))
	if b.heldBytes.Add(size) > b.queueBytes {
		b.heldBytes.Add(-size)
		b.stats.shed.Add(1)
		return false, errOverloaded
	}
	p := &pending{event: ev, at: time.Now(), done: make(chan result, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		b.heldBytes.Add(-size)
		return false, errClosed
	}
	select {
	case b.in <- p:
	default:
		b.mu.RUnlock()
		b.heldBytes.Add(-size)
		b.stats.shed.Add(1)
		return false, errOverloaded
	}
	b.mu.RUnlock()

	timer := time.NewTimer(b.answerWithin - time.Since(p.at))
	defer timer.Stop()
	select {
	case r := <-p.done:
		return r.isNew, r.err
	case <-ctx.Done():
		return false, ctx.Err()
	case <-timer.C:
		return false, errCommitSlow
	}
}

// close commits everything already queued, then stops the writer.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	<-b.stopped
}

func (b *batcher) run() {
	defer close(b.stopped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := make([]*pending, 0, b.max)
	for first := range b.in {
		batch = b.fill(append(batch[:0], first), timer)
		b.commit(batch)
		clear(batch) // let the payloads go
	}
}

// fill adds queued events to batch until it holds max or the first event
// has waited BatchWait. The wait counts from the first event's arrival, not
// from now: under load the next batch piles up during the previous commit,
// and waiting again on top of that would only add latency.
func (b *batcher) fill(batch []*pending, timer *time.Timer) []*pending {
	for len(batch) < b.max {
		select {
		case p, ok := <-b.in:
			if !ok {
				return batch
			}
			batch = append(batch, p)
			continue
		default:
		}
		left := time.Until(batch[0].at.Add(b.wait))
		if left <= 0 {
			return batch
		}
		timer.Reset(left)
		select {
		case p, ok := <-b.in:
			timer.Stop()
			if !ok {
				return batch
			}
			batch = append(batch, p)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// commit stores the batch in one transaction, answers each request, and
// then hands the new ids to the enqueuer: answering never waits for Redis.
func (b *batcher) commit(batch []*pending) {
	events := b.events[:0]
	var size int64
	for _, p := range batch {
		events = append(events, p.event)
		size += int64(len(p.event.Payload))
	}
	// Once StoreEvents returns the payloads are no longer read here, and
	// each request lets its body go as it is answered.
	defer b.heldBytes.Add(-size)
	// Not any request's context: the batch belongs to all of them, and a
	// sender that hung up must not fail the others' commit.
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	isNew, err := b.store.StoreEvents(ctx, events)
	cancel()
	clear(events)
	b.stats.batches.Add(1)
	if err != nil {
		b.stats.storeErrors.Add(1)
		b.log.Error("store webhook events", zap.Int("events", len(batch)), zap.Error(err))
		for _, p := range batch {
			p.done <- result{err: err}
		}
		return
	}
	var fresh []string
	for i, p := range batch {
		p.done <- result{isNew: isNew[i]}
		if isNew[i] {
			fresh = append(fresh, p.event.ID)
		}
	}
	b.enqueuer.submit(fresh)
}
