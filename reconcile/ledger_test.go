package reconcile_test

import (
	"context"
	"testing"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

func TestManualPayments(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()

	t.Run("a partial payment leaves the rest as balance", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		got, pay := must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 4000)))
		if want := (totals{4000, 0, 6000, reconcile.StatePartial}); totalsOf(got) != want {
			t.Fatalf("got %+v, want %+v", totalsOf(got), want)
		}
		if pay.Amount != 4000 || pay.Source != reconcile.SourceManual || *pay.Method != "check" {
			t.Fatalf("payment %+v", pay)
		}
	})
	t.Run("paying the balance marks the invoice paid with a time", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 4000)))
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 6000)))
		got := mustTotals(t, s, inv.ID, totals{10000, 0, 0, reconcile.StatePaid})
		if got.PaidAt == nil {
			t.Fatal("paid_at not set")
		}
	})
	t.Run("an overpayment is refused and changes nothing", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 4000)))
		before := historyCount(t, db, inv.ID)
		_, _, err := s.RecordManualPayment(ctx, manual(inv.ID, 6001))
		testenv.WantLedgerError(t, err, apperr.KindRefused, "overpayment")
		mustTotals(t, s, inv.ID, totals{4000, 0, 6000, reconcile.StatePartial})
		if after := historyCount(t, db, inv.ID); after != before {
			t.Fatalf("history grew from %d to %d", before, after)
		}
	})
	t.Run("a draft takes no manual payment", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, false)
		_, _, err := s.RecordManualPayment(ctx, manual(inv.ID, 100))
		testenv.WantLedgerError(t, err, apperr.KindConflict, "invoice_not_sent")
		mustTotals(t, s, inv.ID, totals{0, 0, 10000, reconcile.StateDraft})
	})
	t.Run("an unknown invoice is not found", func(t *testing.T) {
		_, _, err := s.RecordManualPayment(ctx, manual("inv_nope", 100))
		testenv.WantLedgerError(t, err, apperr.KindNotFound, "invoice_not_found")
	})
	t.Run("the same key twice records one payment and returns it", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		m := manual(inv.ID, 2500)
		_, first := must2(t)(s.RecordManualPayment(ctx, m))
		got, again := must2(t)(s.RecordManualPayment(ctx, m))
		if again.ID != first.ID {
			t.Fatalf("replay returned payment %s, first was %s", again.ID, first.ID)
		}
		if want := (totals{2500, 0, 7500, reconcile.StatePartial}); totalsOf(got) != want {
			t.Fatalf("got %+v, want %+v", totalsOf(got), want)
		}
	})
	t.Run("deleting a payment restores the balance, once", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		_, pay := must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 10000)))
		k := key()
		got := mustInvoice(t)(s.DeletePayment(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv.ID, pay.ID))
		if want := (totals{0, 0, 10000, reconcile.StateOpen}); totalsOf(got) != want {
			t.Fatalf("got %+v, want %+v", totalsOf(got), want)
		}
		if got.PaidAt != nil {
			t.Fatal("paid_at kept after the payment went")
		}
		mustInvoice(t)(s.DeletePayment(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv.ID, pay.ID)) // a replay succeeds
		_, err := s.DeletePayment(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, pay.ID)
		testenv.WantLedgerError(t, err, apperr.KindNotFound, "payment_not_found")
		d := mustDetail(t)(s.GetInvoiceDetail(ctx, inv.ID))
		if len(d.Payments) != 0 {
			t.Fatalf("deleted payment still listed: %+v", d.Payments)
		}
		kinds := historyKinds(d)
		if want := "created sent payment_recorded payment_deleted"; kinds != want {
			t.Fatalf("history %q, want %q", kinds, want)
		}
	})
	checkTruth(t, db)
}

func TestOnlinePayments(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()

	t.Run("an overpayment is recorded as a negative balance", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		res := mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_over", inv.ID, 12000)))
		if res.Status != reconcile.EventProcessed || res.InvoiceID != inv.ID {
			t.Fatalf("result %+v", res)
		}
		mustTotals(t, s, inv.ID, totals{12000, 0, -2000, reconcile.StatePaid})
	})
	t.Run("a draft is paid online too: the money is taken", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, false)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_draft", inv.ID, 3000)))
		mustTotals(t, s, inv.ID, totals{3000, 0, 7000, reconcile.StatePartial})
	})
	t.Run("one payment intent is one payment however often it comes", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		for range 3 {
			mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_dup", inv.ID, 10000)))
		}
		d := mustDetail(t)(s.GetInvoiceDetail(ctx, inv.ID))
		if len(d.Payments) != 1 || d.PaidAmount != 10000 {
			t.Fatalf("payments %+v paid %d", d.Payments, d.PaidAmount)
		}
	})
	t.Run("the stripe invoice id finds the invoice", func(t *testing.T) {
		inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: "S-1", Client: "acme", Currency: "usd", Amount: 5000, StripeInvoiceID: "in_abc"})
		if err != nil {
			t.Fatal(err)
		}
		p := online("pi_byin", "", 5000)
		p.StripeInvoiceID = "in_abc"
		res := mustResult(t)(s.RecordOnlinePayment(ctx, "", p))
		if res.InvoiceID != inv.ID {
			t.Fatalf("matched %q, want %s", res.InvoiceID, inv.ID)
		}
		mustTotals(t, s, inv.ID, totals{5000, 0, 0, reconcile.StatePaid})
	})
	t.Run("an unknown invoice leaves the event unmatched", func(t *testing.T) {
		res := mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_lost", "inv_missing", 100)))
		if res.Status != reconcile.EventUnmatched {
			t.Fatalf("status %s", res.Status)
		}
	})
	t.Run("another currency needs review and records nothing", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		p := online("pi_eur", inv.ID, 10000)
		p.Currency = "eur"
		res := mustResult(t)(s.RecordOnlinePayment(ctx, "", p))
		if res.Status != reconcile.EventNeedsReview {
			t.Fatalf("status %s", res.Status)
		}
		mustTotals(t, s, inv.ID, totals{0, 0, 10000, reconcile.StateOpen})
	})
	checkTruth(t, db)
}

