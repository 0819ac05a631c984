package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// stripeEvent builds the JSON of a Stripe event with the fields the service
// reads; the decoder's own tests hold it to Stripe's full example objects.
func stripeEvent(id, typ string, object map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": "2023-10-16",
		"created": time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC).Unix(), "livemode": false,
		"data": map[string]any{"object": object},
	})
	if err != nil {
		panic(err)
	}
	return b
}

func piSucceeded(evt, pi, invoiceID string, amount int64) []byte {
	meta := map[string]any{}
	if invoiceID != "" {
		meta["invoice_id"] = invoiceID
	}
	return stripeEvent(evt, "payment_intent.succeeded", map[string]any{
		"id": pi, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": "usd",
		"status": "succeeded", "metadata": meta})
}

func checkoutCompleted(evt, pi, invoiceID string, amount int64) []byte {
	return stripeEvent(evt, "checkout.session.completed", map[string]any{
		"id": "cs_" + pi, "object": "checkout.session", "payment_intent": pi, "payment_status": "paid",
		"amount_total": amount, "currency": "usd", "client_reference_id": invoiceID, "metadata": map[string]any{}})
}

func chargeRefunded(evt, pi string, amount, refunded int64) []byte {
	return stripeEvent(evt, "charge.refunded", map[string]any{
		"id": "ch_" + pi, "object": "charge", "payment_intent": pi, "amount": amount,
		"amount_refunded": refunded, "currency": "usd", "refunded": refunded == amount, "metadata": map[string]any{}})
}

func newHandlers(t *testing.T, s *reconcile.Store) *worker.Handlers {
	client := worker.NewClient(testenv.Redis(t), s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	return worker.NewHandlers(s, client, nil, time.Minute, zap.NewNop()).WithLivemode(false)
}

func storeEvents(t *testing.T, s *reconcile.Store, raws map[string][]byte) {
	t.Helper()
	var batch []reconcile.InboxEvent
	for id, raw := range raws {
		batch = append(batch, reconcile.InboxEvent{ID: id, Type: "x", Created: time.Now(), Payload: raw})
	}
	if _, err := s.StoreEvents(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

func process(t *testing.T, h *worker.Handlers, eventIDs ...string) {
	t.Helper()
	payload, _ := json.Marshal(worker.EventPayload{EventIDs: eventIDs})
	if err := h.ProcessEvent(context.Background(), asynq.NewTask(worker.TypeProcessEvent, payload)); err != nil {
		t.Fatalf("process %v: %v", eventIDs, err)
	}
}

type outcome struct {
	Paid, WrittenOff, Balance reconcile.Amount
	State                     reconcile.State
	Payments                  int
	Refunded                  reconcile.Amount
}

// TestEventsInAnyOrder delivers the events of random payments (each
// PaymentIntent announced by payment_intent.succeeded, perhaps without the
// invoice's id, and a checkout completion) and cumulative refunds, in random
// orders with random duplicates, in tasks of random sizes (a duplicate may
// share a task with its original), and holds every delivery to the same
// final invoice. Unmatched events are retried at the end, as reconciliation
// does.
func TestEventsInAnyOrder(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	h := newHandlers(t, s)
	ctx := context.Background()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))

	for scenario := range 20 {
		// One scenario: an invoice, its payments and refunds as events.
		amount := int64(5000 + r.IntN(20000))
		type pi struct {
			id               string
			amount, refunded int64
		}
		var pis []pi
		for j := range 1 + r.IntN(3) {
			a := int64(1 + r.IntN(int(amount)))
			pis = append(pis, pi{id: fmt.Sprintf("pi_%d_%d_%d", seed%1000, scenario, j), amount: a, refunded: int64(r.IntN(int(a) + 1))})
		}
		var want *outcome
		for delivery := range 6 {
			inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: "E", Client: "c", Currency: "usd", Amount: reconcile.Amount(amount)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID); err != nil {
				t.Fatal(err)
			}
			raws := map[string][]byte{}
			var ids []string
			add := func(id string, raw []byte) { raws[id] = raw; ids = append(ids, id) }
			for j, p := range pis {
				key := fmt.Sprintf("%s_%d_%d", p.id, delivery, j)
				ref := p.id + fmt.Sprintf("_d%d", delivery)
				withMeta := ""
				if r.IntN(2) == 0 {
					withMeta = inv.ID
				}
				add("evt_pi_"+key, piSucceeded("evt_pi_"+key, ref, withMeta, p.amount))
				add("evt_cs_"+key, checkoutCompleted("evt_cs_"+key, ref, inv.ID, p.amount))
				if p.refunded > 0 {
					half := p.refunded / 2
					add("evt_r1_"+key, chargeRefunded("evt_r1_"+key, ref, p.amount, half))
					add("evt_r2_"+key, chargeRefunded("evt_r2_"+key, ref, p.amount, p.refunded))
				}
			}
			storeEvents(t, s, raws)
			// Every event at least once, some many times, in a random order.
			var order []string
			for _, id := range ids {
				for range 1 + r.IntN(3) {
					order = append(order, id)
				}
			}
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for len(order) > 0 {
				n := min(len(order), 1+r.IntN(4))
				process(t, h, order[:n]...)
				order = order[n:]
			}
			// Reconciliation retries what stayed unmatched.
			unmatched, err := s.StaleEvents(ctx, reconcile.EventUnmatched, 0, "", 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range unmatched {
				process(t, h, id)
			}
			d, err := s.GetInvoiceDetail(ctx, inv.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := outcome{Paid: d.PaidAmount, WrittenOff: d.WrittenOffAmount, Balance: d.Balance, State: d.State, Payments: len(d.Payments)}
			for _, p := range d.Payments {
				got.Refunded += p.RefundedAmount
			}
			if want == nil {
				var paid, refunded int64
				for _, p := range pis {
					paid += p.amount - p.refunded
					refunded += p.refunded
				}
				if got.Paid != reconcile.Amount(paid) || got.Refunded != reconcile.Amount(refunded) || got.Payments != len(pis) {
					t.Fatalf("scenario %d: got %+v, want paid %d refunded %d in %d payments", scenario, got, paid, refunded, len(pis))
				}
				want = &got
			} else if got != *want {
				t.Fatalf("scenario %d delivery %d: got %+v, first delivery gave %+v", scenario, delivery, got, *want)
			}
		}
	}
}

func TestEventStatuses(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	h := newHandlers(t, s)
	ctx := context.Background()
	inv, _ := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_status", Number: "S", Client: "c", Currency: "usd", Amount: 1000})

	cases := []struct {
		name, id string
		raw      []byte
		want     reconcile.EventStatus
	}{
		{"a payment for a known invoice is processed", "evt_ok", piSucceeded("evt_ok", "pi_ok", inv.ID, 1000), reconcile.EventProcessed},
		{"a payment for an unknown invoice is unmatched", "evt_unknown", piSucceeded("evt_unknown", "pi_unknown", "inv_nope", 1000), reconcile.EventUnmatched},
		{"a payment in another currency needs review", "evt_eur", stripeEvent("evt_eur", "payment_intent.succeeded", map[string]any{
			"id": "pi_eur", "object": "payment_intent", "amount_received": 1000, "currency": "eur", "metadata": map[string]any{"invoice_id": inv.ID}}), reconcile.EventNeedsReview},
		{"an unhandled type is ignored", "evt_cust", stripeEvent("evt_cust", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}), reconcile.EventIgnored},
		{"a malformed handled event fails with its reason", "evt_bad", stripeEvent("evt_bad", "payment_intent.succeeded", map[string]any{
			"id": "pi_bad", "object": "payment_intent", "amount_received": 0, "currency": "usd"}), reconcile.EventFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storeEvents(t, s, map[string][]byte{c.id: c.raw})
			process(t, h, c.id)
			ev, err := s.GetEvent(ctx, c.id)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Status != c.want {
				t.Fatalf("status %s (%s), want %s", ev.Status, ev.Error, c.want)
			}
			if (c.want == reconcile.EventFailed || c.want == reconcile.EventUnmatched || c.want == reconcile.EventNeedsReview) && ev.Error == "" {
				t.Fatal("no reason stored")
			}
		})
	}
}

