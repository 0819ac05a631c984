package stripe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/internal/testing/stripefake"
	"github.com/payrecon/reconciler/internal/testing/testenv"
)

func TestGetPaymentReadsOnePaymentIntent(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)
	at := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	f.AddPaymentIntent(stripefake.PaymentIntent{ID: "pi_one", Amount: 5000, Currency: "eur", Created: at,
		Metadata: map[string]string{"invoice_id": "inv_1"}, Invoice: "in_1",
		Charge: &stripefake.Charge{ID: "ch_one", Refunds: []stripefake.Refund{
			{Amount: 700}, {Amount: 300, Status: "failed"}, {Amount: 200, Status: "pending"}}}})
	f.AddDispute(
		stripefake.Dispute{ID: "dp_open", Amount: 1000, Currency: "eur", Charge: "ch_one", PaymentIntent: "pi_one", Created: at},
		stripefake.Dispute{ID: "dp_won", Amount: 400, Currency: "eur", Charge: "ch_one", PaymentIntent: "pi_one", Status: "won", Created: at},
		stripefake.Dispute{ID: "dp_other", Amount: 900, Currency: "eur", Charge: "ch_x", PaymentIntent: "pi_other", Created: at},
	)
	l := stripe.NewPaymentLister(stripefake.APIKey, f.URL())

	t.Run("a PaymentIntent Stripe has is read with its refunds and disputes", func(t *testing.T) {
		got, found, err := l.GetPayment(context.Background(), "pi_one")
		must(t, err)
		want := stripe.PaymentRecord{PaymentIntent: "pi_one", ChargeID: "ch_one", InvoiceID: "inv_1", StripeInvoiceID: "in_1",
			Currency: "eur", Status: "succeeded", Amount: 5000, Refunded: 900, Disputed: 1000, Created: at}
		if !found || got != want {
			t.Fatalf("got %+v (found %v), want %+v", got, found, want)
		}
	})
	t.Run("one Stripe does not know is not found, and no error", func(t *testing.T) {
		got, found, err := l.GetPayment(context.Background(), "pi_nowhere")
		if err != nil || found {
			t.Fatalf("got %+v, found %v, err %v", got, found, err)
		}
	})
	t.Run("an id that is no PaymentIntent's is refused before asking", func(t *testing.T) {
		before := len(f.Requests())
		if _, _, err := l.GetPayment(context.Background(), "../disputes"); err == nil {
			t.Fatal("no error")
		}
		if len(f.Requests()) != before {
			t.Fatal("Stripe was asked")
		}
	})
}

func TestSucceededEventDecodesAsThePayment(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	rec := stripe.PaymentRecord{PaymentIntent: "pi_pulled", ChargeID: "ch_pulled", InvoiceID: "inv_7", StripeInvoiceID: "in_7",
		Currency: "usd", Status: "succeeded", Amount: 4200, Created: at}
	e, err := stripe.SucceededEvent(rec)
	must(t, err)
	if e.ID != "evt_pull_pi_pulled" || e.Type != "payment_intent.succeeded" || !e.Created.Equal(at) || !e.Handled {
		t.Fatalf("event %+v", e)
	}
	d, err := stripe.Decode(e.Raw)
	must(t, err)
	if d.Kind != stripe.KindPayment || d.Payment.ProviderRef != "pi_pulled" || d.Payment.InvoiceID != "inv_7" ||
		d.Payment.StripeInvoiceID != "in_7" || d.Payment.Amount != 4200 || d.Payment.Currency != "usd" || !d.Created.Equal(at) {
		t.Fatalf("decoded %+v, payment %+v", d, d.Payment)
	}
	again, err := stripe.SucceededEvent(rec)
	must(t, err)
	if again.ID != e.ID || string(again.Raw) != string(e.Raw) {
		t.Fatal("the same PaymentIntent made another event")
	}
	for _, bad := range []stripe.PaymentRecord{
		{PaymentIntent: "pi_x", Status: "processing", Amount: 100, Currency: "usd"},
		{PaymentIntent: "pi_x", Status: "succeeded", Amount: 0, Currency: "usd"},
		{PaymentIntent: "cs_x", Status: "succeeded", Amount: 100, Currency: "usd"},
	} {
		if _, err := stripe.SucceededEvent(bad); err == nil || !strings.Contains(err.Error(), "no succeeded payment") {
			t.Errorf("%+v: err %v", bad, err)
		}
	}
}

// stripe-mock proves the wiring of one PaymentIntent's read: the path, the
// expansions its OpenAPI spec accepts, and that Stripe's example decodes.
func TestGetPaymentAgainstStripeMock(t *testing.T) {
	t.Parallel()
	base := testenv.StripeMock(t)
	got, found, err := stripe.NewPaymentLister("sk_test_123", base).GetPayment(context.Background(), "pi_wired")
	must(t, err)
	if !found || got.PaymentIntent != "pi_wired" || got.Currency != "usd" || got.Status == "" || got.Created.IsZero() {
		t.Fatalf("read %+v (found %v)", got, found)
	}
}
