package reconcile_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// credited is what credit note assertions compare: the figures of an
// invoice with its credited amount.
type credited struct {
	Credited, Paid, WrittenOff, Balance reconcile.Amount
	State                               reconcile.State
}

func creditedOf(inv reconcile.Invoice) credited {
	return credited{inv.CreditedAmount, inv.PaidAmount, inv.WrittenOffAmount, inv.Balance, inv.State}
}

func mustCredited(t *testing.T, s *reconcile.Store, id string, want credited) reconcile.Invoice {
	t.Helper()
	inv, err := s.GetInvoice(context.Background(), id)
	noErr(t, err)
	if got := creditedOf(inv); got != want {
		t.Fatalf("invoice %s: got %+v, want %+v", id, got, want)
	}
	return inv
}

func creditNote(invoiceID string, amount reconcile.Amount, reason string) reconcile.NewCreditNote {
	return reconcile.NewCreditNote{Key: ids.New("key"), Actor: "tester", InvoiceID: invoiceID, Amount: amount, Reason: reason}
}

func mustCredit(t *testing.T) func(reconcile.Invoice, reconcile.CreditNote, error) (reconcile.Invoice, reconcile.CreditNote) {
	return func(inv reconcile.Invoice, cn reconcile.CreditNote, err error) (reconcile.Invoice, reconcile.CreditNote) {
		t.Helper()
		noErr(t, err)
		return inv, cn
	}
}

