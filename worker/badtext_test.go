package worker_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestEventWithIDsPostgreSQLRefusesEndsFailed processes signed events whose
// ids hold a NUL, which PostgreSQL refuses in text. Such an event can never
// be applied: it must end failed, with the reason, at its first attempt,
// rather than stay received and be retried for weeks.
func TestEventWithIDsPostgreSQLRefusesEndsFailed(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	h := newHandlers(t, s)
	ctx := context.Background()
	if _, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_nul", Number: "N", Client: "c", Currency: "usd", Amount: 1000}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, id string
		raw      []byte
		reason   string
	}{
		{"a NUL in metadata.invoice_id", "evt_nul_meta", piSucceeded("evt_nul_meta", "pi_nul_meta", "inv_nul\x00", 100), "invoice"},
		{"a NUL in the PaymentIntent id", "evt_nul_pi", piSucceeded("evt_nul_pi", "pi_nul\x00", "inv_nul", 100), "payment"},
		{"a NUL in a checkout's client_reference_id", "evt_nul_cs", checkoutCompleted("evt_nul_cs", "pi_nul_cs", "inv\x00nul", 100), "invoice"},
		{"a NUL in a refund's PaymentIntent", "evt_nul_refund", chargeRefunded("evt_nul_refund", "pi_refund\x00", 100, 50), "payment"},
	} {
		t.Run(c.name+" ends failed with the reason", func(t *testing.T) {
			storeEvents(t, s, map[string][]byte{c.id: c.raw})
			payload, _ := json.Marshal(worker.EventPayload{EventIDs: []string{c.id}})
			// The first of many attempts: a fault would be retried.
			if err := h.ProcessEvent(ctx, asynq.NewTask(worker.TypeProcessEvent, payload)); err != nil {
				t.Fatalf("ProcessEvent: %v, want the event to end here, not a retry", err)
			}
			ev, err := s.GetEvent(ctx, c.id)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Status != reconcile.EventFailed || !strings.Contains(ev.Error, c.reason) {
				t.Fatalf("event %s %q, want failed with a reason naming the %s", ev.Status, ev.Error, c.reason)
			}
			if strings.ContainsRune(ev.Error, 0) {
				t.Fatalf("the stored reason holds the NUL: %q", ev.Error)
			}
		})
	}
	inv, err := s.GetInvoice(ctx, "inv_nul")
	if err != nil || inv.PaidAmount != 0 {
		t.Fatalf("invoice %+v (%v), want nothing paid", inv, err)
	}
}
