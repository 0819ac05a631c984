package worker_test

import (
	"encoding/json"
	"time"
)

// The builders below make Stripe events as the two API versions the service
// reads send them: 2023-10-16 (stripe-go v76's pin), where invoice.paid and
// a PaymentIntent name each other, and 2025-03-31 and later, where
// invoice.paid names no PaymentIntent and invoice_payment.paid links the
// invoice to it. They carry the fields the service reads and a few it does
// not; the decoder's own tests hold it to Stripe's full example objects.

const (
	apiOld = "2023-10-16"
	apiNew = "2025-03-31.basil"
)

// eventAt is a Stripe event envelope of an API version around object.
func eventAt(id, typ, api string, live bool, object map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": api,
		"created": time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC).Unix(), "livemode": live,
		"pending_webhooks": 1, "data": map[string]any{"object": object},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// orNil is nil for "", so an absent link reads null as Stripe sends it.
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// metaOf is the metadata naming our invoice, or none.
func metaOf(invoiceID string) map[string]any {
	m := map[string]any{}
	if invoiceID != "" {
		m["invoice_id"] = invoiceID
	}
	return m
}

// piObject is a succeeded PaymentIntent; invoice is named only in the old
// API version.
func piObject(api, pi, charge, invoice, ourInvoice, currency string, amount int64) map[string]any {
	o := map[string]any{
		"id": pi, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": currency,
		"status": "succeeded", "latest_charge": orNil(charge), "metadata": metaOf(ourInvoice), "livemode": false,
	}
	if api == apiOld {
		o["invoice"] = orNil(invoice)
	}
	return o
}

// checkoutObject is a completed Checkout Session: payment mode names its
// PaymentIntent, subscription mode its invoice.
func checkoutObject(cs, pi, invoice, ourInvoice, currency, status string, amount int64) map[string]any {
	mode := "payment"
	if pi == "" {
		mode = "subscription"
	}
	return map[string]any{
		"id": cs, "object": "checkout.session", "mode": mode, "payment_intent": orNil(pi), "invoice": orNil(invoice),
		"payment_status": status, "status": "complete", "amount_total": amount, "currency": currency,
		"client_reference_id": orNil(ourInvoice), "metadata": map[string]any{},
	}
}

// invoiceObject is a Stripe invoice; the old API version names its
// PaymentIntent and Charge, the new one neither.
func invoiceObject(api, in, pi, charge, ourInvoice, currency string, amount int64) map[string]any {
	o := map[string]any{
		"id": in, "object": "invoice", "amount_due": amount, "amount_paid": amount, "amount_remaining": 0,
		"currency": currency, "status": "paid", "metadata": metaOf(ourInvoice),
	}
	if api == apiOld {
		o["payment_intent"], o["charge"], o["paid"] = orNil(pi), orNil(charge), true
	}
	return o
}

// invoicePaymentObject is a 2025-03-31 InvoicePayment linking a Stripe
// invoice to the PaymentIntent that paid it.
func invoicePaymentObject(inpay, in, pi, currency string, amount int64) map[string]any {
	return map[string]any{
		"id": inpay, "object": "invoice_payment", "invoice": in, "amount_paid": amount, "amount_requested": amount,
		"currency": currency, "status": "paid", "is_default": true,
		"payment": map[string]any{"type": "payment_intent", "payment_intent": pi},
	}
}

// refundObject is a Refund of a charge.
func refundObject(re, charge, pi, currency, status string, amount int64) map[string]any {
	o := map[string]any{
		"id": re, "object": "refund", "amount": amount, "charge": orNil(charge), "payment_intent": orNil(pi),
		"currency": currency, "status": status, "metadata": map[string]any{},
	}
	if status == "failed" {
		o["failure_reason"], o["failure_balance_transaction"] = "lost_or_stolen_card", "txn_"+re
	}
	return o
}

// chargeObject is a Charge with its cumulative amount_refunded and, when
// refunds is not nil, its list of refunds (omitted as in API versions since
// 2022-11-15 unless expanded).
func chargeObject(charge, pi, currency string, amount, refunded int64, refunds []map[string]any) map[string]any {
	o := map[string]any{
		"id": charge, "object": "charge", "payment_intent": orNil(pi), "amount": amount, "amount_captured": amount,
		"amount_refunded": refunded, "refunded": refunded == amount, "currency": currency, "paid": true,
		"metadata": map[string]any{},
	}
	if refunds != nil {
		data := make([]any, len(refunds))
		for i, r := range refunds {
			data[i] = r
		}
		o["refunds"] = map[string]any{"object": "list", "data": data, "has_more": false}
	}
	return o
}

// disputeObject is a Dispute of a charge.
func disputeObject(dp, charge, pi, currency, status string, amount int64) map[string]any {
	txns := []any{}
	switch status {
	case "needs_response", "under_review", "lost":
		txns = append(txns, map[string]any{"id": "txn_w_" + dp, "object": "balance_transaction", "amount": -amount, "type": "adjustment"})
	case "won":
		txns = append(txns,
			map[string]any{"id": "txn_w_" + dp, "object": "balance_transaction", "amount": -amount, "type": "adjustment"},
			map[string]any{"id": "txn_r_" + dp, "object": "balance_transaction", "amount": amount, "type": "adjustment"})
	}
	return map[string]any{
		"id": dp, "object": "dispute", "amount": amount, "charge": charge, "payment_intent": orNil(pi),
		"currency": currency, "status": status, "reason": "fraudulent", "balance_transactions": txns,
		"is_charge_refundable": false, "metadata": map[string]any{},
	}
}
