package stripe

import (
	"encoding/json"
	"errors"
)

// invoicePaymentObject is an InvoicePayment (API versions from 2025-03-31):
// what paid a Stripe invoice. payment names the PaymentIntent (type
// payment_intent), a Charge (type charge), or nothing Stripe processed.
type invoicePaymentObject struct {
	Object     string          `json:"object"`
	ID         string          `json:"id"`
	Invoice    json.RawMessage `json:"invoice"`
	AmountPaid *int64          `json:"amount_paid"`
	Currency   string          `json:"currency"`
	Payment    struct {
		Type          string          `json:"type"`
		PaymentIntent json.RawMessage `json:"payment_intent"`
		Charge        json.RawMessage `json:"charge"`
	} `json:"payment"`
}

// decodeInvoicePaymentPaid reads invoice_payment.paid: it links a Stripe
// invoice to the PaymentIntent that paid it, which invoice.paid no longer
// names, and is itself a payment of the invoice.
func decodeInvoicePaymentPaid(raw json.RawMessage, ev *Event) error {
	var o invoicePaymentObject
	if err := decodeObject(raw, &o, "invoice_payment", &o.Object, &o.ID); err != nil {
		return err
	}
	stripeInvoice, err := expandableID(o.Invoice, "data.object.invoice")
	if err != nil {
		return err
	}
	if stripeInvoice == "" {
		return errors.New("data.object.invoice is missing")
	}
	pi, err := expandableID(o.Payment.PaymentIntent, "data.object.payment.payment_intent")
	if err != nil {
		return err
	}
	charge, err := expandableID(o.Payment.Charge, "data.object.payment.charge")
	if err != nil {
		return err
	}
	if o.AmountPaid == nil || *o.AmountPaid == 0 {
		ev.IgnoreReason = "nothing paid"
		return nil
	}
	ref := pi
	if ref == "" {
		ref = stripeInvoice
	}
	ev.Refs = Refs{PaymentIntent: pi, Charge: charge, Invoice: stripeInvoice, InvoicePayment: o.ID}
	return setPayment(ev, Payment{
		ProviderRef:     ref,
		StripeInvoiceID: stripeInvoice,
		Amount:          *o.AmountPaid,
		Currency:        o.Currency,
	}, "data.object.amount_paid")
}
