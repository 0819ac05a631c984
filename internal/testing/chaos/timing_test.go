package chaos

import (
	"testing"
	"time"
)

func TestLastPaymentAck(t *testing.T) {
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(typ string, ackedAfter time.Duration) *stripeEvent {
		e := &stripeEvent{typ: typ}
		if ackedAfter >= 0 {
			e.ackedAt.Store(base.Add(ackedAfter).UnixNano())
		}
		return e
	}
	pi := func(events ...*stripeEvent) *paymentIntent { return &paymentIntent{events: events} }
	const never = -1
	tests := []struct {
		name string
		pis  []*paymentIntent
		want time.Duration // after base; never for no measure
	}{
		{"one payment is measured from its first 200",
			[]*paymentIntent{pi(ev("payment_intent.succeeded", 3*time.Second))}, 3 * time.Second},
		{"a payment announced twice counts from the earlier 200",
			[]*paymentIntent{pi(ev("payment_intent.succeeded", 5*time.Second), ev("checkout.session.completed", 2*time.Second))}, 2 * time.Second},
		{"of several payments the last to be acknowledged completes the invoice",
			[]*paymentIntent{pi(ev("payment_intent.succeeded", time.Second)), pi(ev("checkout.session.completed", 7*time.Second))}, 7 * time.Second},
		{"an event never answered 200 is not counted against its earlier twin",
			[]*paymentIntent{pi(ev("payment_intent.succeeded", never), ev("checkout.session.completed", 4*time.Second))}, 4 * time.Second},
		{"a payment never acknowledged leaves the invoice unmeasured",
			[]*paymentIntent{pi(ev("payment_intent.succeeded", time.Second)), pi(ev("payment_intent.succeeded", never))}, never},
		{"a refunded payment leaves the invoice unmeasured",
			[]*paymentIntent{pi(ev("payment_intent.succeeded", time.Second), ev("charge.refunded", 2*time.Second))}, never},
		{"an invoice without online payments is unmeasured", nil, never},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := lastPaymentAck(tt.pis)
			switch {
			case tt.want == never && ok:
				t.Errorf("measured from %s, want no measure", got)
			case tt.want != never && !ok:
				t.Errorf("no measure, want from %s", base.Add(tt.want))
			case tt.want != never && !got.Equal(base.Add(tt.want)):
				t.Errorf("measured from %s, want %s", got, base.Add(tt.want))
			}
		})
	}
}

func TestFaultsDuring(t *testing.T) {
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	d := &driver{windows: []faultWindow{
		{fault: FaultPostgresStall, began: at(10), ended: at(25)},
		{fault: FaultWebKill, began: at(40), ended: at(41)},
		{fault: FaultRedisStall, began: at(60)}, // still going on
	}}
	tests := []struct {
		name          string
		from, to, ref time.Time
		want          string
	}{
		{"a moment between faults names none", at(30), at(35), at(30), "no fault"},
		{"a span inside a fault names it and how long before it began", at(12), at(14), at(12), "pg_stall (began 2s before)"},
		{"a span that a fault begins inside says so", at(38), at(45), at(38), "web_kill9 (began 2s after)"},
		{"a span over two faults names both", at(20), at(40), at(20), "pg_stall (began 10s before), web_kill9 (began 20s after)"},
		{"a fault still going on counts", at(70), at(71), at(70), "redis_stall (began 10s before)"},
		{"times are told relative to the reference, not the span's start", at(36), at(45), at(41), "web_kill9 (began 1s before)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.faultsDuring(tt.from, tt.to, tt.ref); got != tt.want {
				t.Errorf("faultsDuring = %q, want %q", got, tt.want)
			}
		})
	}
}
