package stripe

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The structs below hold only the fields the ledger reads; everything else in
// Stripe's objects is skipped by encoding/json, which is what makes new
// fields and api_versions harmless. Fields that may arrive expanded stay raw.

type paymentIntentObject struct {
	Object         string          `json:"object"`
	ID             string          `json:"id"`
	Amount         int64           `json:"amount"`
	AmountReceived int64           `json:"amount_received"`
	Currency       string          `json:"currency"`
	Invoice        json.RawMessage `json:"invoice"` // API versions before 2025-03-31 only
	LatestCharge   json.RawMessage `json:"latest_charge"`
	Metadata       json.RawMessage `json:"metadata"`
	LastError      *struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"last_payment_error"`
}

type checkoutSessionObject struct {
	Object            string          `json:"object"`
	ID                string          `json:"id"`
	PaymentStatus     string          `json:"payment_status"`
	PaymentIntent     json.RawMessage `json:"payment_intent"`
	Invoice           json.RawMessage `json:"invoice"`
	AmountTotal       int64           `json:"amount_total"`
	Currency          string          `json:"currency"`
	ClientReferenceID string          `json:"client_reference_id"`
	Metadata          json.RawMessage `json:"metadata"`
}

type invoiceObject struct {
	Object        string          `json:"object"`
	ID            string          `json:"id"`
	PaymentIntent json.RawMessage `json:"payment_intent"` // API versions before 2025-03-31 only
	Charge        json.RawMessage `json:"charge"`         // idem
	AmountPaid    int64           `json:"amount_paid"`
	AmountDue     int64           `json:"amount_due"`
	Currency      string          `json:"currency"`
	Metadata      json.RawMessage `json:"metadata"`
}

type chargeObject struct {
	Object         string          `json:"object"`
	ID             string          `json:"id"`
	PaymentIntent  json.RawMessage `json:"payment_intent"`
	Invoice        json.RawMessage `json:"invoice"` // API versions before 2025-03-31 only
	Amount         int64           `json:"amount"`
	AmountRefunded int64           `json:"amount_refunded"`
	Currency       string          `json:"currency"`
	Metadata       json.RawMessage `json:"metadata"`
	// Refunds is absent unless expanded in API versions since 2022-11-15.
	Refunds *struct {
		Data []json.RawMessage `json:"data"`
	} `json:"refunds"`
}

const metaInvoiceID = "invoice_id"

// linkedIDs are the Stripe invoice and the latest charge a PaymentIntent
// names, either of which may be expanded or absent.
func (o paymentIntentObject) linkedIDs() (stripeInvoice, charge string, err error) {
	if stripeInvoice, err = expandableID(o.Invoice, "data.object.invoice"); err != nil {
		return "", "", err
	}
	charge, err = expandableID(o.LatestCharge, "data.object.latest_charge")
	return stripeInvoice, charge, err
}

func decodePaymentIntentSucceeded(raw json.RawMessage, ev *Event) error {
	var o paymentIntentObject
	if err := decodeObject(raw, &o, "payment_intent", &o.Object, &o.ID); err != nil {
		return err
	}
	stripeInvoice, charge, err := o.linkedIDs()
	if err != nil {
		return err
	}
	ev.Refs = Refs{PaymentIntent: o.ID, Charge: charge, Invoice: stripeInvoice}
	return setPayment(ev, Payment{
		ProviderRef:     o.ID,
		InvoiceID:       metadataString(o.Metadata, metaInvoiceID),
		StripeInvoiceID: stripeInvoice,
		Amount:          o.AmountReceived,
		Currency:        o.Currency,
	}, "data.object.amount_received")
}

func decodeCheckoutSessionCompleted(raw json.RawMessage, ev *Event) error {
	var o checkoutSessionObject
	if err := decodeValid(raw, &o, "data.object"); err != nil {
		return err
	}
	if err := checkObjectType(o.Object, "checkout.session"); err != nil {
		return err
	}
	// Delayed payment methods complete the session before money arrives;
	// recording it now would book a payment that may never happen.
	if o.PaymentStatus != "paid" {
		status := o.PaymentStatus
		if status == "" {
			status = "missing"
		}
		ev.IgnoreReason = "checkout session payment_status is " + status
		return nil
	}
	pi, err := expandableID(o.PaymentIntent, "data.object.payment_intent")
	if err != nil {
		return err
	}
	stripeInvoice, err := expandableID(o.Invoice, "data.object.invoice")
	if err != nil {
		return err
	}
	ref := pi
	if ref == "" {
		// Subscription-mode sessions pay through an invoice, not a
		// PaymentIntent of their own.
		ref = stripeInvoice
	}
	if ref == "" {
		return errors.New("data.object.payment_intent and data.object.invoice are both missing")
	}
	invoiceID := metadataString(o.Metadata, metaInvoiceID)
	if invoiceID == "" {
		invoiceID = o.ClientReferenceID
	}
	ev.Refs = Refs{PaymentIntent: pi, CheckoutSession: o.ID, Invoice: stripeInvoice}
	return setPayment(ev, Payment{
		ProviderRef:     ref,
		InvoiceID:       invoiceID,
		StripeInvoiceID: stripeInvoice,
		Amount:          o.AmountTotal,
		Currency:        o.Currency,
	}, "data.object.amount_total")
}

func decodeInvoicePaid(raw json.RawMessage, ev *Event) error {
	var o invoiceObject
	if err := decodeObject(raw, &o, "invoice", &o.Object, &o.ID); err != nil {
		return err
	}
	// Zero-total invoices (full discount, credit balance) are "paid" without
	// any money moving, so there is nothing to book.
	if o.AmountPaid == 0 {
		ev.IgnoreReason = "nothing paid"
		return nil
	}
	pi, err := expandableID(o.PaymentIntent, "data.object.payment_intent")
	if err != nil {
		return err
	}
	charge, err := expandableID(o.Charge, "data.object.charge")
	if err != nil {
		return err
	}
	ref := pi
	if ref == "" {
		// From API version 2025-03-31 an invoice names no PaymentIntent
		// (invoice_payment.paid links them), and one paid out of band has
		// none: the invoice id is stable either way.
		ref = o.ID
	}
	ev.Refs = Refs{PaymentIntent: pi, Charge: charge, Invoice: o.ID}
	return setPayment(ev, Payment{
		ProviderRef:     ref,
		InvoiceID:       metadataString(o.Metadata, metaInvoiceID),
		StripeInvoiceID: o.ID,
		Amount:          o.AmountPaid,
		Currency:        o.Currency,
	}, "data.object.amount_paid")
}

func decodeChargeRefunded(raw json.RawMessage, ev *Event) error {
	var o chargeObject
	if err := decodeValid(raw, &o, "data.object"); err != nil {
		return err
	}
	if err := checkObjectType(o.Object, "charge"); err != nil {
		return err
	}
	// Payments are keyed by PaymentIntent; a charge without one (legacy
	// Charges API) cannot be matched to anything the ledger recorded.
	pi, err := expandableID(o.PaymentIntent, "data.object.payment_intent")
	if err != nil {
		return err
	}
	if pi == "" {
		return errors.New("data.object.payment_intent is missing")
	}
	if o.Amount <= 0 {
		return fmt.Errorf("data.object.amount must be > 0, got %d", o.Amount)
	}
	if o.AmountRefunded < 0 || o.AmountRefunded > o.Amount {
		return fmt.Errorf("data.object.amount_refunded must be between 0 and amount %d, got %d", o.Amount, o.AmountRefunded)
	}
	currency, err := normalizeCurrency(o.Currency, "data.object.currency")
	if err != nil {
		return err
	}
	stripeInvoice, err := expandableID(o.Invoice, "data.object.invoice")
	if err != nil {
		return err
	}
	var refunds []RefundObject
	if o.Refunds != nil {
		for i, raw := range o.Refunds.Data {
			r, err := decodeRefund(raw, fmt.Sprintf("data.object.refunds.data[%d]", i))
			if err != nil {
				return err
			}
			if r.Charge == "" && r.PaymentIntent == "" {
				r.Charge = o.ID
			}
			refunds = append(refunds, r)
		}
	}
	ev.Kind = KindRefund
	ev.Refs = Refs{PaymentIntent: pi, Charge: o.ID, Invoice: stripeInvoice}
	ev.Refunds = refunds
	ev.Refund = &Refund{
		ProviderRef:    pi,
		AmountRefunded: o.AmountRefunded,
		Amount:         o.Amount,
		Currency:       currency,
		InvoiceID:      metadataString(o.Metadata, metaInvoiceID),
	}
	return nil
}

// setPayment validates what every payment source shares, so the rules cannot
// drift between event types. amountField names the source field in errors.
func setPayment(ev *Event, p Payment, amountField string) error {
	if p.Amount <= 0 {
		return fmt.Errorf("%s must be > 0, got %d", amountField, p.Amount)
	}
	currency, err := normalizeCurrency(p.Currency, "data.object.currency")
	if err != nil {
		return err
	}
	p.Currency = currency
	ev.Kind = KindPayment
	ev.Payment = &p
	return nil
}
