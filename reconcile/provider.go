package reconcile

import (
	"context"
	"time"
)

// ProviderPayment is a payment as the provider (Stripe) holds it now: a
// PaymentIntent with its latest charge, that charge's refunds and the
// disputes against it. The run compares it with the ledger's payment of the
// same PaymentIntent.
type ProviderPayment struct {
	// PaymentIntent is the provider's id of the movement (pi_...), the
	// ledger's provider_ref.
	PaymentIntent string
	// ChargeID is the latest charge (ch_...); empty before one is attempted.
	ChargeID string
	// InvoiceID is the ledger invoice the payment names (metadata.invoice_id);
	// empty when it names none.
	InvoiceID string
	// StripeInvoiceID is the Stripe invoice (in_...) the PaymentIntent pays,
	// when the API version still shows it (before 2025-03-31).
	StripeInvoiceID string
	Currency        string
	// Amount is the money received (amount_received): 0 until it succeeds.
	Amount Amount
	// Status is the PaymentIntent's status; only "succeeded" holds money.
	Status string
	// Refunded is the money refunded now, by the ledger's refund rule read
	// from the charge as it is: the refunds known by id that are pending or
	// succeeded, plus the part of the charge's amount_refunded the known
	// refunds do not explain (all of it when none are itemised).
	Refunded Amount
	// Disputed is the money the payment's disputes hold withdrawn now, as
	// ProviderDispute.Withdrawn sums.
	Disputed Amount
	Created  time.Time
	Livemode bool
}

// ProviderDispute is a dispute (chargeback or inquiry) as the provider
// holds it now.
type ProviderDispute struct {
	ID string
	// PaymentIntent is empty for a charge made without one.
	PaymentIntent string
	ChargeID      string
	Currency      string
	// Amount is the disputed amount.
	Amount Amount
	// Status is the provider's: warning_needs_response, warning_under_review,
	// warning_closed, needs_response, under_review, won, lost, prevented.
	Status string
	// Withdrawn is the money the dispute holds withdrawn now: Amount while
	// needs_response or under_review and once lost; 0 for an inquiry
	// (warning_*), a prevented dispute, and once won (reinstated).
	Withdrawn Amount
	Created   time.Time
}

// ProviderRecords lists a provider's payments and disputes for the run's
// comparison. Each List method calls each for every record created at or
// after since, newest first, holding one page in memory; an error from each
// stops the listing and is returned as it is.
type ProviderRecords interface {
	ListPayments(ctx context.Context, since time.Time, each func(ProviderPayment) error) error
	ListDisputes(ctx context.Context, since time.Time, each func(ProviderDispute) error) error
}
