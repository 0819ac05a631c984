package stripe

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecodeTestdata(t *testing.T) {
	tests := []struct {
		name string
		file string
		want Event
	}{
		{
			name: "payment_intent.succeeded becomes a payment referenced by the PaymentIntent",
			file: "payment_intent.succeeded.json",
			want: Event{
				ID: "evt_3OrTestPaySucc01", Type: "payment_intent.succeeded",
				Created: time.Unix(1709251200, 0).UTC(), Kind: KindPayment,
				Payment: &Payment{
					ProviderRef: "pi_3OrTestPaySucc01", InvoiceID: "inv_test_1",
					StripeInvoiceID: "in_1OrTestInvoice01", Amount: 2000, Currency: "usd",
				},
			},
		},
		{
			name: "an event with api_version 2024-06-20 decodes like any other",
			file: "payment_intent.succeeded.api-2024-06-20.json",
			want: Event{
				ID: "evt_3OrTestPaySucc02", Type: "payment_intent.succeeded",
				Created: time.Unix(1719000000, 0).UTC(), Kind: KindPayment,
				Payment: &Payment{
					ProviderRef: "pi_3OrTestPaySucc01", InvoiceID: "inv_test_1",
					Amount: 2000, Currency: "usd",
				},
			},
		},
		{
			name: "a paid checkout session becomes a payment with metadata winning over client_reference_id",
			file: "checkout.session.completed.json",
			want: Event{
				ID: "evt_1OrTestCheckout01", Type: "checkout.session.completed",
				Created: time.Unix(1709251300, 0).UTC(), Kind: KindPayment,
				Payment: &Payment{
					ProviderRef: "pi_3OrTestCheckout01", InvoiceID: "inv_test_1",
					Amount: 2000, Currency: "usd",
				},
			},
		},
		{
			name: "an unpaid checkout session is ignored with a reason",
			file: "checkout.session.completed.unpaid.json",
			want: Event{
				ID: "evt_1OrTestCheckout02", Type: "checkout.session.completed",
				Created: time.Unix(1709251400, 0).UTC(), Kind: KindIgnored,
				IgnoreReason: "checkout session payment_status is unpaid",
			},
		},
		{
			name: "invoice.paid becomes a payment carrying the Stripe invoice id",
			file: "invoice.paid.json",
			want: Event{
				ID: "evt_1OrTestInvoicePaid", Type: "invoice.paid",
				Created: time.Unix(1709251510, 0).UTC(), Kind: KindPayment,
				Payment: &Payment{
					ProviderRef: "pi_3OrTestInvoice02", InvoiceID: "inv_test_1",
					StripeInvoiceID: "in_1OrTestInvoice02", Amount: 1000, Currency: "usd",
				},
			},
		},
		{
			name: "charge.refunded becomes a cumulative refund of the PaymentIntent",
			file: "charge.refunded.json",
			want: Event{
				ID: "evt_3OrTestRefund01", Type: "charge.refunded",
				Created: time.Unix(1709251600, 0).UTC(), Kind: KindRefund,
				Refund: &Refund{
					ProviderRef: "pi_3OrTestRefund01", AmountRefunded: 500, Amount: 2000,
					Currency: "usd", InvoiceID: "inv_test_1",
				},
			},
		},
		{
			name: "an unhandled type is ignored without a reason",
			file: "customer.created.json",
			want: Event{
				ID: "evt_1OrTestCustomer01", Type: "customer.created",
				Created: time.Unix(1709251700, 0).UTC(), Kind: KindIgnored,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			assertEvent(t, got, tt.want)
		})
	}
}

