package worker

import (
	"context"

	"github.com/payrecon/reconciler/internal/gather"
	"github.com/payrecon/reconciler/reconcile"
)

// jobCommitter stores the jobs of concurrent requests together
// (internal/gather): while one group's statement is out, the jobs that
// arrive wait, and the next statement stores all of them
// (reconcile.Store.CreateJobs), so operators' writes share commits, and
// WAL flushes, instead of each waiting for its own. It does not wait for a
// group to fill: a job that arrives when no statement is out is stored at
// once, alone. The new jobs of a group that may be applied together
// (reconcile.JobType.Groups) are queued together too, in one task
// (enqueueBatch), which the worker starts and applies in one transaction.
type jobCommitter struct {
	store        *reconcile.Store
	enqueueBatch func(ctx context.Context, ids []string) error
	groups       *gather.Gatherer[reconcile.NewJob, storedJob]
}

// storedJob is what became of a request's job: stored (or found by its
// key) as reconcile.Store.CreateJobs tells, and whether its task is queued.
type storedJob struct {
	reconcile.CreatedJob
	queued bool
}

func newJobCommitter(store *reconcile.Store, enqueueBatch func(context.Context, []string) error) *jobCommitter {
	c := &jobCommitter{store: store, enqueueBatch: enqueueBatch}
	c.groups = gather.New(c.commit, gather.DefaultMax, gather.DefaultTimeout)
	return c
}

// create stores n as reconcile.Store.CreateJob does, in the next group, and
// reports whether its task is queued already (with others of the group).
// With ctx done it returns ctx's error, and the job may or may not be
// stored: a retry with the same key finds it.
func (c *jobCommitter) create(ctx context.Context, n reconcile.NewJob) (reconcile.Job, bool, error) {
	out, err := c.groups.Do(ctx, n)
	if err != nil {
		return reconcile.Job{}, false, err
	}
	return out.Job, out.queued, out.Err
}

// commit stores one group's jobs and queues those that go together.
func (c *jobCommitter) commit(ctx context.Context, jobs []reconcile.NewJob) ([]storedJob, error) {
	stored := c.store.CreateJobs(ctx, jobs)
	queued := c.enqueueTogether(ctx, stored)
	out := make([]storedJob, len(stored))
	for i := range stored {
		out[i] = storedJob{CreatedJob: stored[i], queued: queued[i]}
	}
	return out, nil
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
