package chaos

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// paymentIntent is one online payment as the suite announced it: the
// invoice it pays, its amount, and the events that tell of it.
type paymentIntent struct {
	id      string
	invoice string
	amount  int64
	events  []*stripeEvent
}

// stripeEvent is one signed Stripe event and what became of its deliveries.
type stripeEvent struct {
	id      string
	typ     string
	pi      *paymentIntent // nil for an event of a type the service ignores
	refund  int64          // charge.refunded: the cumulative amount_refunded
	body    []byte
	planned int32 // deliveries planned, 1 to 10; un-acked ones go on

	sent    atomic.Int32
	acked   atomic.Bool
	ackedAt atomic.Int64 // first 200, in Unix nanoseconds
}

// isRefund tells a charge.refunded from the events that announce payments.
func (e *stripeEvent) isRefund() bool { return e.typ == "charge.refunded" }

// eventJSON is a Stripe event envelope around obj, shaped as Stripe sends
// it (api_version, request, pending_webhooks), not only what the service
// reads.
func eventJSON(id, typ string, created time.Time, obj map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": "2023-10-16", "created": created.Unix(),
		"livemode": false, "pending_webhooks": 1, "type": typ,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
		"data":    map[string]any{"object": obj},
	})
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return b
}

// newEvent makes event seq of a payment intent; canary goes into its
// metadata, where only a log that prints bodies would show it.
func (d *driver) newEvent(pi *paymentIntent, typ string, refund int64) *stripeEvent {
	id := fmt.Sprintf("evt_chaos%s_%d", d.run, d.seq.Add(1))
	var obj map[string]any
	switch typ {
	case "payment_intent.succeeded":
		obj = map[string]any{"id": pi.id, "object": "payment_intent", "amount": pi.amount, "amount_received": pi.amount,
			"currency": "usd", "status": "succeeded", "livemode": false,
			"metadata": map[string]any{"invoice_id": pi.invoice, "order_note": d.canary}}
	case "checkout.session.completed":
		obj = map[string]any{"id": "cs_" + pi.id, "object": "checkout.session", "payment_intent": pi.id,
			"payment_status": "paid", "status": "complete", "mode": "payment", "amount_total": pi.amount,
			"currency": "usd", "client_reference_id": pi.invoice, "metadata": map[string]any{"order_note": d.canary}}
	case "charge.refunded":
		obj = map[string]any{"id": "ch_" + pi.id, "object": "charge", "payment_intent": pi.id, "amount": pi.amount,
			"amount_captured": pi.amount, "amount_refunded": refund, "refunded": refund == pi.amount, "currency": "usd",
			"paid": true, "metadata": map[string]any{"invoice_id": pi.invoice, "order_note": d.canary}}
	}
	ev := &stripeEvent{id: id, typ: typ, pi: pi, refund: refund, planned: int32(1 + rand.IntN(10)),
		body: eventJSON(id, typ, time.Now(), obj)}
	pi.events = append(pi.events, ev)
	return ev
}

// paymentEvents announces the payment intents of an invoice of amount: one
// to three payments, each by payment_intent.succeeded, by its checkout
// session, or both, and for some one or two cumulative refunds.
func (d *driver) paymentEvents(invoice string, amount int64) []*paymentIntent {
	n := 1 + rand.IntN(3)
	if rand.IntN(3) > 0 {
		n = 1
	}
	var pis []*paymentIntent
	for range n {
		a := amount / int64(n)
		if rand.IntN(3) == 0 {
			a = 1 + rand.Int64N(a) // a partial payment
		}
		pi := &paymentIntent{id: fmt.Sprintf("pi_chaos%s_%d", d.run, d.seq.Add(1)), invoice: invoice, amount: a}
		switch r := rand.IntN(10); {
		case r < 5:
			d.newEvent(pi, "payment_intent.succeeded", 0)
		case r < 7:
			d.newEvent(pi, "checkout.session.completed", 0)
		default:
			d.newEvent(pi, "payment_intent.succeeded", 0)
			d.newEvent(pi, "checkout.session.completed", 0)
		}
		if rand.IntN(10) < 4 {
			first := 1 + rand.Int64N(a)
			d.newEvent(pi, "charge.refunded", first)
			if rand.IntN(2) == 0 && first < a {
				d.newEvent(pi, "charge.refunded", first+1+rand.Int64N(a-first))
			}
		}
		pis = append(pis, pi)
	}
	return pis
}

