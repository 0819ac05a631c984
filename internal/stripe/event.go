// Package stripe is the Stripe adapter: the only code that knows Stripe's
// field names. It turns the raw body of a Stripe event, of any API version,
// into the few facts the ledger acts on, and lists Stripe's objects through
// stripe-go's client for the reconciliation run's pulls.
//
// It decodes with encoding/json into small local structs instead of
// stripe-go's webhook.ConstructEvent, because ConstructEvent rejects every
// api_version other than the one the SDK was generated for, and a Stripe
// account upgrade must not make the service drop payments. Signature
// verification happens before this package sees the body.
package stripe

import (
	"errors"
	"time"
)

// Kind says what an event means to the ledger.
type Kind int

const (
	// KindIgnored events are still stored so that replays and audits can see
	// them were received and deliberately skipped.
	KindIgnored Kind = iota
	// KindPayment means money was received for an invoice.
	KindPayment
	// KindRefund carries the cumulative refunded amount of a payment, so
	// applying the same refund event twice cannot refund twice.
	KindRefund
)

// Event is the part of a Stripe event the ledger needs. The ID is kept
// because Stripe delivers at least once and the ledger deduplicates on it.
type Event struct {
	// ID is the Stripe event id (evt_...), the deduplication key.
	ID string
	// Type is Stripe's event type, kept verbatim so ignored events can be
	// inspected later.
	Type string
	// Created is when Stripe created the event, in UTC; Stripe does not
	// guarantee delivery order, so this is the only ordering hint.
	Created time.Time
	// Livemode separates test-mode traffic, which must never reach the live
	// ledger.
	Livemode bool
	// Kind decides which of Payment and Refund is set.
	Kind Kind
	// Payment is set only when Kind == KindPayment.
	Payment *Payment
	// Refund is set only when Kind == KindRefund.
	Refund *Refund
	// IgnoreReason explains why a handled type was ignored (for example
	// "checkout session payment_status is unpaid"), so an operator can tell a
	// deliberate skip from an unhandled type, for which it is empty.
	IgnoreReason string
}

// Payment is money received. ProviderRef is what ties the payment to later
// refunds, which Stripe reports per PaymentIntent.
type Payment struct {
	// ProviderRef is the PaymentIntent id (pi_...), or, for invoice.paid
	// without a payment_intent (paid out of band), the Stripe invoice id
	// (in_...) so the payment still has a stable reference.
	ProviderRef string
	// InvoiceID is our invoice id from metadata.invoice_id, else (checkout
	// only) client_reference_id; empty means the ledger must match it
	// another way.
	InvoiceID string
	// StripeInvoiceID is the Stripe invoice (in_...) the payment belongs to,
	// if any, for matching Stripe-billed invoices; may be empty.
	StripeInvoiceID string
	// Amount is in minor units and always > 0.
	Amount int64
	// Currency is a lower-case three-letter ISO code.
	Currency string
}

// Refund is the refund state of one charge. Stripe reports the running total,
// not the delta, so the ledger sets rather than adds.
type Refund struct {
	// ProviderRef is the charge's PaymentIntent id (pi_...), matching
	// Payment.ProviderRef of the refunded payment.
	ProviderRef string
	// AmountRefunded is the cumulative refunded amount in minor units,
	// between 0 and Amount.
	AmountRefunded int64
	// Amount is the charge's amount, so the ledger can check the refund
	// against what it recorded as paid.
	Amount int64
	// Currency is a lower-case three-letter ISO code.
	Currency string
	// InvoiceID is metadata.invoice_id when present.
	InvoiceID string
}

// Sentinel errors, so callers can tell a body to reject (ErrNotEvent) from an
// event to store and flag for a human (ErrMalformed).
var (
	// ErrNotEvent means the body is not a Stripe event object at all.
	ErrNotEvent = errors.New("stripe: not a Stripe event")
	// ErrMalformed means a handled event lacks something the ledger needs;
	// the wrapping message names the field.
	ErrMalformed = errors.New("stripe: malformed event")
)

// Event types the service acts on.
const (
	typePaymentIntentSucceeded   = "payment_intent.succeeded"
	typeCheckoutSessionCompleted = "checkout.session.completed"
	typeInvoicePaid              = "invoice.paid"
	typeChargeRefunded           = "charge.refunded"
)

// HandledTypes lists the event types the service acts on, so that listing
// missed events from Stripe's API asks for exactly what webhooks deliver.
// It returns a new slice each call, so callers may modify it.
func HandledTypes() []string {
	return []string{
		typePaymentIntentSucceeded,
		typeCheckoutSessionCompleted,
		typeInvoicePaid,
		typeChargeRefunded,
	}
}
