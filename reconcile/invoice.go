package reconcile

import "time"

// State is where an invoice stands.
type State string

// The invoice states of the contract.
const (
	StateDraft      State = "draft"
	StateOpen       State = "open"
	StatePartial    State = "partial"
	StatePaid       State = "paid"
	StateWrittenOff State = "written_off"
)

// ValidState reports whether s names a state.
func ValidState(s string) bool {
	switch State(s) {
	case StateDraft, StateOpen, StatePartial, StatePaid, StateWrittenOff:
		return true
	}
	return false
}

// Invoice is one invoice with its totals, as the admin API shows it.
type Invoice struct {
	ID               string `json:"id"`
	Number           string `json:"number"`
	Client           string `json:"client"`
	Currency         string `json:"currency"`
	Amount           Amount `json:"amount"`
	CreditedAmount   Amount `json:"credited_amount"`
	PaidAmount       Amount `json:"paid_amount"`
	RefundedAmount   Amount `json:"refunded_amount"`
	DisputedAmount   Amount `json:"disputed_amount"`
	WrittenOffAmount Amount `json:"written_off_amount"`
	Balance          Amount `json:"balance"`
	State            State  `json:"state"`
	// Overdue: sent, with a balance due, and past its due date (UTC).
	Overdue         bool       `json:"overdue"`
	IssueDate       *Date      `json:"issue_date"`
	DueDate         *Date      `json:"due_date"`
	SentAt          *time.Time `json:"sent_at"`
	PaidAt          *time.Time `json:"paid_at"`
	WrittenOffAt    *time.Time `json:"written_off_at"`
	StripeInvoiceID *string    `json:"stripe_invoice_id"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`

	// WriteOffLive says whether a write-off of the invoice is live (not
	// reversed), whatever its state reads: a payment that recovers a
	// write-off in full makes the invoice paid, and the write-off still
	// stands until it is reopened. It is filled by the reads the rules are
	// asked on (GetInvoice, GetInvoiceDetail, and every operator's change
	// under the row lock), not by listings, and it is not part of the
	// contract's invoice.
	WriteOffLive bool `json:"-"`
}

// Source says where a payment came from.
type Source string

// Payment sources.
const (
	SourceManual Source = "manual"
	SourceStripe Source = "stripe"
)

// Payment is money received for an invoice. Deleted payments keep their row
// but leave every listing.
type Payment struct {
	ID             string    `json:"id"`
	InvoiceID      string    `json:"invoice_id"`
	Amount         Amount    `json:"amount"`
	RefundedAmount Amount    `json:"refunded_amount"`
	DisputedAmount Amount    `json:"disputed_amount"`
	Currency       string    `json:"currency"`
	PaidDate       Date      `json:"paid_date"`
	Source         Source    `json:"source"`
	Method         *string   `json:"method"`
	ProviderRef    *string   `json:"provider_ref"`
	Notes          string    `json:"notes"`
	CreatedAt      time.Time `json:"created_at"`
}

// HistoryKind names what happened to an invoice.
type HistoryKind string

// The history kinds of the contract.
const (
	HistoryCreated         HistoryKind = "created"
	HistorySent            HistoryKind = "sent"
	HistoryPaymentRecorded HistoryKind = "payment_recorded"
	HistoryPaymentDeleted  HistoryKind = "payment_deleted"
	HistoryPaymentFailed   HistoryKind = "payment_failed"
	HistoryRefundRecorded  HistoryKind = "refund_recorded"
	HistoryRefundFailed    HistoryKind = "refund_failed"
	HistoryDisputeOpened   HistoryKind = "dispute_opened"
	HistoryDisputeWon      HistoryKind = "dispute_won"
	HistoryDisputeLost     HistoryKind = "dispute_lost"
	HistoryCreditNoted     HistoryKind = "credit_noted"
	HistoryCreditReversed  HistoryKind = "credit_note_reversed"
	HistoryWrittenOff      HistoryKind = "written_off"
	HistoryReopened        HistoryKind = "reopened"
	HistoryReconciled      HistoryKind = "reconciled"
	HistoryEventResolved   HistoryKind = "event_resolved"
	HistoryDeleted         HistoryKind = "deleted"
)

// HistoryEntry is one change of an invoice, oldest first in a listing.
type HistoryEntry struct {
	ID        int64          `json:"id,string"` // every id in JSON is a string
	At        time.Time      `json:"at"`
	Kind      HistoryKind    `json:"kind"`
	Amount    *Amount        `json:"amount"`
	PaymentID *string        `json:"payment_id"`
	Notes     string         `json:"notes"`
	Actor     string         `json:"actor"`
	Details   map[string]any `json:"details,omitempty"`
}

// InvoiceDetail is an invoice with its live payments, its live credit notes
// and its history.
type InvoiceDetail struct {
	Invoice
	Payments    []Payment      `json:"payments"`
	CreditNotes []CreditNote   `json:"credit_notes"`
	History     []HistoryEntry `json:"history"`
}
