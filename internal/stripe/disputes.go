package stripe

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// disputeObject is a Dispute, the object of every charge.dispute.* event.
// Its balance_transactions are the withdrawal of the disputed funds and,
// once won, their reinstatement.
type disputeObject struct {
	Object              string            `json:"object"`
	ID                  string            `json:"id"`
	Amount              int64             `json:"amount"`
	Charge              json.RawMessage   `json:"charge"`
	PaymentIntent       json.RawMessage   `json:"payment_intent"`
	Currency            string            `json:"currency"`
	Status              string            `json:"status"`
	BalanceTransactions []json.RawMessage `json:"balance_transactions"`
	Metadata            json.RawMessage   `json:"metadata"`
}

// disputeStatuses are the statuses a dispute may have; warning_* are
// inquiries and prevented ones never began, neither withdraws anything.
var disputeStatuses = []string{"warning_needs_response", "warning_under_review", "warning_closed",
	"needs_response", "under_review", "won", "lost", "prevented"}

func decodeDisputeEvent(raw json.RawMessage, ev *Event) error {
	var o disputeObject
	if err := decodeObject(raw, &o, "dispute", &o.Object, &o.ID); err != nil {
		return err
	}
	charge, err := expandableID(o.Charge, "data.object.charge")
	if err != nil {
		return err
	}
	pi, err := expandableID(o.PaymentIntent, "data.object.payment_intent")
	if err != nil {
		return err
	}
	if charge == "" && pi == "" {
		return errors.New("data.object.charge and data.object.payment_intent are both missing")
	}
	if o.Amount < 0 {
		return fmt.Errorf("data.object.amount must be >= 0, got %d", o.Amount)
	}
	currency, err := normalizeCurrency(o.Currency, "data.object.currency")
	if err != nil {
		return err
	}
	if !slices.Contains(disputeStatuses, o.Status) {
		return fmt.Errorf("data.object.status %q is not a dispute status", o.Status)
	}
	d := &Dispute{ID: o.ID, Charge: charge, PaymentIntent: pi, Amount: o.Amount, Currency: currency, Status: o.Status,
		Withdrawn: ev.Type == typeDisputeFundsWithdrawn, Reinstated: ev.Type == typeDisputeFundsReinstated,
		InvoiceID: metadataString(o.Metadata, metaInvoiceID)}
	for _, bt := range o.BalanceTransactions {
		// Expanded balance transactions say which way the money went; an
		// id alone says nothing.
		var t struct {
			Amount int64 `json:"amount"`
		}
		if len(bt) == 0 || bt[0] != '{' || json.Unmarshal(bt, &t) != nil {
			continue
		}
		d.Withdrawn = d.Withdrawn || t.Amount < 0
		d.Reinstated = d.Reinstated || t.Amount > 0
	}
	ev.Kind = KindDispute
	ev.Refs = Refs{PaymentIntent: pi, Charge: charge}
	ev.Dispute = d
	return nil
}
