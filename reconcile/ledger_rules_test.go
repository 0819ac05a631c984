package reconcile_test

import (
	"context"
	"testing"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestProviderPaymentsAreNotDeleted: money Stripe took comes back only as a
// refund in Stripe, so the ledger refuses an operator's deletion of a Stripe
// payment, even when the job asking for it got past the API.
func TestProviderPaymentsAreNotDeleted(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	inv := newInvoice(t, s, 10000, true)
	mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_keep", inv.ID, 4000)))
	_, manualPay := must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 1000)))
	d := mustDetail(t)(s.GetInvoiceDetail(ctx, inv.ID))
	var stripePay reconcile.Payment
	for _, p := range d.Payments {
		if p.Source == reconcile.SourceStripe {
			stripePay = p
		}
	}

	t.Run("deleting a Stripe payment is refused as provider_payment and changes nothing", func(t *testing.T) {
		before := historyCount(t, db, inv.ID)
		_, err := s.DeletePayment(ctx, key(), inv.ID, stripePay.ID)
		testenv.WantLedgerError(t, err, apperr.KindConflict, "provider_payment")
		mustTotals(t, s, inv.ID, totals{5000, 0, 5000, reconcile.StatePartial})
		if after := historyCount(t, db, inv.ID); after != before {
			t.Fatalf("history grew from %d to %d", before, after)
		}
	})
	t.Run("a manual payment of the same invoice is still deleted", func(t *testing.T) {
		mustInvoice(t)(s.DeletePayment(ctx, key(), inv.ID, manualPay.ID))
		mustTotals(t, s, inv.ID, totals{4000, 0, 6000, reconcile.StatePartial})
	})
	checkTruth(t, db)
}

// TestManualPaidDates: a manual payment is dated neither in the future nor
// before 2000-01-01.
func TestManualPaidDates(t *testing.T) {
	t.Parallel()
	today := date(t, "2025-06-15")
	for _, c := range []struct {
		name, date string
		ok         bool
	}{
		{"today is taken", "2025-06-15", true},
		{"a past day is taken", "2024-12-31", true},
		{"the first of January 2000 is taken", "2000-01-01", true},
		{"tomorrow is refused", "2025-06-16", false},
		{"a day before 2000 is refused", "1999-12-31", false},
		{"the year 20 is refused", "0020-04-20", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := reconcile.CheckPaidDate(date(t, c.date), today)
			if c.ok {
				noErr(t, err)
				return
			}
			testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_paid_date")
		})
	}

	t.Run("the ledger refuses a payment dated before 2000 and records nothing", func(t *testing.T) {
		s, db := testenv.Store(t)
		inv := newInvoice(t, s, 10000, true)
		m := manual(inv.ID, 100)
		m.PaidDate = date(t, "1999-12-31")
		_, _, err := s.RecordManualPayment(context.Background(), m)
		testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_paid_date")
		mustTotals(t, s, inv.ID, totals{0, 0, 10000, reconcile.StateOpen})
		checkTruth(t, db)
	})
}

func date(t *testing.T, s string) reconcile.Date {
	t.Helper()
	d, err := reconcile.ParseDate(s)
	noErr(t, err)
	return d
}