func TestRefunds(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	refund := func(ref string, total reconcile.Amount) reconcile.EventResult {
		t.Helper()
		return mustResult(t)(s.ApplyRefund(ctx, "", reconcile.Refund{ProviderRef: ref, AmountRefunded: total, Currency: "usd"}))
	}

	t.Run("refunds are cumulative totals, never added", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_r1", inv.ID, 10000)))
		refund("pi_r1", 3000)
		mustTotals(t, s, inv.ID, totals{7000, 0, 3000, reconcile.StatePartial})
		refund("pi_r1", 3000) // a duplicate
		refund("pi_r1", 2000) // an older, smaller total arriving late
		mustTotals(t, s, inv.ID, totals{7000, 0, 3000, reconcile.StatePartial})
		refund("pi_r1", 10000)
		mustTotals(t, s, inv.ID, totals{0, 0, 10000, reconcile.StateOpen})
		d := mustDetail(t)(s.GetInvoiceDetail(ctx, inv.ID))
		if d.Payments[0].RefundedAmount != 10000 {
			t.Fatalf("refunded %d", d.Payments[0].RefundedAmount)
		}
		if want := "created sent payment_recorded refund_recorded refund_recorded"; historyKinds(d) != want {
			t.Fatalf("history %q, want %q", historyKinds(d), want)
		}
	})
	t.Run("a refund before its payment waits and applies when the payment comes", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		if res := refund("pi_early", 4000); res.Status != reconcile.EventUnmatched {
			t.Fatalf("status %s", res.Status)
		}
		mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_early", inv.ID, 10000)))
		mustTotals(t, s, inv.ID, totals{6000, 0, 4000, reconcile.StatePartial})
	})
	checkTruth(t, db)
}

