// Package outbox names what the ledger's notification outbox holds: the
// notification types a business's systems subscribe to, and the PostgreSQL
// channel told when new deliveries wait. The ledger writes the outbox in its
// own transactions; internal/notify delivers from it. Both speak these names.
package outbox

// Type names an invoice change the business's systems can subscribe to.
type Type string

// The notification types of the contract.
const (
	PaymentRecorded Type = "invoice.payment_recorded"
	PaymentDeleted  Type = "invoice.payment_deleted"
	PaymentFailed   Type = "invoice.payment_failed"
	Refunded        Type = "invoice.refunded"
	Disputed        Type = "invoice.disputed"
	DisputeClosed   Type = "invoice.dispute_closed"
	Credited        Type = "invoice.credited"
	Paid            Type = "invoice.paid"
	WrittenOff      Type = "invoice.written_off"
	Reopened        Type = "invoice.reopened"
	Reconciled      Type = "invoice.reconciled"
	// Discrepancy is a difference between the ledger and Stripe that a
	// reconciliation run found: no invoice change, so its data holds the
	// discrepancy rather than an invoice.
	Discrepancy Type = "reconciliation.discrepancy"
)

// Types lists every type, for validating a subscription.
func Types() []Type {
	return []Type{PaymentRecorded, PaymentDeleted, PaymentFailed, Refunded, Disputed, DisputeClosed, Credited, Paid,
		WrittenOff, Reopened, Reconciled, Discrepancy}
}

// DeliveriesChannel is the PostgreSQL channel told, at commit, that new
// deliveries wait; the worker listens on it to send them at once.
const DeliveriesChannel = "reconciler_deliveries"
