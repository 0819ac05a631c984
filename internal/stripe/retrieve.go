package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// retrievedPaymentIntent is one PaymentIntent read on its own: the fields a
// listing reads, and the response stripe-go records.
type retrievedPaymentIntent struct {
	stripego.APIResource
	listedPaymentIntent
}

// GetPayment reads one PaymentIntent, with its latest charge and that
// charge's refunds, and the disputes against it, as ListPayments shows it.
// found is false when Stripe has no PaymentIntent of that id
// (resource_missing): the ledger's payment of it is then missing in Stripe.
func (l *PaymentLister) GetPayment(ctx context.Context, paymentIntent string) (PaymentRecord, bool, error) {
	if !strings.HasPrefix(paymentIntent, "pi_") {
		return PaymentRecord{}, false, fmt.Errorf("read Stripe payment intent %q: not a PaymentIntent id", paymentIntent)
	}
	params := &stripego.PaymentIntentParams{Params: stripego.Params{Context: ctx}}
	params.AddExpand("latest_charge")
	params.AddExpand("latest_charge.refunds")
	body := &form.Values{}
	form.AppendTo(body, params)
	var pi retrievedPaymentIntent
	err := l.backend.CallRaw(http.MethodGet, "/v1/payment_intents/"+url.PathEscape(paymentIntent), l.key, body, &params.Params, &pi)
	var se *stripego.Error
	if errors.As(err, &se) && (se.Code == stripego.ErrorCodeResourceMissing || se.HTTPStatusCode == http.StatusNotFound) {
		return PaymentRecord{}, false, nil
	}
	if err != nil {
		return PaymentRecord{}, false, fmt.Errorf("read Stripe payment intent %s: %w", paymentIntent, err)
	}
	if pi.ID != paymentIntent {
		return PaymentRecord{}, false, fmt.Errorf("read Stripe payment intent %s: the answer is %q", paymentIntent, pi.ID)
	}
	p := pi.payment()

	// Its disputes: those naming the PaymentIntent. A dispute of a charge
	// made without one cannot name this PaymentIntent's charge.
	dp := &stripego.DisputeListParams{
		ListParams:    stripego.ListParams{Context: ctx, Limit: stripego.Int64(listPageSize)},
		PaymentIntent: stripego.String(paymentIntent),
	}
	err = listObjects(l, "/v1/disputes", "disputes", dp, func(d *listedDispute) error {
		if rec := d.dispute(); rec.PaymentIntent == paymentIntent {
			p.Disputed += rec.Withdrawn
		}
		return nil
	})
	if err != nil {
		return PaymentRecord{}, false, err
	}
	return p, true, nil
}

// PulledEventPrefix starts the id of every event SucceededEvent makes, so a
// person reading the inbox tells them from the events Stripe sent.
const PulledEventPrefix = "evt_pull_"

// SucceededEvent is the payment_intent.succeeded event Stripe would have sent
// for p, as API 2023-10-16 shapes it, with the fields the decoder reads: the
// comparison stores it, as a pulled event, for a succeeded PaymentIntent the
// ledger lacks. Its id is PulledEventPrefix and the PaymentIntent's id, so
// storing it twice stores it once, and it is dated when the PaymentIntent
// was created (when it succeeded is not in the listing).
func SucceededEvent(p PaymentRecord) (ListedEvent, error) {
	if !strings.HasPrefix(p.PaymentIntent, "pi_") || p.Status != "succeeded" || p.Amount <= 0 {
		return ListedEvent{}, fmt.Errorf("no succeeded payment event for %q (status %q, amount %d)", p.PaymentIntent, p.Status, p.Amount)
	}
	metadata := map[string]string{}
	if p.InvoiceID != "" {
		metadata[metaInvoiceID] = p.InvoiceID
	}
	object := map[string]any{
		"id": p.PaymentIntent, "object": "payment_intent", "amount": p.Amount, "amount_received": p.Amount,
		"currency": p.Currency, "status": "succeeded", "created": p.Created.Unix(), "livemode": p.Livemode,
		"metadata": metadata, "latest_charge": nil,
	}
	if p.ChargeID != "" {
		object["latest_charge"] = p.ChargeID
	}
	if p.StripeInvoiceID != "" {
		object["invoice"] = p.StripeInvoiceID
	}
	id := PulledEventPrefix + p.PaymentIntent
	raw, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typePaymentIntentSucceeded, "api_version": stripego.APIVersion,
		"created": p.Created.Unix(), "livemode": p.Livemode, "pending_webhooks": 0,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
		"data":    map[string]any{"object": object},
	})
	if err != nil {
		return ListedEvent{}, fmt.Errorf("encode pulled event of %s: %w", p.PaymentIntent, err)
	}
	return ListedEvent{ID: id, Type: typePaymentIntentSucceeded, Created: p.Created.Truncate(time.Second), Raw: raw, Handled: true}, nil
}
