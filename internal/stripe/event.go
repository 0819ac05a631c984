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
	// KindRefund carries refunds of a payment: its charge's cumulative
	// refunded amount (Refund), the refunds it names by id (Refunds), or
	// both, so applying the same refund event twice cannot refund twice.
	KindRefund
	// KindDispute carries a dispute (a chargeback) of a payment.
	KindDispute
	// KindPaymentFailed means an attempt to take money failed: nothing
	// moves, the invoice's history says so.
	KindPaymentFailed
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
	// Kind decides which of Payment, Refund/Refunds, Dispute and Failure is
	// set.
	Kind Kind
	// Refs are every id of the money movement the event's object shows
	// (PaymentIntent, Charge, Checkout Session, Stripe invoice,
	// InvoicePayment), so that the ledger can tell two events of one
	// movement apart from two movements, whichever ids each carries.
	Refs Refs
	// Payment is set only when Kind == KindPayment.
	Payment *Payment
	// Refund is a charge's cumulative refunded amount; with Kind ==
	// KindRefund, it or Refunds (or both) is set.
	Refund *Refund
	// Refunds are the refunds the event names by id: a charge's list of
	// refunds when Stripe includes it, or the refund object of a refund
	// event.
	Refunds []RefundObject
	// Dispute is set only when Kind == KindDispute.
	Dispute *Dispute
	// Failure is set only when Kind == KindPaymentFailed.
	Failure *Failure
	// IgnoreReason explains why a handled type was ignored (for example
	// "checkout session payment_status is unpaid"), so an operator can tell a
	// deliberate skip from an unhandled type, for which it is empty.
	IgnoreReason string
}

// Refs are the ids one money movement is known by, as far as one object
// shows them; an empty field is an id the object does not show.
type Refs struct {
	PaymentIntent   string // pi_...
	Charge          string // ch_... (py_... for some payment methods)
	CheckoutSession string // cs_...
	Invoice         string // in_...
	InvoicePayment  string // inpay_...
}

// IDs lists the ids set, in a fixed order.
func (r Refs) IDs() []string {
	var out []string
	for _, id := range []string{r.PaymentIntent, r.Charge, r.CheckoutSession, r.Invoice, r.InvoicePayment} {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// Payment is money received. ProviderRef is the id the event names the
// movement by; Event.Refs holds every id of it the event shows.
type Payment struct {
	// ProviderRef is the PaymentIntent id (pi_...), or, for an event that
	// names none (a subscription checkout, invoice.paid of API versions
	// from 2025-03-31 or paid out of band), the Stripe invoice id (in_...).
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

// RefundObject is one refund, known by its id.
type RefundObject struct {
	// ID is the refund's id (re_..., pyr_...).
	ID string
	// Charge and PaymentIntent are what it refunds; at least one is set.
	Charge        string
	PaymentIntent string
	// Amount is in minor units, >= 0.
	Amount int64
	// Currency is a lower-case three-letter ISO code.
	Currency string
	// Status is pending, requires_action, succeeded, failed or canceled.
	Status string
	// FailureReason is Stripe's reason for a failed refund.
	FailureReason string
}

// Dispute is a dispute (a chargeback, or an inquiry: warning_*) of a charge.
type Dispute struct {
	// ID is the dispute's id (dp_..., du_...).
	ID string
	// Charge and PaymentIntent are what it disputes; at least one is set.
	Charge        string
	PaymentIntent string
	// Amount is the disputed amount in minor units, >= 0.
	Amount int64
	// Currency is a lower-case three-letter ISO code.
	Currency string
	// Status is one of warning_needs_response, warning_under_review,
	// warning_closed, needs_response, under_review, won, lost, prevented.
	Status string
	// Withdrawn and Reinstated say the event showed the disputed funds
	// taken from the balance (charge.dispute.funds_withdrawn, a negative
	// balance transaction) or given back (charge.dispute.funds_reinstated,
	// a positive one).
	Withdrawn  bool
	Reinstated bool
	// InvoiceID is metadata.invoice_id when present.
	InvoiceID string
}

// Failure is an attempt to take money that failed.
type Failure struct {
	// InvoiceID is our invoice (metadata.invoice_id, or a checkout's
	// client_reference_id); StripeInvoiceID the Stripe invoice.
	InvoiceID       string
	StripeInvoiceID string
	// Amount is what was asked, in minor units (0 when unknown).
	Amount int64
	// Currency is a lower-case three-letter ISO code, or empty.
	Currency string
	// Reason is Stripe's explanation, when it gives one.
	Reason string
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
	typePaymentIntentSucceeded     = "payment_intent.succeeded"
	typeCheckoutSessionCompleted   = "checkout.session.completed"
	typeCheckoutAsyncSucceeded     = "checkout.session.async_payment_succeeded"
	typeInvoicePaid                = "invoice.paid"
	typeInvoicePaymentPaid         = "invoice_payment.paid"
	typeChargeRefunded             = "charge.refunded"
	typeChargeRefundUpdated        = "charge.refund.updated"
	typeRefundCreated              = "refund.created"
	typeRefundUpdated              = "refund.updated"
	typeRefundFailed               = "refund.failed"
	typeDisputeCreated             = "charge.dispute.created"
	typeDisputeUpdated             = "charge.dispute.updated"
	typeDisputeFundsWithdrawn      = "charge.dispute.funds_withdrawn"
	typeDisputeFundsReinstated     = "charge.dispute.funds_reinstated"
	typeDisputeClosed              = "charge.dispute.closed"
	typePaymentIntentPaymentFailed = "payment_intent.payment_failed"
	typeCheckoutAsyncPaymentFailed = "checkout.session.async_payment_failed"
	typeInvoicePaymentFailed       = "invoice.payment_failed"
)

// HandledTypes lists the event types the service acts on, so that listing
// missed events from Stripe's API asks for exactly what webhooks deliver.
// It returns a new slice each call, so callers may modify it.
func HandledTypes() []string {
	return []string{
		typePaymentIntentSucceeded,
		typeCheckoutSessionCompleted,
		typeCheckoutAsyncSucceeded,
		typeInvoicePaid,
		typeInvoicePaymentPaid,
		typeChargeRefunded,
		typeChargeRefundUpdated,
		typeRefundCreated,
		typeRefundUpdated,
		typeRefundFailed,
		typeDisputeCreated,
		typeDisputeUpdated,
		typeDisputeFundsWithdrawn,
		typeDisputeFundsReinstated,
		typeDisputeClosed,
		typePaymentIntentPaymentFailed,
		typeCheckoutAsyncPaymentFailed,
		typeInvoicePaymentFailed,
	}
}
