package reconcile_test

import (
	"context"
	"testing"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestCreateJobsAsOneByOne: jobs stored together get what each would have
// got alone. A key used twice in one group makes one job, which the second
// meets as a replay (or is refused, for another request); a key used
// before gets its job; a job PostgreSQL refuses fails the statement, and
// then only itself.
func TestCreateJobsAsOneByOne(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	job := func(key, hash string) reconcile.NewJob {
		return reconcile.NewJob{Type: reconcile.JobReopen, Actor: "ann", InvoiceID: "inv_1", Payload: map[string]string{},
			IdempotencyKey: key, RequestHash: hash}
	}
	before, created, err := s.CreateJob(ctx, job("k-before", "h1"))
	if err != nil || !created {
		t.Fatalf("job before: %v, created %v", err, created)
	}

	for _, failing := range []bool{false, true} {
		suffix := ""
		if failing {
			suffix = "-f"
		}
		group := []reconcile.NewJob{
			job("k-a"+suffix, "h1"),
			job("k-a"+suffix, "h1"),     // the same request again: the first's job
			job("k-a"+suffix, "h2"),     // another request with that key: refused
			job("k-before", "h1"),       // a key used before: its job
			job("", ""),                 // no key: a job of its own
			{Type: reconcile.JobReopen}, // nobody asks: refused before SQL
		}
		if failing {
			bad := job("k-bad", "h1")
			bad.InvoiceID = "inv\x00" // PostgreSQL refuses the NUL: the statement fails
			group = append(group, bad)
		}
		out := s.CreateJobs(ctx, group)
		if len(out) != len(group) {
			t.Fatalf("failing %v: %d outcomes for %d jobs", failing, len(out), len(group))
		}
		if out[0].Err != nil || !out[0].Created {
			t.Fatalf("failing %v: first of k-a %+v", failing, out[0])
		}
		if out[1].Err != nil || out[1].Created || out[1].Job.ID != out[0].Job.ID {
			t.Fatalf("failing %v: replay of k-a %+v, want job %s not created", failing, out[1], out[0].Job.ID)
		}
		testenv.WantLedgerError(t, out[2].Err, apperr.KindRefused, "idempotency_key_reused")
		if out[3].Err != nil || out[3].Created || out[3].Job.ID != before.ID {
			t.Fatalf("failing %v: key used before %+v, want job %s", failing, out[3], before.ID)
		}
		if out[4].Err != nil || !out[4].Created || out[4].Job.ID == out[0].Job.ID {
			t.Fatalf("failing %v: job without a key %+v", failing, out[4])
		}
		testenv.WantLedgerError(t, out[5].Err, apperr.KindInvalid, "invalid_actor")
		if failing && (out[6].Err == nil || out[6].Created) {
			t.Fatalf("the job PostgreSQL refuses: %+v", out[6])
		}
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 5 { // k-before, k-a, k-a-f and two without a key
		t.Fatalf("%d jobs stored, want 5", n)
	}
}
