package stripe

import (
	"encoding/json"
)

// Failed attempts to take money: payment_intent.payment_failed,
// checkout.session.async_payment_failed and invoice.payment_failed. No
// money moved; what matters is which invoice and movement they concern.

func decodePaymentIntentFailed(raw json.RawMessage, ev *Event) error {
	var o paymentIntentObject
	if err := decodeObject(raw, &o, "payment_intent", &o.Object, &o.ID); err != nil {
		return err
	}
	stripeInvoice, charge, err := o.linkedIDs()
	if err != nil {
		return err
	}
	f := &Failure{InvoiceID: metadataString(o.Metadata, metaInvoiceID), StripeInvoiceID: stripeInvoice, Amount: max(o.Amount, 0)}
	if o.LastError != nil {
		f.Reason = o.LastError.Message
		if f.Reason == "" {
			f.Reason = o.LastError.Code
		}
	}
	ev.Refs = Refs{PaymentIntent: o.ID, Charge: charge, Invoice: stripeInvoice}
	return setFailure(ev, f, o.Currency)
}

func decodeCheckoutFailed(raw json.RawMessage, ev *Event) error {
	var o checkoutSessionObject
	if err := decodeObject(raw, &o, "checkout.session", &o.Object, &o.ID); err != nil {
		return err
	}
	pi, err := expandableID(o.PaymentIntent, "data.object.payment_intent")
	if err != nil {
		return err
	}
	stripeInvoice, err := expandableID(o.Invoice, "data.object.invoice")
	if err != nil {
		return err
	}
	invoiceID := metadataString(o.Metadata, metaInvoiceID)
	if invoiceID == "" {
		invoiceID = o.ClientReferenceID
	}
	ev.Refs = Refs{PaymentIntent: pi, CheckoutSession: o.ID, Invoice: stripeInvoice}
	return setFailure(ev, &Failure{InvoiceID: invoiceID, StripeInvoiceID: stripeInvoice, Amount: max(o.AmountTotal, 0),
		Reason: "the delayed payment of the checkout session failed"}, o.Currency)
}

func decodeInvoiceFailed(raw json.RawMessage, ev *Event) error {
	var o invoiceObject
	if err := decodeObject(raw, &o, "invoice", &o.Object, &o.ID); err != nil {
		return err
	}
	pi, err := expandableID(o.PaymentIntent, "data.object.payment_intent")
	if err != nil {
		return err
	}
	charge, err := expandableID(o.Charge, "data.object.charge")
	if err != nil {
		return err
	}
	ev.Refs = Refs{PaymentIntent: pi, Charge: charge, Invoice: o.ID}
	return setFailure(ev, &Failure{InvoiceID: metadataString(o.Metadata, metaInvoiceID), StripeInvoiceID: o.ID,
		Amount: max(o.AmountDue, 0)}, o.Currency)
}

// setFailure sets a failure; its currency is informative and kept only
// when well formed.
func setFailure(ev *Event, f *Failure, currency string) error {
	if c, err := normalizeCurrency(currency, "data.object.currency"); err == nil {
		f.Currency = c
	}
	ev.Kind = KindPaymentFailed
	ev.Failure = f
	return nil
}
