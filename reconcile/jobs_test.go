package reconcile_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestLedgerJobsFinishWithTheirChange: a ledger change keyed by a job id
// marks that job succeeded in its own transaction, with the recorded
// payment's id as its result; a refused change leaves the job as it was.
func TestLedgerJobsFinishWithTheirChange(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	ctx := context.Background()
	inv := newInvoice(t, s, 10000, true)
	newJob := func(typ reconcile.JobType) reconcile.Job {
		t.Helper()
		j, _, err := s.CreateJob(ctx, reconcile.NewJob{Actor: "tester", Type: typ, InvoiceID: inv.ID, Payload: map[string]string{}})
		noErr(t, err)
		return j
	}
	mustJob := func(id string, status reconcile.JobStatus) reconcile.Job {
		t.Helper()
		j, err := s.GetJob(ctx, id)
		noErr(t, err)
		if j.Status != status {
			t.Fatalf("job %s is %s, want %s", id, j.Status, status)
		}
		return j
	}

	pay := newJob(reconcile.JobRecordPayment)
	_, p, err := s.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: pay.ID, InvoiceID: inv.ID, Amount: 4000, PaidDate: today})
	noErr(t, err)
	var result struct {
		PaymentID string `json:"payment_id"`
	}
	j := mustJob(pay.ID, reconcile.JobSucceeded)
	if err := json.Unmarshal(j.Result, &result); err != nil || result.PaymentID != p.ID || j.FinishedAt == nil {
		t.Fatalf("job %+v (result %s), want payment %s and a finish time", j, j.Result, p.ID)
	}

	over := newJob(reconcile.JobRecordPayment)
	_, _, err = s.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: over.ID, InvoiceID: inv.ID, Amount: 6001, PaidDate: today})
	testenv.WantLedgerError(t, err, apperr.KindRefused, "overpayment")
	mustJob(over.ID, reconcile.JobQueued)

	del := newJob(reconcile.JobDeletePayment)
	_, err = s.DeletePayment(ctx, reconcile.Op{Key: del.ID, Actor: "tester"}, inv.ID, p.ID)
	noErr(t, err)
	if j := mustJob(del.ID, reconcile.JobSucceeded); j.Result != nil {
		t.Fatalf("delete job result %s, want none", j.Result)
	}
	wo := newJob(reconcile.JobWriteOff)
	_, err = s.WriteOff(ctx, reconcile.Op{Key: wo.ID, Actor: "tester"}, inv.ID, "bad debt")
	noErr(t, err)
	mustJob(wo.ID, reconcile.JobSucceeded)
	re := newJob(reconcile.JobReopen)
	_, err = s.Reopen(ctx, reconcile.Op{Key: re.ID, Actor: "tester"}, inv.ID)
	noErr(t, err)
	mustJob(re.ID, reconcile.JobSucceeded)
	mustTotals(t, s, inv.ID, totals{0, 0, 10000, reconcile.StateOpen})
}

// TestJobFinishedMeanwhileIsNotApplied: two tasks of one job may both start
// it. When one has been refused and marked the job failed, the other must
// not make the change after all (a written-off invoice reopened, here, by a
// job that reads failed), alone or as a group's own job.
func TestJobFinishedMeanwhileIsNotApplied(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	inv := sentInvoice(t, s, 10000)
	queue := func() reconcile.Job {
		t.Helper()
		j, _, err := s.CreateJob(ctx, reconcile.NewJob{Actor: "ann", Type: reconcile.JobReopen, InvoiceID: inv.ID,
			Payload: map[string]string{"invoice_id": inv.ID}})
		noErr(t, err)
		// The first task: refused (nothing is written off yet), so failed.
		_, err = s.StartJob(ctx, j.ID)
		noErr(t, err)
		noErr(t, s.FinishJob(ctx, j.ID, reconcile.JobFailed, "not_written_off", nil))
		return j
	}
	alone, grouped := queue(), queue()
	_, err := s.WriteOff(ctx, reconcile.Op{Key: "wo-1", Actor: "ann"}, inv.ID, "gone")
	noErr(t, err)

	// The second task of each, which started before the first finished.
	_, err = s.Reopen(ctx, reconcile.Op{Key: alone.ID, Actor: "ann"}, inv.ID)
	noErr(t, err)
	noErr(t, s.JobGroup(ctx, grouped, func(g *reconcile.Store, jobs []reconcile.Job) error {
		for _, j := range jobs {
			if j.ID == grouped.ID {
				t.Errorf("the group applies job %s, which has failed", j.ID)
			}
		}
		return nil
	}))

	for _, j := range []reconcile.Job{alone, grouped} {
		var changes int
		noErr(t, db.QueryRow(ctx, `SELECT count(*) FROM invoice_history WHERE op_key = $1`, j.ID).Scan(&changes))
		got, err := s.GetJob(ctx, j.ID)
		noErr(t, err)
		if changes != 0 || got.Status != reconcile.JobFailed {
			t.Fatalf("job %s %s with %d changes, want failed with none", j.ID, got.Status, changes)
		}
	}
	got, err := s.GetInvoice(ctx, inv.ID)
	noErr(t, err)
	if got.State != reconcile.StateWrittenOff {
		t.Fatalf("invoice %s, want still written off", got.State)
	}
}
