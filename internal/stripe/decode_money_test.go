package stripe

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeMovementIDs holds every handled shape to the ids of its money
// movement: what lets the ledger know two events, whichever ids each
// carries, are one payment.
func TestDecodeMovementIDs(t *testing.T) {
	tests := []struct {
		name string
		file string
		want Refs
	}{
		{"a PaymentIntent names its charge and, before 2025-03-31, its invoice", "payment_intent.succeeded.json",
			Refs{PaymentIntent: "pi_3OrTestPaySucc01", Charge: "ch_3OrTestPaySucc01", Invoice: "in_1OrTestInvoice01"}},
		{"a checkout session names itself and its PaymentIntent", "checkout.session.completed.json",
			Refs{PaymentIntent: "pi_3OrTestCheckout01", CheckoutSession: "cs_test_a1OrTestCheckoutPaid01"}},
		{"a 2023-10-16 invoice names its PaymentIntent and charge", "invoice.paid.json",
			Refs{PaymentIntent: "pi_3OrTestInvoice02", Charge: "ch_3OrTestInvoice02", Invoice: "in_1OrTestInvoice02"}},
		{"a 2025-03-31 invoice names only itself", "invoice.paid.api-2025-03-31.json",
			Refs{Invoice: "in_1OrTestInvoice03"}},
		{"an invoice payment links the invoice to its PaymentIntent", "invoice_payment.paid.json",
			Refs{PaymentIntent: "pi_3OrTestInvPay01", Invoice: "in_1OrTestInvoice03", InvoicePayment: "inpay_1OrTestInvPay01"}},
		{"a refunded charge names itself and its PaymentIntent", "charge.refunded.json",
			Refs{PaymentIntent: "pi_3OrTestRefund01", Charge: "ch_3OrTestRefund01"}},
		{"a refund names its charge and PaymentIntent", "refund.failed.json",
			Refs{PaymentIntent: "pi_3OrTestRefund01", Charge: "ch_3OrTestRefund01"}},
		{"a dispute names its charge and PaymentIntent", "charge.dispute.created.json",
			Refs{PaymentIntent: "pi_3OrTestDispute01", Charge: "ch_3OrTestDispute01"}},
		{"a failed invoice payment names the invoice, its PaymentIntent and charge", "invoice.payment_failed.json",
			Refs{PaymentIntent: "pi_3OrTestInvoice04", Charge: "ch_3OrTestInvoice04", Invoice: "in_1OrTestInvoice04"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Refs != tt.want {
				t.Fatalf("Refs = %+v, want %+v", got.Refs, tt.want)
			}
		})
	}
}

