package reconcile_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestPruneInBatches prunes more rows than one batch holds: every batch is
// taken, each a statement of its own, and the counts add up.
func TestPruneInBatches(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	ctx := context.Background()
	var events []reconcile.InboxEvent
	for i := range 10 {
		events = append(events, reconcile.InboxEvent{ID: fmt.Sprintf("evt_old_%d", i), Type: "customer.created",
			Created: time.Now(), Payload: []byte(`{"id":"x"}`)})
	}
	_, err := s.StoreEvents(ctx, events)
	noErr(t, err)
	for _, e := range events {
		noErr(t, s.MarkEvent(ctx, e.ID, reconcile.EventResult{Status: reconcile.EventIgnored, Reason: "not handled"}))
	}
	for range 7 {
		j, _, err := s.CreateJob(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobReconcile, Payload: map[string]bool{"full": false}})
		noErr(t, err)
		noErr(t, s.FinishJob(ctx, j.ID, reconcile.JobSucceeded, "", nil))
	}
	before := time.Now().Add(time.Hour) // everything is old enough

	n, err := s.PruneEventPayloads(ctx, before, 3)
	noErr(t, err)
	if n != 10 {
		t.Errorf("%d payloads pruned in batches of 3, want 10", n)
	}
	jobs, err := s.PruneJobs(ctx, before, 3)
	noErr(t, err)
	if jobs != 7 {
		t.Errorf("%d jobs pruned in batches of 3, want 7", jobs)
	}
	var kept, rows int
	noErr(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE octet_length(payload) > 0), count(*) FROM events`).Scan(&kept, &rows))
	if kept != 0 || rows != 10 {
		t.Errorf("%d of %d events kept their payload, want none of 10", kept, rows)
	}
	if n, err := s.PruneEventPayloads(ctx, before, 3); err != nil || n != 0 {
		t.Errorf("a second prune: %d, %v; want nothing left to do", n, err)
	}
}

// TestPruneJobsByAge: the prune of finished jobs reads them through
// jobs_listing, oldest first (migration 018 dropped the index it had of
// its own), and still deletes only the jobs finished before the cutoff:
// not one created before it and finished since, nor one unfinished.
func TestPruneJobsByAge(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	ctx := context.Background()
	create := func(finish bool) string {
		t.Helper()
		j, _, err := s.CreateJob(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobReconcile, Payload: map[string]bool{"full": false}})
		noErr(t, err)
		if finish {
			noErr(t, s.FinishJob(ctx, j.ID, reconcile.JobSucceeded, "", nil))
		}
		return j.ID
	}
	old, lateFinished, unfinished, young := create(true), create(true), create(false), create(true)
	_, err := pool.Exec(ctx, `UPDATE jobs SET created_at = now() - interval '100 days',
		finished_at = CASE WHEN id = $1 THEN finished_at - interval '100 days' ELSE finished_at END
		WHERE id = ANY ($2)`, old, []string{old, lateFinished, unfinished})
	noErr(t, err)
	n, err := s.PruneJobs(ctx, time.Now().Add(-90*24*time.Hour), 10)
	noErr(t, err)
	if n != 1 {
		t.Errorf("%d jobs pruned, want 1", n)
	}
	for id, kept := range map[string]bool{old: false, lateFinished: true, unfinished: true, young: true} {
		if _, err := s.GetJob(ctx, id); (err == nil) != kept {
			t.Errorf("job %s: read %v, want kept %v", id, err, kept)
		}
	}

	if !planReader(t, pool)("jobs_listing", reconcile.PruneJobsSQL, time.Now(), 10) {
		t.Error("the prune of jobs is not read through jobs_listing")
	}
}