func TestCreditNotes(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()

	t.Run("a credit note lowers the balance and is listed with its actor", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		n := creditNote(inv.ID, 2500, "adjustment")
		n.Notes = "price agreed on the phone"
		got, cn := mustCredit(t)(s.IssueCreditNote(ctx, n))
		if want := (credited{2500, 0, 0, 7500, reconcile.StateOpen}); creditedOf(got) != want {
			t.Fatalf("got %+v, want %+v", creditedOf(got), want)
		}
		if cn.Amount != 2500 || cn.Reason != "adjustment" || cn.Notes != n.Notes || cn.Actor != "tester" || cn.ReversedAt != nil {
			t.Fatalf("credit note %+v", cn)
		}
		d := mustDetail(t)(s.GetInvoiceDetail(ctx, inv.ID))
		if len(d.CreditNotes) != 1 || d.CreditNotes[0].ID != cn.ID {
			t.Fatalf("credit notes %+v", d.CreditNotes)
		}
		last := d.History[len(d.History)-1]
		if last.Kind != reconcile.HistoryCreditNoted || *last.Amount != 2500 ||
			last.Notes != "adjustment: price agreed on the phone" || last.Details["credit_note_id"] != cn.ID {
			t.Fatalf("history %+v", last)
		}
	})
	t.Run("a credit note of exactly the balance makes a partly paid invoice paid", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 6000)))
		got, _ := mustCredit(t)(s.IssueCreditNote(ctx, creditNote(inv.ID, 4000, "discount")))
		if want := (credited{4000, 6000, 0, 0, reconcile.StatePaid}); creditedOf(got) != want {
			t.Fatalf("got %+v, want %+v", creditedOf(got), want)
		}
		if got.PaidAt == nil {
			t.Fatal("paid_at not set")
		}
	})
	t.Run("a credit note above the balance is refused and changes nothing", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 6000)))
		before := historyCount(t, db, inv.ID)
		_, _, err := s.IssueCreditNote(ctx, creditNote(inv.ID, 4001, "discount"))
		testenv.WantLedgerError(t, err, apperr.KindRefused, "credit_note_exceeds_balance")
		mustCredited(t, s, inv.ID, credited{0, 6000, 0, 4000, reconcile.StatePartial})
		if after := historyCount(t, db, inv.ID); after != before {
			t.Fatalf("history grew from %d to %d", before, after)
		}
	})
	t.Run("a draft takes no credit note", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, false)
		_, _, err := s.IssueCreditNote(ctx, creditNote(inv.ID, 100, "other"))
		testenv.WantLedgerError(t, err, apperr.KindConflict, "invoice_not_sent")
		mustCredited(t, s, inv.ID, credited{0, 0, 0, 10000, reconcile.StateDraft})
	})
	t.Run("bad fields are named before the invoice is read", func(t *testing.T) {
		for code, n := range map[string]reconcile.NewCreditNote{
			"invalid_amount": {Key: "k", InvoiceID: "inv_nope", Amount: 0, Reason: "other"},
			"invalid_reason": {Key: "k", InvoiceID: "inv_nope", Amount: 1, Reason: "goodwill"},
			"invalid_key":    {InvoiceID: "inv_nope", Amount: 1, Reason: "other"},
		} {
			_, _, err := s.IssueCreditNote(ctx, n)
			testenv.WantLedgerError(t, err, apperr.KindInvalid, code)
		}
	})
	t.Run("the same key twice issues one credit note and returns it", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		n := creditNote(inv.ID, 1500, "refund")
		_, first := mustCredit(t)(s.IssueCreditNote(ctx, n))
		got, again := mustCredit(t)(s.IssueCreditNote(ctx, n))
		if again.ID != first.ID {
			t.Fatalf("replay returned credit note %s, first was %s", again.ID, first.ID)
		}
		if want := (credited{1500, 0, 0, 8500, reconcile.StateOpen}); creditedOf(got) != want {
			t.Fatalf("got %+v, want %+v", creditedOf(got), want)
		}
	})
	t.Run("reversing a credit note makes it due again, once, and keeps its history", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 7000)))
		_, cn := mustCredit(t)(s.IssueCreditNote(ctx, creditNote(inv.ID, 3000, "discount")))
		mustCredited(t, s, inv.ID, credited{3000, 7000, 0, 0, reconcile.StatePaid})
		k := key()
		got := mustInvoice(t)(s.ReverseCreditNote(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv.ID, cn.ID))
		if want := (credited{0, 7000, 0, 3000, reconcile.StatePartial}); creditedOf(got) != want {
			t.Fatalf("got %+v, want %+v", creditedOf(got), want)
		}
		if got.PaidAt != nil {
			t.Fatal("paid_at kept after the credit note was reversed")
		}
		mustInvoice(t)(s.ReverseCreditNote(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv.ID, cn.ID)) // a replay succeeds
		_, err := s.ReverseCreditNote(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, cn.ID)
		testenv.WantLedgerError(t, err, apperr.KindNotFound, "credit_note_not_found")
		d := mustDetail(t)(s.GetInvoiceDetail(ctx, inv.ID))
		if len(d.CreditNotes) != 0 {
			t.Fatalf("reversed credit note still listed: %+v", d.CreditNotes)
		}
		if want := "created sent payment_recorded credit_noted credit_note_reversed"; historyKinds(d) != want {
			t.Fatalf("history %q, want %q", historyKinds(d), want)
		}
		if last := d.History[len(d.History)-1]; *last.Amount != 3000 || last.Details["credit_note_id"] != cn.ID {
			t.Fatalf("history %+v", last)
		}
		mustCredited(t, s, inv.ID, credited{0, 7000, 0, 3000, reconcile.StatePartial})
	})
	t.Run("another invoice's credit note is not found", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		other := newInvoice(t, s, 10000, true)
		_, cn := mustCredit(t)(s.IssueCreditNote(ctx, creditNote(other.ID, 100, "other")))
		_, err := s.ReverseCreditNote(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, cn.ID)
		testenv.WantLedgerError(t, err, apperr.KindNotFound, "credit_note_not_found")
	})
	t.Run("after a partial refund a credit note closes the invoice without booking bad debt", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_cn_refund", inv.ID, 10000)))
		mustResult(t)(s.ApplyRefund(ctx, "", reconcile.Refund{ProviderRef: "pi_cn_refund", AmountRefunded: 3000, Currency: "usd"}))
		mustCredited(t, s, inv.ID, credited{0, 7000, 0, 3000, reconcile.StatePartial})
		got, _ := mustCredit(t)(s.IssueCreditNote(ctx, creditNote(inv.ID, 3000, "refund")))
		if want := (credited{3000, 7000, 0, 0, reconcile.StatePaid}); creditedOf(got) != want {
			t.Fatalf("got %+v, want %+v", creditedOf(got), want)
		}
	})
	t.Run("a manual payment may be at most what is unpaid after credit notes", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustCredit(t)(s.IssueCreditNote(ctx, creditNote(inv.ID, 4000, "discount")))
		_, _, err := s.RecordManualPayment(ctx, manual(inv.ID, 6001))
		testenv.WantLedgerError(t, err, apperr.KindRefused, "overpayment")
		must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 6000)))
		mustCredited(t, s, inv.ID, credited{4000, 6000, 0, 0, reconcile.StatePaid})
	})
	t.Run("an invoice with a credit note is not deleted", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustCredit(t)(s.IssueCreditNote(ctx, creditNote(inv.ID, 100, "other")))
		testenv.WantLedgerError(t, s.DeleteInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID), apperr.KindConflict, "invoice_has_money")
	})
	checkTruth(t, db)
}