// queue hands an invoice's events to the senders. Some refunds go out well
// before the payment they refund, as Stripe may deliver them.
func (d *driver) queue(pis []*paymentIntent) {
	now := time.Now()
	refundFirst := rand.IntN(3) == 0
	for _, pi := range pis {
		d.mu.Lock()
		d.intents = append(d.intents, pi)
		d.mu.Unlock()
		for _, ev := range pi.events {
			at := now.Add(time.Duration(rand.IntN(300)) * time.Millisecond)
			if refundFirst && !ev.isRefund() {
				at = at.Add(500*time.Millisecond + time.Duration(rand.IntN(1000))*time.Millisecond)
			}
			d.pool.add(ev, at)
		}
	}
}

// pool holds the deliveries still to make. Senders take a random one that is
// due, so events and their duplicates go out shuffled.
type pool struct {
	mu       sync.Mutex
	items    []delivery
	inflight int
}

type delivery struct {
	ev *stripeEvent
	at time.Time // not before
}

func (p *pool) add(ev *stripeEvent, at time.Time) {
	p.mu.Lock()
	p.items = append(p.items, delivery{ev, at})
	p.mu.Unlock()
}

// take removes a random due delivery; false when none is due.
func (p *pool) take(now time.Time) (*stripeEvent, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range min(len(p.items), 16) {
		i := rand.IntN(len(p.items))
		if d := p.items[i]; !d.at.After(now) {
			last := len(p.items) - 1
			p.items[i] = p.items[last]
			p.items = p.items[:last]
			p.inflight++
			return d.ev, true
		}
	}
	return nil, false
}

// done ends a delivery taken with take, queueing ev again for its next
// delivery, if it has one.
func (p *pool) done(ev *stripeEvent, next time.Time, again bool) {
	p.mu.Lock()
	p.inflight--
	if again {
		p.items = append(p.items, delivery{ev, next})
	}
	p.mu.Unlock()
}

// pending counts the deliveries queued or in flight.
func (p *pool) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items) + p.inflight
}

// send delivers events until ctx ends: each planned delivery once, and an
// event not yet answered 200 again and again, like Stripe.
func (d *driver) send(ctx context.Context) {
	for ctx.Err() == nil {
		ev, ok := d.pool.take(time.Now())
		if !ok {
			sleep(ctx, 10*time.Millisecond)
			continue
		}
		began := time.Now()
		status, err := d.post(ctx, ev)
		if ctx.Err() == nil { // not a delivery cut short by the end of the run
			d.observeAnswer(ev, began, status, err)
		}
		n := ev.sent.Add(1)
		d.stats.deliveries.Add(1)
		if err == nil && status == http.StatusOK {
			ev.ackedAt.CompareAndSwap(0, time.Now().UnixNano())
			ev.acked.Store(true)
		} else {
			d.stats.webhookNon200.Add(1)
			if err == nil && status < 500 {
				d.stats.webhook4xx.Add(1)
				d.evidence("webhook %s answered %d", ev.id, status)
			}
		}
		switch {
		case n < ev.planned:
			d.pool.done(ev, time.Now().Add(time.Duration(rand.IntN(1500))*time.Millisecond), true)
		case !ev.acked.Load():
			d.pool.done(ev, time.Now().Add(200*time.Millisecond+time.Duration(rand.IntN(800))*time.Millisecond), true)
		default:
			d.pool.done(ev, time.Time{}, false)
		}
	}
}

// post signs ev now, as Stripe does at each attempt, and posts it to one of
// the web processes.
func (d *driver) post(ctx context.Context, ev *stripeEvent) (int, error) {
	base := d.c.webURL[rand.IntN(len(d.c.webURL))]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/stripe", bytes.NewReader(ev.body))
	if err != nil {
		return 0, err
	}
	now := time.Now()
	sig := webhook.ComputeSignature(now, ev.body, d.c.secret)
	req.Header.Set("Stripe-Signature", fmt.Sprintf("t=%d,v1=%s", now.Unix(), hex.EncodeToString(sig)))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sleep waits for dur or until ctx ends.
func sleep(ctx context.Context, dur time.Duration) {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