// TestDecodeVariants covers shapes real Stripe events take that the testdata
// files do not, each as a one-field edit of a testdata file.
func TestDecodeVariants(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		edit        func(event, object map[string]any)
		wantKind    Kind
		wantPayment *Payment
		wantReason  string
		wantLive    bool
	}{
		{
			name: "an expanded payment_intent object yields its id",
			file: "checkout.session.completed.json",
			edit: func(_, o map[string]any) {
				o["payment_intent"] = map[string]any{"id": "pi_expanded", "object": "payment_intent", "amount": 2000}
			},
			wantKind:    KindPayment,
			wantPayment: &Payment{ProviderRef: "pi_expanded", InvoiceID: "inv_test_1", Amount: 2000, Currency: "usd"},
		},
		{
			name:        "a payment intent with an expanded invoice yields the invoice id",
			file:        "payment_intent.succeeded.json",
			edit:        func(_, o map[string]any) { o["invoice"] = map[string]any{"id": "in_expanded", "object": "invoice"} },
			wantKind:    KindPayment,
			wantPayment: &Payment{ProviderRef: "pi_3OrTestPaySucc01", InvoiceID: "inv_test_1", StripeInvoiceID: "in_expanded", Amount: 2000, Currency: "usd"},
		},
		{
			name:        "checkout without metadata falls back to client_reference_id",
			file:        "checkout.session.completed.json",
			edit:        func(_, o map[string]any) { o["metadata"] = map[string]any{} },
			wantKind:    KindPayment,
			wantPayment: &Payment{ProviderRef: "pi_3OrTestCheckout01", InvoiceID: "inv_client_ref_1", Amount: 2000, Currency: "usd"},
		},
		{
			name: "a subscription checkout without payment_intent is referenced by its invoice",
			file: "checkout.session.completed.json",
			edit: func(_, o map[string]any) {
				o["mode"], o["payment_intent"], o["invoice"] = "subscription", nil, "in_subscription_1"
			},
			wantKind:    KindPayment,
			wantPayment: &Payment{ProviderRef: "in_subscription_1", InvoiceID: "inv_test_1", StripeInvoiceID: "in_subscription_1", Amount: 2000, Currency: "usd"},
		},
		{
			name:        "an invoice paid out of band is referenced by its own id",
			file:        "invoice.paid.json",
			edit:        func(_, o map[string]any) { o["payment_intent"], o["paid_out_of_band"] = nil, true },
			wantKind:    KindPayment,
			wantPayment: &Payment{ProviderRef: "in_1OrTestInvoice02", InvoiceID: "inv_test_1", StripeInvoiceID: "in_1OrTestInvoice02", Amount: 1000, Currency: "usd"},
		},
		{
			name:       "an invoice with nothing paid is ignored",
			file:       "invoice.paid.json",
			edit:       func(_, o map[string]any) { o["amount_paid"] = 0 },
			wantKind:   KindIgnored,
			wantReason: "nothing paid",
		},
		{
			name:        "an upper-case currency is lower-cased",
			file:        "payment_intent.succeeded.json",
			edit:        func(_, o map[string]any) { o["currency"] = "EUR" },
			wantKind:    KindPayment,
			wantPayment: &Payment{ProviderRef: "pi_3OrTestPaySucc01", InvoiceID: "inv_test_1", StripeInvoiceID: "in_1OrTestInvoice01", Amount: 2000, Currency: "eur"},
		},
		{
			name:        "a non-string metadata invoice_id is ignored",
			file:        "payment_intent.succeeded.json",
			edit:        func(_, o map[string]any) { o["metadata"] = map[string]any{"invoice_id": 42} },
			wantKind:    KindPayment,
			wantPayment: &Payment{ProviderRef: "pi_3OrTestPaySucc01", StripeInvoiceID: "in_1OrTestInvoice01", Amount: 2000, Currency: "usd"},
		},
		{
			name:        "a metadata key differing only in case is not the invoice id",
			file:        "payment_intent.succeeded.json",
			edit:        func(_, o map[string]any) { o["metadata"] = map[string]any{"Invoice_ID": "inv_wrong"} },
			wantKind:    KindPayment,
			wantPayment: &Payment{ProviderRef: "pi_3OrTestPaySucc01", StripeInvoiceID: "in_1OrTestInvoice01", Amount: 2000, Currency: "usd"},
		},
		{
			name:       "checkout with no_payment_required is ignored with its status",
			file:       "checkout.session.completed.json",
			edit:       func(_, o map[string]any) { o["payment_status"] = "no_payment_required" },
			wantKind:   KindIgnored,
			wantReason: "checkout session payment_status is no_payment_required",
		},
		{
			name:     "a livemode event says so",
			file:     "customer.created.json",
			edit:     func(e, _ map[string]any) { e["livemode"] = true },
			wantKind: KindIgnored,
			wantLive: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(mutated(t, tt.file, tt.edit))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Kind != tt.wantKind || got.IgnoreReason != tt.wantReason {
				t.Errorf("Kind, IgnoreReason = %v, %q; want %v, %q", got.Kind, got.IgnoreReason, tt.wantKind, tt.wantReason)
			}
			if !reflect.DeepEqual(got.Payment, tt.wantPayment) {
				t.Errorf("Payment = %+v, want %+v", got.Payment, tt.wantPayment)
			}
			if got.Livemode != tt.wantLive {
				t.Errorf("Livemode = %v, want %v", got.Livemode, tt.wantLive)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		wantErr error
		wantMsg string // a fragment naming what is wrong
	}{
		{"a body that is not JSON is not an event", []byte("not json"), ErrNotEvent, "invalid character"},
		{"an empty body is not an event", nil, ErrNotEvent, "unexpected end"},
		{"a JSON array is not an event", []byte(`[{"id":"evt_1","object":"event"}]`), ErrNotEvent, "array"},
		{"JSON null is not an event", []byte(`null`), ErrNotEvent, "evt_"},
		{
			"an object without id is not an event",
			mutated(t, "customer.created.json", func(e, _ map[string]any) { delete(e, "id") }),
			ErrNotEvent, "evt_",
		},
		{
			"an id not starting with evt_ is not an event",
			mutated(t, "customer.created.json", func(e, _ map[string]any) { e["id"] = "ch_123" }),
			ErrNotEvent, `"ch_123"`,
		},
		{
			"a numeric id is not an event",
			mutated(t, "customer.created.json", func(e, _ map[string]any) { e["id"] = 12 }),
			ErrNotEvent, "id",
		},
		{
			"an object of type charge instead of event is not an event",
			mutated(t, "charge.refunded.json", func(e, _ map[string]any) { e["object"] = "charge" }),
			ErrNotEvent, `"charge"`,
		},
		{
			"an event without type is not an event",
			mutated(t, "customer.created.json", func(e, _ map[string]any) { delete(e, "type") }),
			ErrNotEvent, "type",
		},
		{
			"an event without data.object is not an event",
			mutated(t, "payment_intent.succeeded.json", func(e, _ map[string]any) { e["data"] = map[string]any{} }),
			ErrNotEvent, "data.object",
		},
		{
			"an event with null data.object is not an event",
			mutated(t, "customer.created.json", func(e, _ map[string]any) { e["data"] = map[string]any{"object": nil} }),
			ErrNotEvent, "data.object",
		},
		{
			"a payment intent with amount_received 0 is malformed",
			mutated(t, "payment_intent.succeeded.json", func(_, o map[string]any) { o["amount_received"] = 0 }),
			ErrMalformed, "amount_received",
		},
		{
			"a payment intent with a string amount_received is malformed",
			mutated(t, "payment_intent.succeeded.json", func(_, o map[string]any) { o["amount_received"] = "2000" }),
			ErrMalformed, "data.object.amount_received",
		},
		{
			"a payment intent without id is malformed",
			mutated(t, "payment_intent.succeeded.json", func(_, o map[string]any) { delete(o, "id") }),
			ErrMalformed, "data.object.id",
		},
		{
			"a payment intent event carrying a charge is malformed",
			mutated(t, "payment_intent.succeeded.json", func(_, o map[string]any) { o["object"] = "charge" }),
			ErrMalformed, "data.object.object",
		},
		{
			"a bad currency is malformed",
			mutated(t, "payment_intent.succeeded.json", func(_, o map[string]any) { o["currency"] = "usdollar" }),
			ErrMalformed, "currency",
		},
		{
			"a currency with a non-ASCII letter is malformed",
			mutated(t, "payment_intent.succeeded.json", func(_, o map[string]any) { o["currency"] = "us\u212a" }),
			ErrMalformed, "currency",
		},
		{
			"a missing currency is malformed",
			mutated(t, "invoice.paid.json", func(_, o map[string]any) { delete(o, "currency") }),
			ErrMalformed, "currency",
		},
		{
			"a paid checkout session without payment_intent or invoice is malformed",
			mutated(t, "checkout.session.completed.json", func(_, o map[string]any) { o["payment_intent"], o["invoice"] = nil, nil }),
			ErrMalformed, "payment_intent",
		},
		{
			"an expanded payment_intent object without id is malformed",
			mutated(t, "checkout.session.completed.json", func(_, o map[string]any) {
				o["payment_intent"] = map[string]any{"object": "payment_intent"}
			}),
			ErrMalformed, "payment_intent",
		},
		{
			"a numeric payment_intent is malformed",
			mutated(t, "invoice.paid.json", func(_, o map[string]any) { o["payment_intent"] = 7 }),
			ErrMalformed, "payment_intent",
		},
		{
			"a negative amount_paid is malformed",
			mutated(t, "invoice.paid.json", func(_, o map[string]any) { o["amount_paid"] = -1 }),
			ErrMalformed, "amount_paid",
		},
		{
			"charge.refunded without payment_intent is malformed",
			mutated(t, "charge.refunded.json", func(_, o map[string]any) { o["payment_intent"] = nil }),
			ErrMalformed, "payment_intent",
		},
		{
			"amount_refunded greater than amount is malformed",
			mutated(t, "charge.refunded.json", func(_, o map[string]any) { o["amount_refunded"] = 2001 }),
			ErrMalformed, "amount_refunded",
		},
		{
			"a negative amount_refunded is malformed",
			mutated(t, "charge.refunded.json", func(_, o map[string]any) { o["amount_refunded"] = -5 }),
			ErrMalformed, "amount_refunded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.payload)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want wrapping %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
			if got.Payment != nil || got.Refund != nil || got.Kind != KindIgnored {
				t.Errorf("got %+v next to an error, want no payment or refund", got)
			}
			if tt.wantErr == ErrMalformed && !strings.HasPrefix(got.ID, "evt_") {
				t.Errorf("ID = %q, want the envelope id kept for malformed events", got.ID)
			}
		})
	}
}

