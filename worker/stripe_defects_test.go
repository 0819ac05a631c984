package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// The tests below reproduce the defects of issue 17 (Stripe's money,
// exactly once) through the worker's own path: raw Stripe events stored in
// the inbox, decoded, translated and applied to the ledger.

// sentInvoice creates and sends an invoice of amount usd.
func sentInvoice(t *testing.T, s *reconcile.Store, id string, amount reconcile.Amount) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: id, Number: id, Client: "acme", Currency: "usd", Amount: amount}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, id); err != nil {
		t.Fatal(err)
	}
}

// deliver stores each event and processes it, one task each, in order.
func deliver(t *testing.T, s *reconcile.Store, h *worker.Handlers, events ...[]byte) {
	t.Helper()
	for _, raw := range events {
		id := eventID(t, raw)
		storeEvents(t, s, map[string][]byte{id: raw})
		process(t, h, id)
	}
}

// eventID reads the id of a raw event.
func eventID(t *testing.T, raw []byte) string {
	t.Helper()
	var head struct{ ID string }
	if err := json.Unmarshal(raw, &head); err != nil || head.ID == "" {
		t.Fatalf("no id in %s: %v", raw, err)
	}
	return head.ID
}

// figures is what these tests compare of an invoice.
type figures struct {
	Paid, Refunded, Disputed, Balance reconcile.Amount
	State                             reconcile.State
	Payments                          int
}