// TestOneTaskManyEvents: a task of many events applies each, whatever the
// others come to, and skips ids not stored and events already final.
func TestOneTaskManyEvents(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	h := newHandlers(t, s)
	ctx := context.Background()
	inv, _ := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_many", Number: "M", Client: "c", Currency: "usd", Amount: 1000})
	storeEvents(t, s, map[string][]byte{
		"evt_m_bad":  stripeEvent("evt_m_bad", "payment_intent.succeeded", map[string]any{"id": "pi_bad", "object": "payment_intent", "amount_received": 0, "currency": "usd"}),
		"evt_m_1":    piSucceeded("evt_m_1", "pi_m_1", inv.ID, 300),
		"evt_m_none": piSucceeded("evt_m_none", "pi_m_none", "inv_nope", 100),
		"evt_m_2":    piSucceeded("evt_m_2", "pi_m_2", inv.ID, 700),
	})
	process(t, h, "evt_m_bad", "evt_m_1", "evt_missing", "evt_m_none", "evt_m_1", "evt_m_2")
	process(t, h, "evt_m_1", "evt_m_2") // already final: nothing happens

	want := map[string]reconcile.EventStatus{"evt_m_bad": reconcile.EventFailed, "evt_m_1": reconcile.EventProcessed,
		"evt_m_none": reconcile.EventUnmatched, "evt_m_2": reconcile.EventProcessed}
	for id, st := range want {
		ev, err := s.GetEvent(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Status != st || ev.Attempts != 1 {
			t.Errorf("%s: status %s after %d attempts, want %s after 1", id, ev.Status, ev.Attempts, st)
		}
	}
	d, err := s.GetInvoiceDetail(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.PaidAmount != 1000 || d.State != reconcile.StatePaid || len(d.Payments) != 2 {
		t.Fatalf("invoice paid %d, state %s, %d payments; want 1000, paid, 2", d.PaidAmount, d.State, len(d.Payments))
	}
}
