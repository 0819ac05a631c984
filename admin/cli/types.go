package cli

import "encoding/json"

// The admin API's answers, as the contract describes them. They are the
// CLI's own copies, not the server's types: the CLI talks to the contract.
// Times stay the strings the server sent (RFC 3339, UTC).

type invoice struct {
	ID               string  `json:"id"`
	Number           string  `json:"number"`
	Client           string  `json:"client"`
	Currency         string  `json:"currency"`
	Amount           int64   `json:"amount"`
	CreditedAmount   int64   `json:"credited_amount"`
	PaidAmount       int64   `json:"paid_amount"`
	RefundedAmount   int64   `json:"refunded_amount"`
	DisputedAmount   int64   `json:"disputed_amount"`
	WrittenOffAmount int64   `json:"written_off_amount"`
	Balance          int64   `json:"balance"`
	State            string  `json:"state"`
	Overdue          bool    `json:"overdue"`
	IssueDate        *string `json:"issue_date"`
	DueDate          *string `json:"due_date"`
	SentAt           *string `json:"sent_at"`
	PaidAt           *string `json:"paid_at"`
	WrittenOffAt     *string `json:"written_off_at"`
	StripeInvoiceID  *string `json:"stripe_invoice_id"`
	CreatedAt        string  `json:"created_at"`
	UpdatedAt        string  `json:"updated_at"`
}

type invoicePage struct {
	Invoices   []invoice `json:"invoices"`
	NextCursor string    `json:"next_cursor"`
}

type invoiceDetail struct {
	invoice
	Payments    []payment     `json:"payments"`
	CreditNotes []creditNote  `json:"credit_notes"`
	History     []historyItem `json:"history"`
}

type creditNote struct {
	ID        string `json:"id"`
	Amount    int64  `json:"amount"`
	Reason    string `json:"reason"`
	Notes     string `json:"notes"`
	Actor     string `json:"actor"`
	CreatedAt string `json:"created_at"`
}

type payment struct {
	ID             string  `json:"id"`
	Amount         int64   `json:"amount"`
	RefundedAmount int64   `json:"refunded_amount"`
	DisputedAmount int64   `json:"disputed_amount"`
	PaidDate       string  `json:"paid_date"`
	Source         string  `json:"source"`
	Method         *string `json:"method"`
	ProviderRef    *string `json:"provider_ref"`
	Notes          string  `json:"notes"`
	CreatedAt      string  `json:"created_at"`
}

type historyItem struct {
	At        string  `json:"at"`
	Kind      string  `json:"kind"`
	Amount    *int64  `json:"amount"`
	PaymentID *string `json:"payment_id"`
	Notes     string  `json:"notes"`
	Actor     string  `json:"actor"`
}

type job struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Status     string          `json:"status"`
	Error      string          `json:"error"`
	InvoiceID  *string         `json:"invoice_id"`
	Actor      string          `json:"actor"`
	Result     json.RawMessage `json:"result"`
	CreatedAt  string          `json:"created_at"`
	FinishedAt *string         `json:"finished_at"`
}

// finished reports whether the job will not run again.
func (j job) finished() bool { return j.Status == "succeeded" || j.Status == "failed" }

type event struct {
	ID          string  `json:"id"`
	Type        string  `json:"type"`
	Status      string  `json:"status"`
	InvoiceID   *string `json:"invoice_id"`
	Error       string  `json:"error"`
	ReceivedAt  string  `json:"received_at"`
	ProcessedAt *string `json:"processed_at"`
}

type operator struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Role      string  `json:"role"`
	CreatedBy string  `json:"created_by"`
	CreatedAt string  `json:"created_at"`
	RevokedAt *string `json:"revoked_at"`
	Key       string  `json:"key"`
}

type aging struct {
	AsOf       string `json:"as_of"`
	Currencies []struct {
		Currency      string `json:"currency"`
		Current       int64  `json:"current"`
		Overdue1To30  int64  `json:"overdue_1_30"`
		Overdue31To60 int64  `json:"overdue_31_60"`
		Overdue61To90 int64  `json:"overdue_61_90"`
		OverdueOver90 int64  `json:"overdue_over_90"`
	} `json:"currencies"`
}

type summary struct {
	From       string `json:"from"`
	To         string `json:"to"`
	Currencies []struct {
		Currency       string `json:"currency"`
		PaymentsOnline int64  `json:"payments_online"`
		PaymentsManual int64  `json:"payments_manual"`
		Refunds        int64  `json:"refunds"`
		Disputes       int64  `json:"disputes"`
		CreditNotes    int64  `json:"credit_notes"`
		WrittenOff     int64  `json:"written_off"`
		Outstanding    int64  `json:"outstanding"`
	} `json:"currencies"`
}