func figuresOf(t *testing.T, s *reconcile.Store, id string) figures {
	t.Helper()
	d, err := s.GetInvoiceDetail(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	f := figures{Paid: d.PaidAmount, Balance: d.Balance, State: d.State, Payments: len(d.Payments)}
	for _, p := range d.Payments {
		f.Refunded += p.RefundedAmount
		f.Disputed += p.DisputedAmount
	}
	return f
}

func mustFigures(t *testing.T, s *reconcile.Store, id string, want figures) {
	t.Helper()
	if got := figuresOf(t, s, id); got != want {
		t.Fatalf("invoice %s: %+v, want %+v", id, got, want)
	}
}

func mustStatus(t *testing.T, s *reconcile.Store, eventID string, want reconcile.EventStatus) reconcile.Event {
	t.Helper()
	ev, err := s.GetEvent(context.Background(), eventID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != want {
		t.Fatalf("event %s is %s (%q), want %s", eventID, ev.Status, ev.Error, want)
	}
	return ev
}

// permutations lists every order of n items.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestOnePaymentPerMoneyMovement is defect 1: a payment was keyed by the id
// its event happened to carry, so one movement announced under two ids was
// counted twice.
func TestOnePaymentPerMoneyMovement(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	h := newHandlers(t, s)

	t.Run("a subscription checkout, its invoice.paid and its PaymentIntent make one payment, in any order", func(t *testing.T) {
		for n, order := range permutations(3) {
			inv := fmt.Sprintf("inv_d1a_%d", n)
			sentInvoice(t, s, inv, 2000)
			in, pi, ch := "in_d1a_"+inv, "pi_d1a_"+inv, "ch_d1a_"+inv
			events := [][]byte{
				eventAt("evt_cs_"+inv, "checkout.session.completed", apiOld, false,
					checkoutObject("cs_d1a_"+inv, "", in, inv, "usd", "paid", 2000)),
				eventAt("evt_in_"+inv, "invoice.paid", apiOld, false, invoiceObject(apiOld, in, pi, ch, inv, "usd", 2000)),
				eventAt("evt_pi_"+inv, "payment_intent.succeeded", apiOld, false, piObject(apiOld, pi, ch, in, inv, "usd", 2000)),
			}
			for _, i := range order {
				deliver(t, s, h, events[i])
			}
			mustFigures(t, s, inv, figures{Paid: 2000, Balance: 0, State: reconcile.StatePaid, Payments: 1})
		}
	})

	t.Run("a 2025-03-31 invoice.paid, its invoice_payment.paid and its PaymentIntent make one payment, in any order", func(t *testing.T) {
		for n, order := range permutations(3) {
			inv := fmt.Sprintf("inv_d1b_%d", n)
			sentInvoice(t, s, inv, 3000)
			in, pi, ch := "in_d1b_"+inv, "pi_d1b_"+inv, "ch_d1b_"+inv
			events := [][]byte{
				eventAt("evt_in_"+inv, "invoice.paid", apiNew, false, invoiceObject(apiNew, in, "", "", inv, "usd", 3000)),
				eventAt("evt_inpay_"+inv, "invoice_payment.paid", apiNew, false, invoicePaymentObject("inpay_d1b_"+inv, in, pi, "usd", 3000)),
				eventAt("evt_pi_"+inv, "payment_intent.succeeded", apiNew, false, piObject(apiNew, pi, ch, "", inv, "usd", 3000)),
			}
			for _, i := range order {
				deliver(t, s, h, events[i])
			}
			mustFigures(t, s, inv, figures{Paid: 3000, Balance: 0, State: reconcile.StatePaid, Payments: 1})
		}
	})
}

// TestRefundHeldForReviewNeverCounts is defect 2: a refund in another
// currency was stored before the currency check, and counted later.
func TestRefundHeldForReviewNeverCounts(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	h := newHandlers(t, s)

	t.Run("a wrong-currency refund kept for review does not leak into a later, correct one", func(t *testing.T) {
		sentInvoice(t, s, "inv_d2a", 10000)
		deliver(t, s, h, eventAt("evt_d2a_pi", "payment_intent.succeeded", apiOld, false,
			piObject(apiOld, "pi_d2a", "ch_d2a", "", "inv_d2a", "usd", 10000)))
		deliver(t, s, h, eventAt("evt_d2a_eur", "charge.refunded", apiOld, false,
			chargeObject("ch_d2a", "pi_d2a", "eur", 10000, 10000, nil)))
		mustStatus(t, s, "evt_d2a_eur", reconcile.EventNeedsReview)
		mustFigures(t, s, "inv_d2a", figures{Paid: 10000, State: reconcile.StatePaid, Payments: 1})
		deliver(t, s, h, eventAt("evt_d2a_usd", "charge.refunded", apiOld, false,
			chargeObject("ch_d2a", "pi_d2a", "usd", 10000, 100, nil)))
		mustFigures(t, s, "inv_d2a", figures{Paid: 9900, Refunded: 100, Balance: 100, State: reconcile.StatePartial, Payments: 1})
	})

	t.Run("a wrong-currency refund before its payment never refunds it", func(t *testing.T) {
		sentInvoice(t, s, "inv_d2b", 10000)
		deliver(t, s, h, eventAt("evt_d2b_eur", "charge.refunded", apiOld, false,
			chargeObject("ch_d2b", "pi_d2b", "eur", 10000, 10000, nil)))
		deliver(t, s, h, eventAt("evt_d2b_pi", "payment_intent.succeeded", apiOld, false,
			piObject(apiOld, "pi_d2b", "ch_d2b", "", "inv_d2b", "usd", 10000)))
		mustFigures(t, s, "inv_d2b", figures{Paid: 10000, State: reconcile.StatePaid, Payments: 1})
		// The run matches the refund again: it is judged, and held, on its own.
		process(t, h, "evt_d2b_eur")
		mustStatus(t, s, "evt_d2b_eur", reconcile.EventNeedsReview)
		mustFigures(t, s, "inv_d2b", figures{Paid: 10000, State: reconcile.StatePaid, Payments: 1})
	})
}

// TestFailedRefundGivesTheMoneyBack is defect 3: the highest refunded total
// ever seen was kept, so a refund that failed was never given back.
func TestFailedRefundGivesTheMoneyBack(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	h := newHandlers(t, s)
	failures := []struct{ name, typ string }{
		{"charge.refund.updated", "charge.refund.updated"},
		{"refund.failed", "refund.failed"},
		{"refund.updated", "refund.updated"},
	}
	for n, f := range failures {
		inv, pi, ch, re := fmt.Sprintf("inv_d3_%d", n), fmt.Sprintf("pi_d3_%d", n), fmt.Sprintf("ch_d3_%d", n), fmt.Sprintf("re_d3_%d", n)
		pay := eventAt("evt_pi_"+inv, "payment_intent.succeeded", apiOld, false, piObject(apiOld, pi, ch, "", inv, "usd", 2000))
		refunded := eventAt("evt_cr_"+inv, "charge.refunded", apiOld, false,
			chargeObject(ch, pi, "usd", 2000, 500, []map[string]any{refundObject(re, ch, pi, "usd", "succeeded", 500)}))
		failed := eventAt("evt_rf_"+inv, f.typ, apiOld, false, refundObject(re, ch, pi, "usd", "failed", 500))

		t.Run("a refund that fails by "+f.name+" gives its money back", func(t *testing.T) {
			sentInvoice(t, s, inv, 2000)
			deliver(t, s, h, pay, refunded)
			mustFigures(t, s, inv, figures{Paid: 1500, Refunded: 500, Balance: 500, State: reconcile.StatePartial, Payments: 1})
			deliver(t, s, h, failed)
			mustFigures(t, s, inv, figures{Paid: 2000, State: reconcile.StatePaid, Payments: 1})
		})
		t.Run("a refund whose "+f.name+" comes first never counts", func(t *testing.T) {
			inv2 := inv + "_first"
			sentInvoice(t, s, inv2, 2000)
			deliver(t, s, h,
				eventAt("evt_rf_"+inv2, f.typ, apiOld, false, refundObject(re+"_b", ch+"_b", pi+"_b", "usd", "failed", 500)),
				eventAt("evt_cr_"+inv2, "charge.refunded", apiOld, false, chargeObject(ch+"_b", pi+"_b", "usd", 2000, 500, nil)),
				eventAt("evt_pi_"+inv2, "payment_intent.succeeded", apiOld, false, piObject(apiOld, pi+"_b", ch+"_b", "", inv2, "usd", 2000)))
			mustFigures(t, s, inv2, figures{Paid: 2000, State: reconcile.StatePaid, Payments: 1})
		})
	}
}

// TestOtherModeNeverTouchesTheLedger is defect 5: livemode was never read.
func TestOtherModeNeverTouchesTheLedger(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	client := worker.NewClient(testenv.Redis(t), s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	live := worker.NewHandlers(s, client, nil, time.Minute, zap.NewNop()) // STRIPE_LIVEMODE's default: true

	t.Run("a test-mode payment reaching a live ledger is ignored with its reason", func(t *testing.T) {
		sentInvoice(t, s, "inv_d5", 2000)
		deliver(t, s, live, eventAt("evt_d5_test", "payment_intent.succeeded", apiOld, false,
			piObject(apiOld, "pi_d5", "ch_d5", "", "inv_d5", "usd", 2000)))
		ev := mustStatus(t, s, "evt_d5_test", reconcile.EventIgnored)
		if !strings.Contains(ev.Error, "livemode") {
			t.Fatalf("reason %q does not name livemode", ev.Error)
		}
		mustFigures(t, s, "inv_d5", figures{Balance: 2000, State: reconcile.StateOpen})
	})
}
