package worker

import (
	"context"
	"sync"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

// Limits of the jobs' group commit.
const (
	// jobCommitMax is how many jobs one statement stores.
	jobCommitMax = 64
	// jobCommitQueue is how many jobs may wait beside those being stored;
	// past it a job is stored on its own, as before the group commit.
	jobCommitQueue = 256
	// jobCommitTimeout bounds one group's statement.
	jobCommitTimeout = 10 * time.Second
)

// jobCommitter stores the jobs of concurrent requests together: one
// goroutine takes every job waiting when it is free and stores them with
// one statement (reconcile.Store.CreateJobs), so operators' writes share
// commits, and WAL flushes, instead of each waiting for its own. It does not
// wait for a batch to fill: a job that arrives while the goroutine is idle
// is stored at once, alone.
type jobCommitter struct {
	store *reconcile.Store

	// mu makes close and create agree on whether in is still open: create
	// sends under the read lock, close closes under the write lock.
	mu     sync.RWMutex
	closed bool
	in     chan *jobRequest

	stopped chan struct{}
}

// jobRequest is one request's job waiting for its group's statement.
type jobRequest struct {
	job  reconcile.NewJob
	done chan reconcile.CreatedJob // buffered: the writer never waits for a request that gave up
}

func newJobCommitter(store *reconcile.Store) *jobCommitter {
	c := &jobCommitter{store: store, in: make(chan *jobRequest, jobCommitQueue), stopped: make(chan struct{})}
	go c.run()
	return c
}

// create stores n as reconcile.Store.CreateJob does, in the next group.
// With the queue full, or the committer closed, it stores n on its own.
// With ctx done it returns ctx's error, and the job may or may not be stored:
// a retry with the same key finds it.
func (c *jobCommitter) create(ctx context.Context, n reconcile.NewJob) (reconcile.Job, bool, error) {
	req := &jobRequest{job: n, done: make(chan reconcile.CreatedJob, 1)}
	c.mu.RLock()
	queued := false
	if !c.closed {
		select {
		case c.in <- req:
			queued = true
		default:
		}
	}
	c.mu.RUnlock()
	if !queued {
		return c.store.CreateJob(ctx, n)
	}
	select {
	case r := <-req.done:
		return r.Job, r.Created, r.Err
	case <-ctx.Done():
		return reconcile.Job{}, false, ctx.Err()
	}
}

// close stores every job already queued, then stops the goroutine.
func (c *jobCommitter) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.in)
	}
	c.mu.Unlock()
	<-c.stopped
}

func (c *jobCommitter) run() {
	defer close(c.stopped)
	group := make([]*jobRequest, 0, jobCommitMax)
	jobs := make([]reconcile.NewJob, 0, jobCommitMax)
	for first := range c.in {
		group = append(group[:0], first)
	gather:
		for len(group) < jobCommitMax {
			select {
			case r, ok := <-c.in:
				if !ok {
					break gather
				}
				group = append(group, r)
			default:
				break gather
			}
		}
		jobs = jobs[:0]
		for _, r := range group {
			jobs = append(jobs, r.job)
		}
		// The group's statement outlives any one request: a request that
		// gave up leaves its job to be stored with the others.
		ctx, cancel := context.WithTimeout(context.Background(), jobCommitTimeout)
		for i, out := range c.store.CreateJobs(ctx, jobs) {
			group[i].done <- out
		}
		cancel()
		clear(group)
	}
}
