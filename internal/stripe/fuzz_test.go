package stripe

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDecode checks that no body, however hostile, panics Decode or yields an
// Event the ledger could misapply.
func FuzzDecode(f *testing.F) {
	for _, b := range allTestdata(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"id":"evt_1","object":"event","type":"charge.refunded","data":{"object":{"object":"charge","payment_intent":{"id":"pi_1"},"amount":5,"amount_refunded":5,"currency":"USD"}}}`))
	f.Add([]byte(`{"id":"evt_1","object":"event","type":"invoice.paid","data":{"object":{"object":"invoice","id":"in_1","amount_paid":1,"currency":"eur","metadata":{"invoice_id":1}}}}`))

	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := Decode(payload)
		// What the webhook stores on must agree with what the worker reads:
		// the same event, refused as not one in the same cases.
		env, envErr := DecodeEnvelope(payload)
		if errors.Is(err, ErrNotEvent) != (envErr != nil) {
			t.Fatalf("Decode: %v; DecodeEnvelope: %v", err, envErr)
		}
		if envErr == nil && (env.ID != ev.ID || env.Type != ev.Type || !env.Created.Equal(ev.Created) || env.Livemode != ev.Livemode) {
			t.Fatalf("envelope %+v, Decode %+v", env, ev)
		}
		if err != nil {
			if ev.Payment != nil || ev.Refund != nil {
				t.Fatalf("error %v returned with a payment or refund: %+v", err, ev)
			}
			return
		}
		if !strings.HasPrefix(ev.ID, "evt_") {
			t.Fatalf("ID = %q, want evt_ prefix", ev.ID)
		}
		switch ev.Kind {
		case KindIgnored:
			if ev.Payment != nil || ev.Refund != nil {
				t.Fatalf("ignored event has payment or refund: %+v", ev)
			}
		case KindPayment:
			p := ev.Payment
			if p == nil || ev.Refund != nil {
				t.Fatalf("payment event has Payment %v, Refund %v", p, ev.Refund)
			}
			if p.Amount <= 0 || p.ProviderRef == "" || !isCurrency(p.Currency) {
				t.Fatalf("bad payment %+v", p)
			}
		case KindRefund:
			r := ev.Refund
			if (r == nil && len(ev.Refunds) == 0) || ev.Payment != nil {
				t.Fatalf("refund event has Refund %v, Refunds %v, Payment %v", r, ev.Refunds, ev.Payment)
			}
			if r != nil && (r.Amount <= 0 || r.AmountRefunded < 0 || r.AmountRefunded > r.Amount || r.ProviderRef == "" || !isCurrency(r.Currency)) {
				t.Fatalf("bad refund %+v", r)
			}
			for _, x := range ev.Refunds {
				if x.ID == "" || x.Amount < 0 || (x.Charge == "" && x.PaymentIntent == "") || !isCurrency(x.Currency) {
					t.Fatalf("bad refund %+v", x)
				}
			}
		case KindDispute:
			d := ev.Dispute
			if d == nil || d.ID == "" || d.Amount < 0 || (d.Charge == "" && d.PaymentIntent == "") || !isCurrency(d.Currency) {
				t.Fatalf("bad dispute %+v", d)
			}
		case KindPaymentFailed:
			if ev.Failure == nil || len(ev.Refs.IDs()) == 0 {
				t.Fatalf("failure %+v with refs %+v", ev.Failure, ev.Refs)
			}
		default:
			t.Fatalf("unknown Kind %d", ev.Kind)
		}
	})
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
