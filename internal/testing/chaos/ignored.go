package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// ignoredTypes are Stripe event types the service does not act on: the
// contract says such an event is answered 200, stored, and marked ignored.
// Stripe sends many of them to an account's endpoint (every customer or
// product change); they must neither be refused nor crowd out payments.
var ignoredTypes = []string{"customer.created", "customer.updated", "product.created", "product.updated",
	"price.created", "price.updated", "payout.paid", "balance.available"}

// newIgnoredEvent makes a signed-to-be event of a type the service ignores,
// with an id of its own and the canary in its metadata.
func (d *driver) newIgnoredEvent() *stripeEvent {
	n := d.seq.Add(1)
	id := fmt.Sprintf("evt_chaos%s_%d", d.run, n)
	typ := ignoredTypes[rand.IntN(len(ignoredTypes))]
	meta := map[string]any{"note": d.canary}
	var obj map[string]any
	switch typ {
	case "customer.created", "customer.updated":
		obj = map[string]any{"id": fmt.Sprintf("cus_chaos%s_%d", d.run, n%97), "object": "customer",
			"email": fmt.Sprintf("client-%d@example.com", n%17), "livemode": false, "metadata": meta}
	case "product.created", "product.updated":
		obj = map[string]any{"id": fmt.Sprintf("prod_chaos%s_%d", d.run, n%31), "object": "product",
			"name": "Consulting hour", "active": true, "livemode": false, "metadata": meta}
	case "price.created", "price.updated":
		obj = map[string]any{"id": fmt.Sprintf("price_chaos%s_%d", d.run, n%31), "object": "price",
			"product": fmt.Sprintf("prod_chaos%s_%d", d.run, n%31), "unit_amount": 1000 + rand.IntN(9000),
			"currency": "usd", "livemode": false, "metadata": meta}
	case "payout.paid":
		obj = map[string]any{"id": fmt.Sprintf("po_chaos%s_%d", d.run, n), "object": "payout",
			"amount": 10000 + rand.IntN(900000), "currency": "usd", "status": "paid", "livemode": false, "metadata": meta}
	default: // balance.available
		obj = map[string]any{"object": "balance", "livemode": false,
			"available": []map[string]any{{"amount": rand.IntN(1000000), "currency": "usd"}}}
	}
	return &stripeEvent{id: id, typ: typ, planned: int32(1 + rand.IntN(10)), body: eventJSON(id, typ, time.Now(), obj)}
}

// queueIgnored hands n events of ignored types to the senders.
func (d *driver) queueIgnored(n int) {
	now := time.Now()
	for range n {
		ev := d.newIgnoredEvent()
		d.mu.Lock()
		d.ignored = append(d.ignored, ev)
		d.mu.Unlock()
		d.pool.add(ev, now.Add(time.Duration(rand.IntN(1000))*time.Millisecond))
	}
}

// checkIgnored holds every acknowledged event of an ignored type to the
// contract: stored, and marked ignored.
func (d *driver) checkIgnored(l *ledger, rep *Report) {
	for _, ev := range d.ignored {
		if ev.sent.Load() == 0 {
			continue
		}
		rep.IgnoredSent++
		if !ev.acked.Load() {
			rep.IgnoredUnacked++
			d.evidence("event %s (%s) never answered 200 in %d deliveries", ev.id, ev.typ, ev.sent.Load())
			continue
		}
		rep.IgnoredAcked++
		switch status, stored := l.events[ev.id]; {
		case !stored:
			rep.Lost++
			d.evidence("event %s (%s) answered 200 but not in the inbox", ev.id, ev.typ)
		case status == "ignored":
			rep.IgnoredStored++
		default:
			rep.IgnoredWrongStatus++
			d.evidence("event %s (%s) is %s, want ignored", ev.id, ev.typ, status)
		}
	}
}