// TestDecodeMoneyEvents decodes Stripe's own example objects (stripe-mock's
// fixtures, see testdata/README.md) of every event that moves money, or
// says it failed to.
func TestDecodeMoneyEvents(t *testing.T) {
	refund := func(id, status string, amount int64) RefundObject {
		return RefundObject{ID: id, Charge: "ch_3OrTestRefund01", PaymentIntent: "pi_3OrTestRefund01", Amount: amount,
			Currency: "usd", Status: status}
	}
	failedRefund := refund("re_3OrTestRefund02", "failed", 500)
	failedRefund.FailureReason = "expired_or_canceled_card"
	dispute := func(status string, withdrawn, reinstated bool) *Dispute {
		return &Dispute{ID: "dp_1OrTestDispute01", Charge: "ch_3OrTestDispute01", PaymentIntent: "pi_3OrTestDispute01",
			Amount: 2000, Currency: "usd", Status: status, Withdrawn: withdrawn, Reinstated: reinstated}
	}
	tests := []struct {
		name string
		file string
		want Event
	}{
		{name: "an async checkout payment that succeeds is a payment", file: "checkout.session.async_payment_succeeded.json",
			want: Event{Kind: KindPayment, Payment: &Payment{ProviderRef: "pi_3OrTestCheckout03", InvoiceID: "inv_test_1", Amount: 2000, Currency: "usd"}}},
		{name: "a 2025-03-31 invoice.paid is a payment of the invoice, by its own id", file: "invoice.paid.api-2025-03-31.json",
			want: Event{Kind: KindPayment, Payment: &Payment{ProviderRef: "in_1OrTestInvoice03", InvoiceID: "inv_test_1",
				StripeInvoiceID: "in_1OrTestInvoice03", Amount: 3000, Currency: "usd"}}},
		{name: "invoice_payment.paid is a payment of the Stripe invoice by its PaymentIntent", file: "invoice_payment.paid.json",
			want: Event{Kind: KindPayment, Payment: &Payment{ProviderRef: "pi_3OrTestInvPay01", StripeInvoiceID: "in_1OrTestInvoice03",
				Amount: 3000, Currency: "usd"}}},
		{name: "charge.refunded with its refunds listed gives the total and each refund", file: "charge.refunded.with-refunds.json",
			want: Event{Kind: KindRefund,
				Refund:  &Refund{ProviderRef: "pi_3OrTestRefund01", AmountRefunded: 800, Amount: 2000, Currency: "usd", InvoiceID: "inv_test_1"},
				Refunds: []RefundObject{refund("re_3OrTestRefund02", "succeeded", 500), refund("re_3OrTestRefund07", "pending", 300)}}},
		{name: "refund.created is a pending refund known by id", file: "refund.created.json",
			want: Event{Kind: KindRefund, Refunds: []RefundObject{refund("re_3OrTestRefund02", "pending", 500)}}},
		{name: "refund.updated is the refund's new status", file: "refund.updated.json",
			want: Event{Kind: KindRefund, Refunds: []RefundObject{refund("re_3OrTestRefund02", "succeeded", 500)}}},
		{name: "refund.failed is a refund that gives its money back", file: "refund.failed.json",
			want: Event{Kind: KindRefund, Refunds: []RefundObject{failedRefund}}},
		{name: "charge.refund.updated to failed is the same", file: "charge.refund.updated.json",
			want: Event{Kind: KindRefund, Refunds: []RefundObject{failedRefund}}},
		{name: "a chargeback opens with its amount", file: "charge.dispute.created.json",
			want: Event{Kind: KindDispute, Dispute: dispute("needs_response", false, false)}},
		{name: "funds_withdrawn says the money left", file: "charge.dispute.funds_withdrawn.json",
			want: Event{Kind: KindDispute, Dispute: dispute("needs_response", true, false)}},
		{name: "an update carries the furthest status", file: "charge.dispute.updated.json",
			want: Event{Kind: KindDispute, Dispute: dispute("under_review", true, false)}},
		{name: "funds_reinstated of a won dispute says the money came back", file: "charge.dispute.funds_reinstated.json",
			want: Event{Kind: KindDispute, Dispute: dispute("won", true, true)}},
		{name: "a lost dispute closes with the money withdrawn", file: "charge.dispute.closed.json",
			want: Event{Kind: KindDispute, Dispute: dispute("lost", true, false)}},
		{name: "an inquiry withdraws nothing", file: "charge.dispute.created.inquiry.json",
			want: Event{Kind: KindDispute, Dispute: &Dispute{ID: "du_1OrTestInquiry01", Charge: "ch_3OrTestDispute01",
				PaymentIntent: "pi_3OrTestDispute01", Amount: 2000, Currency: "usd", Status: "warning_needs_response"}}},
		{name: "a failed PaymentIntent is a failure with Stripe's reason", file: "payment_intent.payment_failed.json",
			want: Event{Kind: KindPaymentFailed, Failure: &Failure{InvoiceID: "inv_test_1", Amount: 2000, Currency: "usd",
				Reason: "Your card has insufficient funds."}}},
		{name: "a failed async checkout payment names the client reference", file: "checkout.session.async_payment_failed.json",
			want: Event{Kind: KindPaymentFailed, Failure: &Failure{InvoiceID: "inv_test_1", Amount: 2000, Currency: "usd",
				Reason: "the delayed payment of the checkout session failed"}}},
		{name: "a failed invoice payment names the Stripe invoice", file: "invoice.payment_failed.json",
			want: Event{Kind: KindPaymentFailed, Failure: &Failure{InvoiceID: "inv_test_1", StripeInvoiceID: "in_1OrTestInvoice04",
				Amount: 1000, Currency: "usd"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Kind != tt.want.Kind || got.IgnoreReason != "" {
				t.Errorf("Kind, IgnoreReason = %v, %q; want %v", got.Kind, got.IgnoreReason, tt.want.Kind)
			}
			for _, c := range []struct {
				field     string
				got, want any
			}{
				{"Payment", got.Payment, tt.want.Payment}, {"Refund", got.Refund, tt.want.Refund},
				{"Refunds", got.Refunds, tt.want.Refunds}, {"Dispute", got.Dispute, tt.want.Dispute},
				{"Failure", got.Failure, tt.want.Failure},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s = %+v, want %+v", c.field, c.got, c.want)
				}
			}
		})
	}
}

