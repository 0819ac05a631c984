package worker_test

import (
	"context"
	"testing"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestResolvedEventsInProcessing: the invoice an operator applied an event
// to is what any later processing of it pays (a relay's, a run's), and an
// ignored event is never processed again.
func TestResolvedEventsInProcessing(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	ctx := context.Background()
	h := newHandlers(t, s)
	if _, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_real", Number: "R", Client: "c", Currency: "usd", Amount: 5000}); err != nil {
		t.Fatal(err)
	}
	storeEvents(t, s, map[string][]byte{
		"evt_typo":  piSucceeded("evt_typo", "pi_typo", "inv_reel", 5000),
		"evt_stray": piSucceeded("evt_stray", "pi_stray", "inv_later", 700),
	})
	process(t, h, "evt_typo", "evt_stray")

	t.Run("an event applied by hand pays the operator's invoice whoever processes it", func(t *testing.T) {
		if _, err := s.ForceEventInvoice(ctx, "evt_typo", "inv_real", "mistyped", "alice"); err != nil {
			t.Fatal(err)
		}
		process(t, h, "evt_typo") // as a relay of the unmatched event would
		inv, err := s.GetInvoice(ctx, "inv_real")
		if err != nil || inv.State != reconcile.StatePaid || inv.PaidAmount != 5000 {
			t.Fatalf("invoice %+v, %v", inv, err)
		}
		ev, err := s.GetEvent(ctx, "evt_typo")
		if err != nil || ev.Status != reconcile.EventProcessed || ev.Resolution == nil || ev.Resolution.Actor != "alice" {
			t.Fatalf("event %+v, %v", ev, err)
		}
		if _, err := s.NoteEventApplied(ctx, "", "evt_typo"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("an ignored event is not processed again, even once its invoice exists", func(t *testing.T) {
		if _, err := s.IgnoreEvent(ctx, "", "evt_stray", "test payment", "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_later", Number: "L", Client: "c", Currency: "usd", Amount: 700}); err != nil {
			t.Fatal(err)
		}
		process(t, h, "evt_stray")
		inv, err := s.GetInvoice(ctx, "inv_later")
		if err != nil || inv.PaidAmount != 0 {
			t.Fatalf("invoice %+v, %v", inv, err)
		}
		if ev, _ := s.GetEvent(ctx, "evt_stray"); ev.Status != reconcile.EventIgnored {
			t.Fatalf("event %+v", ev)
		}
	})

	t.Run("a processed event is not waiting: its resolution is refused", func(t *testing.T) {
		if _, err := s.IgnoreEvent(ctx, "", "evt_typo", "", "alice"); err == nil {
			t.Fatal("ignoring a processed event succeeded")
		}
		if _, err := s.ForceEventInvoice(ctx, "evt_stray", "inv_real", "", "alice"); err == nil {
			t.Fatal("applying an ignored event succeeded")
		}
	})
}
