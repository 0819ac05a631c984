package worker

import (
	"context"
	"sync"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

// Limits of the idempotency keys' shared lookups.
const (
	// keyReadMax is how many requests' lookups one round trip makes.
	keyReadMax = 64
	// keyReadQueue is how many lookups may wait beside those being made;
	// past it a request looks its key up on its own.
	keyReadQueue = 256
	// keyReadTimeout bounds one round trip.
	keyReadTimeout = 10 * time.Second
)

// keyReader looks up the idempotency keys of concurrent requests together,
// as jobCommitter stores their jobs: one goroutine takes every lookup
// waiting when it is free and makes them in one round trip
// (reconcile.Store.LookupJobsByKeysReading), so each request's check of
// its key and read of its invoice cost a share of two statements instead
// of two of their own. It does not wait for lookups to gather: one that
// arrives while the goroutine is idle is made at once, alone. Every lookup
// of a round trip was asked for before it started, so each sees what a
// lookup of its own would have.
type keyReader struct {
	read func(ctx context.Context, reads []reconcile.KeyRead) ([]reconcile.KeyReadResult, error)

	// mu makes close and lookup agree on whether in is still open.
	mu     sync.RWMutex
	closed bool
	in     chan *keyReadRequest

	stopped chan struct{}
}

// keyReadRequest is one request's lookup waiting for its round trip.
type keyReadRequest struct {
	read reconcile.KeyRead
	done chan reconcile.KeyReadResult // buffered: the reader never waits for a request that gave up
}

func newKeyReader(read func(context.Context, []reconcile.KeyRead) ([]reconcile.KeyReadResult, error)) *keyReader {
	r := &keyReader{read: read, in: make(chan *keyReadRequest, keyReadQueue), stopped: make(chan struct{})}
	go r.run()
	return r
}

// lookup makes k's lookup in the next round trip; with the queue full, or
// the reader closed, in one of its own.
func (r *keyReader) lookup(ctx context.Context, k reconcile.KeyRead) reconcile.KeyReadResult {
	req := &keyReadRequest{read: k, done: make(chan reconcile.KeyReadResult, 1)}
	r.mu.RLock()
	queued := false
	if !r.closed {
		select {
		case r.in <- req:
			queued = true
		default:
		}
	}
	r.mu.RUnlock()
	if !queued {
		return r.alone(ctx, k)
	}
	select {
	case res := <-req.done:
		return res
	case <-ctx.Done():
		return reconcile.KeyReadResult{Err: ctx.Err()}
	}
}

// alone makes k's lookup in a round trip of its own.
func (r *keyReader) alone(ctx context.Context, k reconcile.KeyRead) reconcile.KeyReadResult {
	res, err := r.read(ctx, []reconcile.KeyRead{k})
	if err != nil {
		return reconcile.KeyReadResult{Err: err}
	}
	return res[0]
}

// close answers every lookup already queued, then stops the goroutine.
func (r *keyReader) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.in)
	}
	r.mu.Unlock()
	<-r.stopped
}

func (r *keyReader) run() {
	defer close(r.stopped)
	group := make([]*keyReadRequest, 0, keyReadMax)
	reads := make([]reconcile.KeyRead, 0, keyReadMax)
	for first := range r.in {
		group = append(group[:0], first)
	gather:
		for len(group) < keyReadMax {
			select {
			case req, ok := <-r.in:
				if !ok {
					break gather
				}
				group = append(group, req)
			default:
				break gather
			}
		}
		reads = reads[:0]
		for _, req := range group {
			reads = append(reads, req.read)
		}
		// The round trip outlives any one request: one that gave up does
		// not fail the others' lookups.
		ctx, cancel := context.WithTimeout(context.Background(), keyReadTimeout)
		results, err := r.read(ctx, reads)
		cancel()
		for i, req := range group {
			if err != nil {
				req.done <- reconcile.KeyReadResult{Err: err}
				continue
			}
			req.done <- results[i]
		}
		clear(group)
	}
}