// TestCreditNotesAndWriteOffs: a write-off covers what is left after the
// payments and the credit notes; while it is live a credit note is not
// reversed, and one above the nothing left due is refused.
func TestCreditNotesAndWriteOffs(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	inv := newInvoice(t, s, 10000, true)
	must2(t)(s.RecordManualPayment(ctx, manual(inv.ID, 2000)))
	_, cn := mustCredit(t)(s.IssueCreditNote(ctx, creditNote(inv.ID, 3000, "adjustment")))

	t.Run("the write-off books only what the payments and credit notes leave", func(t *testing.T) {
		got := mustInvoice(t)(s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, "client gone"))
		if want := (credited{3000, 2000, 5000, 0, reconcile.StateWrittenOff}); creditedOf(got) != want {
			t.Fatalf("got %+v, want %+v", creditedOf(got), want)
		}
	})
	t.Run("a credit note on the written-off invoice is refused, saying to reopen", func(t *testing.T) {
		_, _, err := s.IssueCreditNote(ctx, creditNote(inv.ID, 1, "other"))
		testenv.WantLedgerError(t, err, apperr.KindRefused, "credit_note_exceeds_balance")
		mustCredited(t, s, inv.ID, credited{3000, 2000, 5000, 0, reconcile.StateWrittenOff})
	})
	t.Run("reversing a credit note while the write-off is live is refused", func(t *testing.T) {
		_, err := s.ReverseCreditNote(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, cn.ID)
		testenv.WantLedgerError(t, err, apperr.KindConflict, "invoice_written_off")
		mustCredited(t, s, inv.ID, credited{3000, 2000, 5000, 0, reconcile.StateWrittenOff})
	})
	t.Run("reopened, the credit note is reversed and the whole rest is due", func(t *testing.T) {
		mustInvoice(t)(s.Reopen(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID))
		mustCredited(t, s, inv.ID, credited{3000, 2000, 0, 5000, reconcile.StatePartial})
		mustInvoice(t)(s.ReverseCreditNote(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, cn.ID))
		mustCredited(t, s, inv.ID, credited{0, 2000, 0, 8000, reconcile.StatePartial})
	})
	t.Run("a refund after a write-off leaves a balance a credit note may close", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", online("pi_wo_cn", inv.ID, 4000)))
		mustInvoice(t)(s.WriteOff(ctx, reconcile.Op{Key: key(), Actor: "tester"}, inv.ID, ""))
		mustResult(t)(s.ApplyRefund(ctx, "", reconcile.Refund{ProviderRef: "pi_wo_cn", AmountRefunded: 1000, Currency: "usd"}))
		mustCredited(t, s, inv.ID, credited{0, 3000, 6000, 1000, reconcile.StateWrittenOff})
		mustCredit(t)(s.IssueCreditNote(ctx, creditNote(inv.ID, 1000, "refund")))
		mustCredited(t, s, inv.ID, credited{1000, 3000, 6000, 0, reconcile.StateWrittenOff})
	})
	checkTruth(t, db)
}