func TestHandledTypes(t *testing.T) {
	t.Run("every handled type has a testdata event", func(t *testing.T) {
		for _, typ := range HandledTypes() {
			if _, err := Decode(readTestdata(t, typ+".json")); err != nil {
				t.Errorf("%s: %v", typ, err)
			}
		}
	})
	t.Run("callers cannot change the list for others", func(t *testing.T) {
		HandledTypes()[0] = "changed"
		if slices.Contains(HandledTypes(), "changed") {
			t.Error("HandledTypes returned shared state")
		}
	})
}

// assertEvent compares field by field so a failure says which field differs.
func assertEvent(t *testing.T, got, want Event) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.Livemode != want.Livemode {
		t.Errorf("ID, Type, Livemode = %q, %q, %v; want %q, %q, %v", got.ID, got.Type, got.Livemode, want.ID, want.Type, want.Livemode)
	}
	if !got.Created.Equal(want.Created) || got.Created.Location() != time.UTC {
		t.Errorf("Created = %v, want %v in UTC", got.Created, want.Created)
	}
	if got.Kind != want.Kind || got.IgnoreReason != want.IgnoreReason {
		t.Errorf("Kind, IgnoreReason = %v, %q; want %v, %q", got.Kind, got.IgnoreReason, want.Kind, want.IgnoreReason)
	}
	if !reflect.DeepEqual(got.Payment, want.Payment) {
		t.Errorf("Payment = %+v, want %+v", got.Payment, want.Payment)
	}
	if !reflect.DeepEqual(got.Refund, want.Refund) {
		t.Errorf("Refund = %+v, want %+v", got.Refund, want.Refund)
	}
}
