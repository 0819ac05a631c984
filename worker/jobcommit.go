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
// is stored at once, alone. The new jobs of a group that may be applied
// together (reconcile.JobType.Groups) are queued together too, in one task
// (enqueueBatch), which the worker starts and applies in one transaction.
type jobCommitter struct {
	store        *reconcile.Store
	enqueueBatch func(ctx context.Context, ids []string) error

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
	done chan storedJob // buffered: the writer never waits for a request that gave up
}

// storedJob is what became of a request's job: stored (or found by its
// key) as reconcile.Store.CreateJobs tells, and whether its task is queued.
type storedJob struct {
	reconcile.CreatedJob
	queued bool
}

func newJobCommitter(store *reconcile.Store, enqueueBatch func(context.Context, []string) error) *jobCommitter {
	c := &jobCommitter{store: store, enqueueBatch: enqueueBatch, in: make(chan *jobRequest, jobCommitQueue),
		stopped: make(chan struct{})}
	go c.run()
	return c
}

// create stores n as reconcile.Store.CreateJob does, in the next group, and
// reports whether its task is queued already (with others of the group).
// With the queue full, or the committer closed, it stores n on its own.
// With ctx done it returns ctx's error, and the job may or may not be stored:
// a retry with the same key finds it.
func (c *jobCommitter) create(ctx context.Context, n reconcile.NewJob) (reconcile.Job, bool, error) {
	req := &jobRequest{job: n, done: make(chan storedJob, 1)}
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
		job, _, err := c.store.CreateJob(ctx, n)
		return job, false, err
	}
	select {
	case r := <-req.done:
		return r.Job, r.queued, r.Err
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
		stored := c.store.CreateJobs(ctx, jobs)
		queued := c.enqueueTogether(ctx, stored)
		cancel()
		for i, out := range stored {
			group[i].done <- storedJob{CreatedJob: out, queued: queued[i]}
		}
		clear(group)
	}
}

// enqueueTogether queues, in one task, the jobs of a group just created
// that group, when there are two or more, and reports which requests' jobs
// it queued (a replay of one of them in the same group included). A job
// alone, a replay of an older job, or a batch Redis refused is queued by
// its request, under the job's own id.
func (c *jobCommitter) enqueueTogether(ctx context.Context, stored []reconcile.CreatedJob) []bool {
	queued := make([]bool, len(stored))
	batch := map[string]bool{}
	var ids []string
	for _, out := range stored {
		if out.Err == nil && out.Created && out.Job.Type.Groups() {
			ids = append(ids, out.Job.ID)
			batch[out.Job.ID] = true
		}
	}
	if len(ids) < 2 || c.enqueueBatch(ctx, ids) != nil {
		return queued
	}
	for i, out := range stored {
		queued[i] = out.Err == nil && batch[out.Job.ID]
	}
	return queued
}
