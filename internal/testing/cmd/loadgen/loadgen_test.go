package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/payrecon/reconciler/internal/stripe"
)

func TestTheEventIsOneTheServiceRecordsAsAPayment(t *testing.T) {
	e := newEvent("binv_e_0000001", poolAmount)
	body := e.body(time.Now())
	for _, h := range eventParts.holes {
		if strings.Contains(string(body), "{"+h+"}") {
			t.Fatalf("placeholder %s was left: %s", h, body)
		}
	}
	if len(eventParts.holes) < 7 {
		t.Fatalf("the template has %d placeholders: %v", len(eventParts.holes), eventParts.holes)
	}
	if n := len(body); n < 1400 || n > 1700 {
		t.Errorf("body is %d bytes, want about 1.5 KB", n)
	}
	ev, err := stripe.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != e.id || ev.Kind != stripe.KindPayment || ev.Payment == nil {
		t.Fatalf("decoded %+v", ev)
	}
	p := ev.Payment
	if p.ProviderRef != e.paymentIntent || p.InvoiceID != e.invoiceID || p.Amount != poolAmount || p.Currency != "usd" || p.StripeInvoiceID != "" {
		t.Fatalf("payment %+v", p)
	}
}

func TestTheSignatureIsOneTheServiceAccepts(t *testing.T) {
	s := signer{secret: "whsec_bench"}
	body := newEvent("binv_i_0000001", poolAmount).body(time.Now())
	if err := webhook.ValidatePayload(body, s.header(body, time.Now()), s.secret); err != nil {
		t.Fatal(err)
	}
}

// TestScaleInvoicesAgreeWithTheirRows recomputes each kind of seeded
// invoice as invoice_truth does.
func TestScaleInvoicesAgreeWithTheirRows(t *testing.T) {
	states := map[string]int{}
	for i := 1; i <= 40; i++ {
		inv := makeScaleInvoice(i)
		var paid int64
		if !inv.paymentsDeleted {
			for k := range 3 {
				paid += inv.payments[k] - inv.refunded[k]
			}
		}
		wo := int64(0)
		if inv.hasWriteOff {
			wo = max(0, inv.amount-paid) // the write-off booked the whole balance
		}
		state := "partial"
		switch {
		case paid >= inv.amount:
			state = "paid"
		case wo > 0:
			state = "written_off"
		case paid <= 0:
			state = "open"
		}
		if inv.paid != paid || inv.writtenOff != wo || inv.state != state {
			t.Fatalf("invoice %d: stored %d/%d/%s, rows say %d/%d/%s", i, inv.paid, inv.writtenOff, inv.state, paid, wo, state)
		}
		if time.Since(inv.updated) < 12*time.Hour {
			t.Errorf("invoice %d updated %v ago: an incremental run would see it", i, time.Since(inv.updated))
		}
		states[state]++
	}
	if len(states) != 4 {
		t.Errorf("states %v: want paid, partial, written_off and open", states)
	}
}

func TestPercentileIsTheNearestRank(t *testing.T) {
	var l latencies
	for i := 100; i >= 1; i-- {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	if p := l.percentile(0.5); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := l.percentile(0.99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
}
