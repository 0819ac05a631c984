package reconcile_test

import (
	"context"
	"testing"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestLiveWriteOffGuard is the defect "the write-off guard reads the state,
// not the live write-off": once a payment recovers a write-off in full the
// invoice reads paid, yet its write-off row is still live. Deleting a payment
// then must still be refused (it would bring the bad debt back with no
// history row saying so), and reopen must be allowed, since there is a
// write-off to reverse.
func TestLiveWriteOffGuard(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()

	// Invoice 1000, manual 300, write off 700, then an online 700 arrives.
	recovered := func(t *testing.T) (reconcile.Invoice, reconcile.Payment) {
		t.Helper()
		inv := newInvoice(t, s, 1000, true)
		_, pay := must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 300)))
		mustInvoice(t)(s.WriteOff(ctx, key(), inv.ID, "client gone"))
		mustTotals(t, s, inv.ID, totals{300, 700, 0, reconcile.StateWrittenOff})
		mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_"+inv.ID, inv.ID, 700)))
		mustTotals(t, s, inv.ID, totals{1000, 0, 0, reconcile.StatePaid})
		return inv, pay
	}

	t.Run("a paid invoice whose write-off is live refuses deleting a payment and changes nothing", func(t *testing.T) {
		inv, pay := recovered(t)
		before := historyCount(t, db, inv.ID)
		_, err := s.DeletePayment(ctx, key(), inv.ID, pay.ID)
		testenv.WantLedgerError(t, err, apperr.KindConflict, "invoice_written_off")
		mustTotals(t, s, inv.ID, totals{1000, 0, 0, reconcile.StatePaid})
		if after := historyCount(t, db, inv.ID); after != before {
			t.Fatalf("history grew from %d to %d", before, after)
		}
	})
	t.Run("a paid invoice whose write-off is live reopens, then the payment can be deleted", func(t *testing.T) {
		inv, pay := recovered(t)
		got := mustInvoice(t)(s.Reopen(ctx, key(), inv.ID))
		if want := (totals{1000, 0, 0, reconcile.StatePaid}); totalsOf(got) != want {
			t.Fatalf("after reopen %+v, want %+v", totalsOf(got), want)
		}
		mustInvoice(t)(s.DeletePayment(ctx, key(), inv.ID, pay.ID))
		mustTotals(t, s, inv.ID, totals{700, 0, 300, reconcile.StatePartial})
		d := mustDetail(t)(s.GetInvoiceDetail(ctx, inv.ID))
		if want := "created sent payment_recorded written_off payment_recorded reopened payment_deleted"; historyKinds(d) != want {
			t.Fatalf("history %q, want %q", historyKinds(d), want)
		}
	})
	t.Run("reopening twice is refused the second time", func(t *testing.T) {
		inv, _ := recovered(t)
		mustInvoice(t)(s.Reopen(ctx, key(), inv.ID))
		_, err := s.Reopen(ctx, key(), inv.ID)
		testenv.WantLedgerError(t, err, apperr.KindConflict, "not_written_off")
	})
	checkTruth(t, db)
}
