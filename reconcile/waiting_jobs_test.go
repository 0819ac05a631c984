package reconcile_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestWaitingJobsIndex: the jobs' index on unfinished jobs (migration 017)
// holds exactly the statuses that are not finished, and both of its
// readers can use it: the worker's claim of queued jobs to group, and the
// relay sweep's condition (UnfinishedJobSQL). Without it, each would read
// the whole jobs table, every finished job of the retention period.
func TestWaitingJobsIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.Pool(t)
	reads := planReader(t, db)
	usesWaiting := func(sql string, args ...any) bool {
		t.Helper()
		return reads("jobs_waiting", sql, args...)
	}
	for _, s := range []reconcile.JobStatus{reconcile.JobQueued, reconcile.JobRunning, reconcile.JobRetrying,
		reconcile.JobSucceeded, reconcile.JobFailed} {
		where := `status = '` + string(s) + `'`
		if got, want := usesWaiting(`SELECT id FROM jobs WHERE `+where, pgx.QueryExecModeSimpleProtocol), !s.Finished(); got != want {
			t.Errorf("jobs of status %s: read through jobs_waiting %v, want %v", s, got, want)
		}
	}
	if !usesWaiting(`SELECT id FROM jobs WHERE `+reconcile.UnfinishedJobSQL, pgx.QueryExecModeSimpleProtocol) {
		t.Errorf("%s: not read through jobs_waiting", reconcile.UnfinishedJobSQL)
	}
	if !usesWaiting(reconcile.ClaimJobsSQL, []string{"job_1"}, []string{string(reconcile.JobRecordPayment)}, 63) {
		t.Error("the claim of queued jobs is not read through jobs_waiting")
	}
	// The two indexes it replaces are gone.
	for _, old := range []string{"jobs_queued", "jobs_unfinished"} {
		var exists bool
		if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, old).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if exists {
			t.Errorf("%s still indexes the jobs", old)
		}
	}
}