// TestDecodeMoneyVariants covers shapes of the money events the testdata
// files do not, each as a one-field edit of one.
func TestDecodeMoneyVariants(t *testing.T) {
	t.Run("an invoice payment by charge is named by the charge too", func(t *testing.T) {
		got, err := Decode(mutated(t, "invoice_payment.paid.json", func(_, o map[string]any) {
			o["payment"] = map[string]any{"type": "charge", "charge": "ch_legacy"}
		}))
		if err != nil {
			t.Fatal(err)
		}
		want := Refs{Charge: "ch_legacy", Invoice: "in_1OrTestInvoice03", InvoicePayment: "inpay_1OrTestInvPay01"}
		if got.Refs != want || got.Payment.ProviderRef != "in_1OrTestInvoice03" {
			t.Fatalf("Refs %+v, ProviderRef %q; want %+v and the invoice", got.Refs, got.Payment.ProviderRef, want)
		}
	})
	t.Run("an invoice payment with nothing paid is ignored", func(t *testing.T) {
		got, err := Decode(mutated(t, "invoice_payment.paid.json", func(_, o map[string]any) { o["amount_paid"] = nil }))
		if err != nil || got.Kind != KindIgnored || got.IgnoreReason != "nothing paid" {
			t.Fatalf("got %+v, %v; want ignored, nothing paid", got, err)
		}
	})
	t.Run("a dispute with balance transactions as ids says nothing of the money", func(t *testing.T) {
		got, err := Decode(mutated(t, "charge.dispute.updated.json", func(_, o map[string]any) {
			o["balance_transactions"] = []any{"txn_1", "txn_2"}
		}))
		if err != nil || got.Dispute.Withdrawn || got.Dispute.Reinstated {
			t.Fatalf("got %+v, %v; want neither withdrawn nor reinstated", got.Dispute, err)
		}
	})
	t.Run("a refund listed without its charge is the listing charge's", func(t *testing.T) {
		got, err := Decode(mutated(t, "charge.refunded.with-refunds.json", func(_, o map[string]any) {
			for _, r := range o["refunds"].(map[string]any)["data"].([]any) {
				r.(map[string]any)["charge"], r.(map[string]any)["payment_intent"] = nil, nil
			}
		}))
		if err != nil || got.Refunds[0].Charge != "ch_3OrTestRefund01" {
			t.Fatalf("got %+v, %v", got.Refunds, err)
		}
	})
}

func TestDecodeMoneyErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		wantMsg string
	}{
		{"a refund with an unknown status is malformed",
			mutated(t, "refund.failed.json", func(_, o map[string]any) { o["status"] = "lost" }), "data.object.status"},
		{"a refund of nothing the ledger knows is malformed",
			mutated(t, "refund.created.json", func(_, o map[string]any) { o["charge"], o["payment_intent"] = nil, nil }), "charge"},
		{"a refund with a negative amount is malformed",
			mutated(t, "refund.updated.json", func(_, o map[string]any) { o["amount"] = -1 }), "data.object.amount"},
		{"a listed refund that is not a refund is malformed",
			mutated(t, "charge.refunded.with-refunds.json", func(_, o map[string]any) {
				o["refunds"].(map[string]any)["data"].([]any)[1].(map[string]any)["object"] = "charge"
			}), "data.object.refunds.data[1].object"},
		{"a dispute with an unknown status is malformed",
			mutated(t, "charge.dispute.closed.json", func(_, o map[string]any) { o["status"] = "charge_refunded" }), "data.object.status"},
		{"a dispute of no charge is malformed",
			mutated(t, "charge.dispute.created.json", func(_, o map[string]any) { o["charge"], o["payment_intent"] = nil, nil }), "charge"},
		{"a dispute event carrying a charge is malformed",
			mutated(t, "charge.dispute.created.json", func(_, o map[string]any) { o["object"] = "charge" }), "data.object.object"},
		{"an invoice payment without its invoice is malformed",
			mutated(t, "invoice_payment.paid.json", func(_, o map[string]any) { o["invoice"] = nil }), "data.object.invoice"},
		{"an invoice payment with a bad currency is malformed",
			mutated(t, "invoice_payment.paid.json", func(_, o map[string]any) { o["currency"] = "currency" }), "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.payload)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want ErrMalformed naming %q", err, tt.wantMsg)
			}
			if got.Kind != KindIgnored || got.Refunds != nil || got.Dispute != nil || got.Failure != nil || got.Refs != (Refs{}) {
				t.Errorf("got %+v next to an error, want nothing", got)
			}
		})
	}
}