// TestCreditNoteActor: a credit note records the actor it is issued by, as
// every change does; one that names nobody is refused.
func TestCreditNoteActor(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	inv := newInvoice(t, s, 10000, true)

	t.Run("without an actor it is refused and changes nothing", func(t *testing.T) {
		n := creditNote(inv.ID, 100, "other")
		n.Actor = ""
		_, _, err := s.IssueCreditNote(ctx, n)
		testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_actor")
		mustCredited(t, s, inv.ID, credited{0, 0, 0, 10000, reconcile.StateOpen})
	})
	t.Run("an actor given is recorded", func(t *testing.T) {
		n := creditNote(inv.ID, 100, "other")
		n.Actor = "alice"
		_, cn := mustCredit(t)(s.IssueCreditNote(ctx, n))
		if cn.Actor != "alice" {
			t.Fatalf("actor %q", cn.Actor)
		}
	})
	t.Run("a job's credit note names its actor; the job's result names the credit note", func(t *testing.T) {
		job, _, err := s.CreateJob(ctx, reconcile.NewJob{Actor: "bob", Type: reconcile.JobIssueCreditNote, InvoiceID: inv.ID, Payload: map[string]string{}})
		noErr(t, err)
		n := creditNote(inv.ID, 100, "other")
		n.Key, n.Actor = job.ID, job.Actor
		_, cn := mustCredit(t)(s.IssueCreditNote(ctx, n))
		if cn.Actor != "bob" {
			t.Fatalf("actor %q", cn.Actor)
		}
		done, err := s.GetJob(ctx, job.ID)
		noErr(t, err)
		var result struct {
			CreditNoteID string `json:"credit_note_id"`
		}
		if err := json.Unmarshal(done.Result, &result); err != nil || done.Status != reconcile.JobSucceeded || result.CreditNoteID != cn.ID {
			t.Fatalf("job %+v (result %s), want succeeded with credit note %s", done, done.Result, cn.ID)
		}
	})
	checkTruth(t, db)
}

// TestCreditNoteDrift: the reconciliation run holds the stored credited
// amount to the credit notes like every other total.
func TestCreditNoteDrift(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	runner := reconcile.NewRunner(s, &recordingRelay{store: s}, reconcile.RunnerConfig{RelayAfter: time.Minute, BatchSize: 2})
	inv := sentInvoice(t, s, 10000)
	payManually(t, s, inv.ID, 5000)
	_, _, err := s.IssueCreditNote(ctx, creditNote(inv.ID, 2000, "discount"))
	noErr(t, err)
	plantCreditDrift(t, db, inv.ID, -2000)

	for _, full := range []bool{true, false} {
		_, steps := runOnce(t, s, runner, full)
		if l := steps.Ledger; full && (l.DriftFound != 1 || l.Repaired != 1) || !full && l.DriftFound != 0 {
			t.Fatalf("full %v: ledger step %+v", full, l)
		}
		mustCredited(t, s, inv.ID, credited{2000, 5000, 0, 3000, reconcile.StatePartial})
	}
	plantCreditDrift(t, db, inv.ID, 500)
	_, steps := runOnce(t, s, runner, false)
	if l := steps.Ledger; l.DriftFound != 1 || l.Repaired != 1 {
		t.Fatalf("incremental: ledger step %+v", l)
	}
	mustCredited(t, s, inv.ID, credited{2000, 5000, 0, 3000, reconcile.StatePartial})
	checkTruth(t, db)
}

// plantCreditDrift makes an invoice's stored credited amount wrong by delta,
// keeping the balance CHECK valid, as a faulty change made now would.
func plantCreditDrift(t *testing.T, db *pgxpool.Pool, id string, delta reconcile.Amount) {
	t.Helper()
	_, err := db.Exec(context.Background(), `
		UPDATE invoices SET credited_amount = credited_amount + $2, balance = balance - $2, updated_at = now()
		WHERE id = $1`, id, delta)
	noErr(t, err)
	touchHistory(t, db, id)
}