func TestWriteOffs(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	partlyPaid := func(t *testing.T) reconcile.Invoice {
		inv := newInvoice(t, s, 10000, true)
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 4000)))
		return inv
	}

	t.Run("a write-off books the rest as bad debt and keeps the paid part", func(t *testing.T) {
		inv := partlyPaid(t)
		got := mustInvoice(t)(s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, "client gone"))
		if want := (totals{4000, 6000, 0, reconcile.StateWrittenOff}); totalsOf(got) != want {
			t.Fatalf("got %+v, want %+v", totalsOf(got), want)
		}
		if got.WrittenOffAt == nil {
			t.Fatal("written_off_at not set")
		}
	})
	t.Run("a draft, a paid invoice and a written-off one cannot be written off", func(t *testing.T) {
		_, err := s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, newInvoice(t, s, 10000, false).ID, "")
		testenv.WantLedgerError(t, err, apperr.KindConflict, "invoice_not_sent")
		paid := newInvoice(t, s, 10000, true)
		must2(t)(s.RecordManualPayment(ctx, manual(paid.ID, 10000)))
		_, err = s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, paid.ID, "")
		testenv.WantLedgerError(t, err, apperr.KindConflict, "no_balance")
		inv := partlyPaid(t)
		mustInvoice(t)(s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, ""))
		_, err = s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, "")
		testenv.WantLedgerError(t, err, apperr.KindConflict, "already_written_off")
	})
	t.Run("the same write-off twice writes off once", func(t *testing.T) {
		inv := partlyPaid(t)
		k := key()
		mustInvoice(t)(s.WriteOff(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv.ID, ""))
		got := mustInvoice(t)(s.WriteOff(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv.ID, ""))
		if want := (totals{4000, 6000, 0, reconcile.StateWrittenOff}); totalsOf(got) != want {
			t.Fatalf("got %+v, want %+v", totalsOf(got), want)
		}
	})
	t.Run("a later payment recovers the bad debt first", func(t *testing.T) {
		inv := partlyPaid(t)
		mustInvoice(t)(s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, ""))
		mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_recover", inv.ID, 1000)))
		mustTotals(t, s, inv.ID, totals{5000, 5000, 0, reconcile.StateWrittenOff})
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 2000)))
		mustTotals(t, s, inv.ID, totals{7000, 3000, 0, reconcile.StateWrittenOff})
		_, _, err := s.RecordManualPayment(ctx, manual(inv.ID, 3001))
		testenv.WantLedgerError(t, err, apperr.KindRefused, "overpayment")
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 3000)))
		mustTotals(t, s, inv.ID, totals{10000, 0, 0, reconcile.StatePaid})
	})
	t.Run("a payment of a written-off invoice is deleted only after reopening", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		_, pay := must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 4000)))
		mustInvoice(t)(s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, ""))
		_, err := s.DeletePayment(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, pay.ID)
		testenv.WantLedgerError(t, err, apperr.KindConflict, "invoice_written_off")
		mustTotals(t, s, inv.ID, totals{4000, 6000, 0, reconcile.StateWrittenOff})
		got := mustInvoice(t)(s.Reopen(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID))
		if want := (totals{4000, 0, 6000, reconcile.StatePartial}); totalsOf(got) != want {
			t.Fatalf("got %+v, want %+v", totalsOf(got), want)
		}
		if got.WrittenOffAt != nil {
			t.Fatal("written_off_at kept after reopening")
		}
		mustInvoice(t)(s.DeletePayment(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, pay.ID))
		mustTotals(t, s, inv.ID, totals{0, 0, 10000, reconcile.StateOpen})
	})
	t.Run("only a written-off invoice reopens", func(t *testing.T) {
		_, err := s.Reopen(ctx, reconcile.Op{Key: key(), Actor: "tester"}, partlyPaid(t).ID)
		testenv.WantLedgerError(t, err, apperr.KindConflict, "not_written_off")
	})
	t.Run("a refund after a write-off is owed again", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_wo_refund", inv.ID, 4000)))
		mustInvoice(t)(s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, ""))
		mustResult(t)(s.ApplyRefund(ctx, "", reconcile.Refund{ProviderRef: "pi_wo_refund", AmountRefunded: 1000, Currency: "usd"}))
		mustTotals(t, s, inv.ID, totals{3000, 6000, 1000, reconcile.StateWrittenOff})
	})
	checkTruth(t, db)
}

func TestInvoices(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()

	t.Run("an id is taken once", func(t *testing.T) {
		n := reconcile.NewInvoice{Actor: "tester", ID: "inv_fixed", Number: "F-9", Client: "acme", Currency: "usd", Amount: 100}
		mustInvoice(t)(s.CreateInvoice(ctx, n))
		_, err := s.CreateInvoice(ctx, n)
		testenv.WantLedgerError(t, err, apperr.KindConflict, "invoice_exists")
	})
	t.Run("bad fields are named", func(t *testing.T) {
		for code, n := range map[string]reconcile.NewInvoice{
			"invalid_currency": {Number: "1", Client: "c", Currency: "USD", Amount: 1},
			"invalid_amount":   {Number: "1", Client: "c", Currency: "usd", Amount: 0},
			"invalid_number":   {Client: "c", Currency: "usd", Amount: 1},
			"invalid_id":       {ID: "a b", Number: "1", Client: "c", Currency: "usd", Amount: 1},
		} {
			_, err := s.CreateInvoice(ctx, n)
			testenv.WantLedgerError(t, err, apperr.KindInvalid, code)
		}
	})
	t.Run("sending twice writes one history row", func(t *testing.T) {
		inv := newInvoice(t, s, 100, true)
		mustInvoice(t)(s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID))
		if n := historyCount(t, db, inv.ID); n != 2 {
			t.Fatalf("%d history rows, want 2 (created, sent)", n)
		}
	})
	t.Run("an invoice with money on it is not deleted; a bare one leaves every listing", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 100)))
		testenv.WantLedgerError(t, s.DeleteInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID), apperr.KindConflict, "invoice_has_money")
		bare := newInvoice(t, s, 10000, true)
		if err := s.DeleteInvoice(ctx, reconcile.Op{Actor: "tester"}, bare.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.GetInvoice(ctx, bare.ID)
		testenv.WantLedgerError(t, err, apperr.KindNotFound, "invoice_not_found")
		res := mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_deleted", bare.ID, 100)))
		if res.Status != reconcile.EventUnmatched {
			t.Fatalf("an event naming a deleted invoice is %s", res.Status)
		}
	})
	checkTruth(t, db)
}

func historyKinds(d reconcile.InvoiceDetail) string {
	s := ""
	for i, h := range d.History {
		if i > 0 {
			s += " "
		}
		s += string(h.Kind)
	}
	return s
}

// must2 unwraps a two-value result.
func must2(t *testing.T) func(reconcile.Invoice, reconcile.Payment, error) (reconcile.Invoice, reconcile.Payment) {
	return func(inv reconcile.Invoice, p reconcile.Payment, err error) (reconcile.Invoice, reconcile.Payment) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return inv, p
	}
}
