package stripe

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// refundObject is a Refund: an item of a charge's refunds list, or the
// object of charge.refund.updated and refund.* events. When a refund fails
// after it succeeded, Stripe sends it again with status failed,
// failure_reason and failure_balance_transaction: the money is back.
type refundObject struct {
	Object        string          `json:"object"`
	ID            string          `json:"id"`
	Amount        int64           `json:"amount"`
	Charge        json.RawMessage `json:"charge"`
	PaymentIntent json.RawMessage `json:"payment_intent"`
	Currency      string          `json:"currency"`
	Status        string          `json:"status"`
	FailureReason string          `json:"failure_reason"`
	Metadata      json.RawMessage `json:"metadata"`
}

// refundStatuses are the statuses a refund may have.
var refundStatuses = []string{"pending", "requires_action", "succeeded", "failed", "canceled"}

// decodeRefund reads one refund object at path.
func decodeRefund(raw json.RawMessage, path string) (RefundObject, error) {
	var o refundObject
	if err := decodeValid(raw, &o, path); err != nil {
		return RefundObject{}, err
	}
	if o.Object != "refund" {
		return RefundObject{}, fmt.Errorf("%s.object is %q, want \"refund\"", path, o.Object)
	}
	if o.ID == "" {
		return RefundObject{}, fmt.Errorf("%s.id is missing", path)
	}
	charge, err := expandableID(o.Charge, path+".charge")
	if err != nil {
		return RefundObject{}, err
	}
	pi, err := expandableID(o.PaymentIntent, path+".payment_intent")
	if err != nil {
		return RefundObject{}, err
	}
	if o.Amount < 0 {
		return RefundObject{}, fmt.Errorf("%s.amount must be >= 0, got %d", path, o.Amount)
	}
	currency, err := normalizeCurrency(o.Currency, path+".currency")
	if err != nil {
		return RefundObject{}, err
	}
	if !slices.Contains(refundStatuses, o.Status) {
		return RefundObject{}, fmt.Errorf("%s.status %q is not a refund status", path, o.Status)
	}
	return RefundObject{ID: o.ID, Charge: charge, PaymentIntent: pi, Amount: o.Amount, Currency: currency,
		Status: o.Status, FailureReason: o.FailureReason}, nil
}

// decodeRefundEvent reads the refund of charge.refund.updated and refund.*
// events: a refund known by id, with no cumulative total.
func decodeRefundEvent(raw json.RawMessage, ev *Event) error {
	r, err := decodeRefund(raw, "data.object")
	if err != nil {
		return err
	}
	if r.Charge == "" && r.PaymentIntent == "" {
		// A refund of a customer balance or a transfer names no payment:
		// nothing the ledger recorded.
		return errors.New("data.object.charge and data.object.payment_intent are both missing")
	}
	ev.Kind = KindRefund
	ev.Refs = Refs{PaymentIntent: r.PaymentIntent, Charge: r.Charge}
	ev.Refunds = []RefundObject{r}
	return nil
}
