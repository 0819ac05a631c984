package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// figuresInvoice is an invoice of 10000 with the given figures, sent unless
// draft; its balance follows the contract's formula.
func figuresInvoice(draft bool, credited, paid, writtenOff reconcile.Amount, state reconcile.State, writeOffLive bool) reconcile.Invoice {
	inv := reconcile.Invoice{ID: "inv_rule", Currency: "usd", Amount: 10000, CreditedAmount: credited, PaidAmount: paid,
		WrittenOffAmount: writtenOff, State: state, WriteOffLive: writeOffLive}
	inv.Balance = inv.Amount - credited - paid - writtenOff
	if !draft {
		sent := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
		inv.SentAt = &sent
	}
	return inv
}

// wantRule fails unless err is nil (code "") or the refusal of kind and code.
func wantRule(t *testing.T, err error, kind apperr.Kind, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	e, ok := apperr.As(err)
	if !ok || e.Kind != kind || e.Code != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

// TestRules holds each rule of the ledger, as the API asks it before
// queueing and the ledger under the row lock, to exact amounts.
func TestRules(t *testing.T) {
	t.Parallel()
	open := figuresInvoice(false, 0, 0, 0, reconcile.StateOpen, false)
	partial := figuresInvoice(false, 0, 6000, 0, reconcile.StatePartial, false)
	creditedPartial := figuresInvoice(false, 3000, 6000, 0, reconcile.StatePartial, false)
	draft := figuresInvoice(true, 0, 0, 0, reconcile.StateDraft, false)
	writtenOff := figuresInvoice(false, 3000, 2000, 5000, reconcile.StateWrittenOff, true)
	// Written off 7000, then an online 7000: it reads paid, its write-off live.
	recovered := figuresInvoice(false, 0, 10000, 0, reconcile.StatePaid, true)
	// Written off, then a refund of 1000: 1000 is due again.
	refundedAfterWriteOff := figuresInvoice(false, 0, 3000, 6000, reconcile.StateWrittenOff, true)
	paidByCredit := figuresInvoice(false, 4000, 6000, 0, reconcile.StatePaid, false)

	t.Run("a manual payment is at most what the payments and credit notes leave unpaid", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			inv    reconcile.Invoice
			amount reconcile.Amount
			kind   apperr.Kind
			code   string
		}{
			{"the whole of an open invoice", open, 10000, 0, ""},
			{"one more than an open invoice's amount", open, 10001, apperr.KindRefused, "overpayment"},
			{"the rest of a partial invoice", partial, 4000, 0, ""},
			{"one more than the rest of a partial invoice", partial, 4001, apperr.KindRefused, "overpayment"},
			{"the rest after a credit note", creditedPartial, 1000, 0, ""},
			{"one more than the rest after a credit note", creditedPartial, 1001, apperr.KindRefused, "overpayment"},
			{"the written-off rest, recovering the debt", writtenOff, 5000, 0, ""},
			{"one more than the written-off rest", writtenOff, 5001, apperr.KindRefused, "overpayment"},
			{"anything on an invoice closed by a credit note", paidByCredit, 1, apperr.KindRefused, "overpayment"},
			{"anything on a draft", draft, 1, apperr.KindConflict, "invoice_not_sent"},
			{"nothing", open, 0, apperr.KindInvalid, "invalid_amount"},
		} {
			t.Run(c.name, func(t *testing.T) { wantRule(t, c.inv.CanRecordManualPayment(c.amount), c.kind, c.code) })
		}
	})

	t.Run("a credit note is at most the balance of a sent invoice", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			inv    reconcile.Invoice
			amount reconcile.Amount
			kind   apperr.Kind
			code   string
		}{
			{"the whole of an open invoice", open, 10000, 0, ""},
			{"one more than an open invoice's balance", open, 10001, apperr.KindRefused, "credit_note_exceeds_balance"},
			{"the balance of a partial invoice", partial, 4000, 0, ""},
			{"one more than a partial invoice's balance", partial, 4001, apperr.KindRefused, "credit_note_exceeds_balance"},
			{"the balance left after another credit note", creditedPartial, 1000, 0, ""},
			{"anything on a written-off invoice with nothing due", writtenOff, 1, apperr.KindRefused, "credit_note_exceeds_balance"},
			{"the balance a refund after a write-off left", refundedAfterWriteOff, 1000, 0, ""},
			{"anything on a paid invoice", paidByCredit, 1, apperr.KindRefused, "credit_note_exceeds_balance"},
			{"anything on a draft", draft, 1, apperr.KindConflict, "invoice_not_sent"},
			{"nothing", open, 0, apperr.KindInvalid, "invalid_amount"},
		} {
			t.Run(c.name, func(t *testing.T) { wantRule(t, c.inv.CanIssueCreditNote(c.amount), c.kind, c.code) })
		}
	})

	manualPay := reconcile.Payment{ID: "pay_m", Source: reconcile.SourceManual, Amount: 3000}
	stripePay := reconcile.Payment{ID: "pay_s", Source: reconcile.SourceStripe, Amount: 7000}
	for _, c := range []struct {
		name string
		inv  reconcile.Invoice
		pay  reconcile.Payment
		kind apperr.Kind
		code string
	}{
		{"a manual payment of a partial invoice is deleted", partial, manualPay, 0, ""},
		{"a manual payment of a paid invoice without a write-off is deleted", paidByCredit, manualPay, 0, ""},
		{"a Stripe payment is refunded in Stripe, not deleted", partial, stripePay, apperr.KindConflict, "provider_payment"},
		{"a manual payment of a written-off invoice waits for reopen", writtenOff, manualPay, apperr.KindConflict, "invoice_written_off"},
		{"a manual payment of a paid invoice whose write-off is live waits for reopen", recovered, manualPay, apperr.KindConflict, "invoice_written_off"},
		{"a Stripe payment of a written-off invoice is still refunded in Stripe", writtenOff, stripePay, apperr.KindConflict, "provider_payment"},
	} {
		t.Run("deleting a payment: "+c.name, func(t *testing.T) { wantRule(t, c.inv.CanDeletePayment(c.pay), c.kind, c.code) })
	}

	for _, c := range []struct {
		name string
		inv  reconcile.Invoice
		code string
	}{
		{"a partial invoice's credit note is reversed", creditedPartial, ""},
		{"a paid invoice's credit note is reversed", paidByCredit, ""},
		{"a written-off invoice's credit note waits for reopen", writtenOff, "invoice_written_off"},
		{"a paid invoice whose write-off is live waits for reopen", recovered, "invoice_written_off"},
	} {
		t.Run("reversing a credit note: "+c.name, func(t *testing.T) {
			wantRule(t, c.inv.CanReverseCreditNote(), apperr.KindConflict, c.code)
		})
	}

	for _, c := range []struct {
		name string
		inv  reconcile.Invoice
		code string
	}{
		{"an open invoice is written off", open, ""},
		{"a partial invoice is written off", partial, ""},
		{"the rest after a credit note is written off", creditedPartial, ""},
		{"a draft is not", draft, "invoice_not_sent"},
		{"a written-off invoice is not again", writtenOff, "already_written_off"},
		{"a paid invoice whose write-off is live is not again", recovered, "already_written_off"},
		{"an invoice closed by a credit note has no balance", paidByCredit, "no_balance"},
	} {
		t.Run("writing off: "+c.name, func(t *testing.T) { wantRule(t, c.inv.CanWriteOff(), apperr.KindConflict, c.code) })
	}

	for _, c := range []struct {
		name string
		inv  reconcile.Invoice
		code string
	}{
		{"a written-off invoice reopens", writtenOff, ""},
		{"a paid invoice whose write-off is live reopens", recovered, ""},
		{"a partial invoice has nothing to reopen", partial, "not_written_off"},
		{"a paid invoice without a write-off has nothing to reopen", paidByCredit, "not_written_off"},
	} {
		t.Run("reopening: "+c.name, func(t *testing.T) { wantRule(t, c.inv.CanReopen(), apperr.KindConflict, c.code) })
	}

	for _, c := range []struct {
		name     string
		inv      reconcile.Invoice
		payments int
		code     string
	}{
		{"a bare invoice is deleted", open, 0, ""},
		{"an invoice with a payment is not", partial, 1, "invoice_has_money"},
		{"an invoice with only a credit note is not", figuresInvoice(false, 100, 0, 0, reconcile.StateOpen, false), 0, "invoice_has_money"},
		{"an invoice with a live write-off is not", writtenOff, 0, "invoice_has_money"},
	} {
		t.Run("deleting an invoice: "+c.name, func(t *testing.T) {
			wantRule(t, c.inv.CanDelete(c.payments), apperr.KindConflict, c.code)
		})
	}

	t.Run("unpaid is what the payments and credit notes leave, never below zero", func(t *testing.T) {
		for inv, want := range map[*reconcile.Invoice]reconcile.Amount{
			&open: 10000, &partial: 4000, &creditedPartial: 1000, &writtenOff: 5000, &paidByCredit: 0,
		} {
			if got := inv.Unpaid(); got != want {
				t.Errorf("%+v: unpaid %d, want %d", *inv, got, want)
			}
		}
		over := figuresInvoice(false, 0, 12000, 0, reconcile.StatePaid, false)
		if got := over.Unpaid(); got != 0 {
			t.Errorf("overpaid invoice: unpaid %d, want 0", got)
		}
	})
}

