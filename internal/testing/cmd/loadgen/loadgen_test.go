package main

import (
	"fmt"
	"math"
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

// TestDelayQuantileIsItsBucket reads the service's histogram of receipt to
// processed from /metrics text twice and names the bucket each quantile of
// what was observed in between falls in.
func TestDelayQuantileIsItsBucket(t *testing.T) {
	text := func(counts ...int) string {
		bounds := []string{"0.005", "0.01", "0.025", "+Inf"}
		var b strings.Builder
		b.WriteString("# TYPE reconciler_event_apply_delay_seconds histogram\n")
		b.WriteString(`reconciler_event_apply_delay_seconds_bucket{status="unmatched",le="0.005"} 7` + "\n")
		for i, le := range bounds {
			fmt.Fprintf(&b, "reconciler_event_apply_delay_seconds_bucket{status=\"processed\",le=%q} %d\n", le, counts[i])
		}
		b.WriteString(`reconciler_event_apply_delay_seconds_sum{status="processed"} 1.5` + "\n")
		return b.String()
	}
	before, err := parseDelayBuckets(strings.NewReader(text(10, 10, 10, 10)), processedDelay)
	if err != nil {
		t.Fatal(err)
	}
	// Since: 50 at most 5 ms, 40 in (5, 10], 9 in (10, 25], 1 above 25 ms.
	after, err := parseDelayBuckets(strings.NewReader(text(60, 100, 109, 110)), processedDelay)
	if err != nil {
		t.Fatal(err)
	}
	d := after.since(before)
	if d.total() != 100 {
		t.Fatalf("total %v, want 100", d.total())
	}
	for _, c := range []struct {
		q         float64
		low, high float64
	}{{0.50, 0, 0.005}, {0.51, 0.005, 0.01}, {0.90, 0.005, 0.01}, {0.99, 0.01, 0.025}, {1, 0.025, math.Inf(1)}} {
		if low, high, ok := d.quantile(c.q); !ok || low != c.low || high != c.high {
			t.Errorf("quantile %v: (%v, %v] %v, want (%v, %v]", c.q, low, high, ok, c.low, c.high)
		}
	}
	if got, want := delayNote("receipt to processed", processedDelay, d),
		"the service's receipt to processed (reconciler_event_apply_delay_seconds, 100 observed): p50 in (0ms, 5ms], p99 in (10ms, 25ms]"; got != want {
		t.Errorf("note %q, want %q", got, want)
	}
	if _, _, ok := (delayBuckets{}).quantile(0.5); ok {
		t.Error("quantile of an empty histogram: ok")
	}
	if _, err := parseDelayBuckets(strings.NewReader(text(1, 2, 3, 4)+string(processedDelay)+"0.001\"} 1\n"), processedDelay); err == nil {
		t.Error("bounds out of order: no error")
	}
}

// TestPollGapIsBoundedByTheBacklog: a slow poll of a few invoices is not
// followed by a long wait; a slow poll of a long backlog is, up to 20 µs an
// invoice.
func TestPollGapIsBoundedByTheBacklog(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		took time.Duration
		n    int
		want time.Duration
	}{
		{200 * time.Microsecond, 10, 2 * ms}, // a quick poll: the interval
		{107 * ms, 55, 2 * ms},               // slow, but few invoices
		{100 * ms, 50000, 500 * ms},          // a long backlog: five times the poll
		{300 * ms, 50000, 1000 * ms},         // bounded at 20 µs an invoice
	} {
		if got := pollGap(2*ms, c.took, c.n); got != c.want {
			t.Errorf("pollGap(2ms, %v, %d) = %v, want %v", c.took, c.n, got, c.want)
		}
	}
}
