package worker_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestCreditNoteJobsNotify runs credit note jobs through the worker: each
// applies its change once, and tells subscribers invoice.credited with the
// credit note (and invoice.paid when it closes the invoice).
func TestCreditNoteJobsNotify(t *testing.T) {
	t.Parallel()
	ns := newNotifiedService(t)
	defer ns.run(t)()
	ctx := context.Background()
	inv, err := ns.store.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_cn_ntf", Number: "N", Client: "c", Currency: "usd", Amount: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns.store.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID); err != nil {
		t.Fatal(err)
	}
	run := func(typ reconcile.JobType, args any) reconcile.Job {
		t.Helper()
		job, err := ns.client.Submit(ctx, reconcile.NewJob{Actor: "tester", Type: typ, InvoiceID: inv.ID, Payload: args})
		if err != nil {
			t.Fatal(err)
		}
		var done reconcile.Job
		waitFor(t, func() bool { done, _ = ns.store.GetJob(ctx, job.ID); return done.Status.Finished() })
		if done.Status != reconcile.JobSucceeded {
			t.Fatalf("job %s %s: %s", job.ID, done.Status, done.Error)
		}
		return done
	}
	// expect waits for the next notifications of a change and returns them,
	// sorted by type.
	seen := 0
	expect := func(types ...string) []notificationBody {
		t.Helper()
		waitFor(t, func() bool { return len(ns.rc.bodies()) >= seen+len(types) })
		got := ns.rc.bodies()[seen : seen+len(types)]
		seen += len(types)
		// Notifications of one change are separate deliveries, in any order.
		slices.SortFunc(got, func(a, b notificationBody) int { return strings.Compare(a.Type, b.Type) })
		var gotTypes []string
		for _, n := range got {
			gotTypes = append(gotTypes, n.Type)
		}
		if !slices.Equal(gotTypes, types) {
			t.Fatalf("notified %v, want %v", gotTypes, types)
		}
		return got
	}

	run(reconcile.JobRecordPayment, worker.RecordPaymentArgs{InvoiceID: inv.ID, Amount: 6000, PaidDate: reconcile.DateOf(time.Now())})
	expect("invoice.payment_recorded")

	job := run(reconcile.JobIssueCreditNote, worker.IssueCreditNoteArgs{InvoiceID: inv.ID, Amount: 4000, Reason: "discount", Notes: "agreed"})
	var result struct {
		CreditNoteID string `json:"credit_note_id"`
	}
	if err := json.Unmarshal(job.Result, &result); err != nil || result.CreditNoteID == "" {
		t.Fatalf("job result %s: %v", job.Result, err)
	}
	got := expect("invoice.credited", "invoice.paid")
	cn, shown := got[0].Data.CreditNote, got[0].Data.Invoice
	if cn == nil || cn.ID != result.CreditNoteID || cn.Amount != 4000 || cn.Reason != "discount" || cn.Notes != "agreed" ||
		cn.Actor != "tester" || cn.ReversedAt != nil {
		t.Fatalf("notified credit note %+v", cn)
	}
	if shown.CreditedAmount != 4000 || shown.PaidAmount != 6000 || shown.Balance != 0 || shown.State != reconcile.StatePaid {
		t.Fatalf("notified invoice %+v", shown)
	}

	run(reconcile.JobReverseCreditNote, worker.ReverseCreditNoteArgs{InvoiceID: inv.ID, CreditNoteID: result.CreditNoteID})
	got = expect("invoice.credited")
	cn, shown = got[0].Data.CreditNote, got[0].Data.Invoice
	if cn == nil || cn.ID != result.CreditNoteID || cn.ReversedAt == nil {
		t.Fatalf("notified reversed credit note %+v", cn)
	}
	if shown.CreditedAmount != 0 || shown.Balance != 4000 || shown.State != reconcile.StatePartial {
		t.Fatalf("notified invoice %+v", shown)
	}
	time.Sleep(100 * time.Millisecond) // nothing more should come
	if n := len(ns.rc.bodies()); n != seen {
		t.Fatalf("%d notifications, want %d", n, seen)
	}
}