// TestSQLRules holds the SQL functions every total is computed through
// (invoice_written_off and invoice_state, shared by invoice_truth and
// invoice_truth_between) to exact amounts.
func TestSQLRules(t *testing.T) {
	t.Parallel()
	db := testenv.Pool(t)
	for _, c := range []struct {
		name                     string
		sent                     bool
		credited, paid, writeOff int64 // writeOff 0: none live
		writtenOff               int64
		state                    reconcile.State
	}{
		{"a draft", false, 0, 0, 0, 0, reconcile.StateDraft},
		{"a draft paid online in part", false, 0, 3000, 0, 0, reconcile.StatePartial},
		{"a sent invoice", true, 0, 0, 0, 0, reconcile.StateOpen},
		{"a credit note alone leaves it open", true, 2000, 0, 0, 0, reconcile.StateOpen},
		{"a payment makes it partial", true, 2000, 1000, 0, 0, reconcile.StatePartial},
		{"payments and credit notes covering it make it paid", true, 4000, 6000, 0, 0, reconcile.StatePaid},
		{"a credit note of the whole makes it paid", true, 10000, 0, 0, 0, reconcile.StatePaid},
		{"an overpayment is paid", true, 0, 12000, 0, 0, reconcile.StatePaid},
		{"a write-off covers what payments and credit notes leave", true, 3000, 2000, 5000, 5000, reconcile.StateWrittenOff},
		{"a later payment recovers the write-off first", true, 3000, 4000, 5000, 3000, reconcile.StateWrittenOff},
		{"a write-off recovered in full reads paid", true, 3000, 7000, 5000, 0, reconcile.StatePaid},
		{"a refund after a write-off leaves the write-off whole and the refund due", true, 0, 3000, 6000, 6000, reconcile.StateWrittenOff},
	} {
		t.Run(c.name, func(t *testing.T) {
			var sentAt *time.Time
			if c.sent {
				now := time.Now()
				sentAt = &now
			}
			var writeOff *int64
			if c.writeOff > 0 {
				writeOff = &c.writeOff
			}
			var wo int64
			var state reconcile.State
			err := db.QueryRow(context.Background(), `
				SELECT w, invoice_state(10000, $1, $2, $3, w)
				FROM (SELECT invoice_written_off(10000, $2, $3, $4) AS w) x`, sentAt, c.credited, c.paid, writeOff).Scan(&wo, &state)
			noErr(t, err)
			if wo != c.writtenOff || state != c.state {
				t.Fatalf("written off %d, state %s; want %d, %s", wo, state, c.writtenOff, c.state)
			}
		})
	}
}
