package reconcile_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

func TestEveryChangeNamesItsActor(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	alice := func() reconcile.Op { return reconcile.Op{Key: ids.New("key"), Actor: "alice"} }

	// actors lists the invoice's history as "kind by actor", oldest first.
	actors := func(t *testing.T, id string) []string {
		t.Helper()
		d, err := s.GetInvoiceDetail(ctx, id)
		noErr(t, err)
		var out []string
		for _, h := range d.History {
			out = append(out, string(h.Kind)+" by "+h.Actor)
		}
		return out
	}

	t.Run("an operator's changes carry the operator's name into history and the write-off", func(t *testing.T) {
		inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "alice", Number: "A-1", Client: "acme", Currency: "usd", Amount: 10000})
		noErr(t, err)
		_, err = s.SendInvoice(ctx, reconcile.Op{Actor: "bob"}, inv.ID)
		noErr(t, err)
		_, pay, err := s.RecordManualPayment(ctx, reconcile.ManualPayment{Key: ids.New("key"), Actor: "carol",
			InvoiceID: inv.ID, Amount: 4000, PaidDate: today})
		noErr(t, err)
		_, err = s.DeletePayment(ctx, alice(), inv.ID, pay.ID)
		noErr(t, err)
		_, err = s.WriteOff(ctx, reconcile.Op{Key: ids.New("key"), Actor: "dave"}, inv.ID, "gone")
		noErr(t, err)
		_, err = s.Reopen(ctx, reconcile.Op{Key: ids.New("key"), Actor: "erin"}, inv.ID)
		noErr(t, err)
		want := []string{"created by alice", "sent by bob", "payment_recorded by carol", "payment_deleted by alice",
			"written_off by dave", "reopened by erin"}
		if got := actors(t, inv.ID); !slices.Equal(got, want) {
			t.Fatalf("history %v, want %v", got, want)
		}
		var by, reversedBy string
		noErr(t, db.QueryRow(ctx, `SELECT actor, reversed_by FROM write_offs WHERE invoice_id = $1`, inv.ID).Scan(&by, &reversedBy))
		if by != "dave" || reversedBy != "erin" {
			t.Fatalf("write-off by %q, reversed by %q; want dave and erin", by, reversedBy)
		}
	})

	t.Run("Stripe's payments and refunds are the actor stripe", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		_, err := s.RecordOnlinePayment(ctx, "", online("pi_actor", inv.ID, 10000))
		noErr(t, err)
		_, err = s.ApplyRefund(ctx, "", reconcile.Refund{ProviderRef: "pi_actor", AmountRefunded: 2500, Currency: "usd"})
		noErr(t, err)
		got := actors(t, inv.ID)
		if want := []string{"payment_recorded by stripe", "refund_recorded by stripe"}; !slices.Equal(got[2:], want) {
			t.Fatalf("history %v, want it to end with %v", got, want)
		}
	})

	t.Run("a repair by a reconciliation run is the actor reconciler", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		plantDrift(t, db, inv.ID, 500, nil)
		runner := reconcile.NewRunner(s, &recordingRelay{store: s}, reconcile.RunnerConfig{RelayAfter: time.Minute})
		runOnce(t, s, runner, true)
		got := actors(t, inv.ID)
		if last := got[len(got)-1]; last != "reconciled by reconciler" {
			t.Fatalf("history %v, want it to end with the run's repair", got)
		}
	})

	t.Run("a change that names nobody is refused and changes nothing", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		before := historyCount(t, db, inv.ID)
		_, err := s.WriteOff(ctx, reconcile.Op{Key: ids.New("key")}, inv.ID, "")
		testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_actor")
		_, _, err = s.RecordManualPayment(ctx, reconcile.ManualPayment{Key: ids.New("key"), InvoiceID: inv.ID, Amount: 1, PaidDate: today})
		testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_actor")
		_, err = s.CreateInvoice(ctx, reconcile.NewInvoice{Number: "X", Client: "acme", Currency: "usd", Amount: 1})
		testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_actor")
		_, _, err = s.CreateJob(ctx, reconcile.NewJob{Type: reconcile.JobReopen, InvoiceID: inv.ID, Payload: map[string]string{}})
		testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_actor")
		if after := historyCount(t, db, inv.ID); after != before {
			t.Fatalf("history grew from %d to %d", before, after)
		}
	})

	t.Run("a job keeps who asked for it", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		j, _, err := s.CreateJob(ctx, reconcile.NewJob{Type: reconcile.JobWriteOff, Actor: "frank", InvoiceID: inv.ID,
			Payload: map[string]string{}})
		noErr(t, err)
		got, err := s.GetJob(ctx, j.ID)
		noErr(t, err)
		if got.Actor != "frank" {
			t.Fatalf("job actor %q, want frank", got.Actor)
		}
	})
}
