package reconcile

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// A dispute (a chargeback) withdraws its money from the payment until it is
// reinstated: a won dispute gives it back, a lost one keeps it withdrawn, an
// inquiry (warning_*) withdraws nothing. Each dispute is kept with the
// furthest status any event showed it in, and whether any event showed its
// funds withdrawn or reinstated, so its final state does not depend on the
// order or repetition of its events.

// DisputeStatus is where a dispute stands at its provider.
type DisputeStatus string

// The dispute statuses Stripe sends.
const (
	DisputeWarningNeedsResponse DisputeStatus = "warning_needs_response"
	DisputeWarningUnderReview   DisputeStatus = "warning_under_review"
	DisputeWarningClosed        DisputeStatus = "warning_closed"
	DisputeNeedsResponse        DisputeStatus = "needs_response"
	DisputeUnderReview          DisputeStatus = "under_review"
	DisputeWon                  DisputeStatus = "won"
	DisputeLost                 DisputeStatus = "lost"
	DisputePrevented            DisputeStatus = "prevented"
)

// ValidDisputeStatus reports whether s is a dispute status.
func ValidDisputeStatus(s string) bool {
	switch DisputeStatus(s) {
	case DisputeWarningNeedsResponse, DisputeWarningUnderReview, DisputeWarningClosed,
		DisputeNeedsResponse, DisputeUnderReview, DisputeWon, DisputeLost, DisputePrevented:
		return true
	}
	return false
}

// Dispute is what one provider event tells of a dispute.
type Dispute struct {
	ID string
	// Ref is the movement id disputed: its Charge, or its PaymentIntent.
	Ref string
	// Refs are the movement's other ids the event shows.
	Refs     []string
	Amount   Amount
	Currency string
	Status   DisputeStatus
	// Withdrawn and Reinstated say the event showed the disputed funds
	// withdrawn from, or given back to, the balance.
	Withdrawn  bool
	Reinstated bool
	// InvoiceID is our invoice when the event names it.
	InvoiceID string
}

// Validate names the first bad field.
func (d Dispute) Validate() error {
	if !validID(d.ID) || d.Ref == "" || d.Amount < 0 || !ValidCurrency(d.Currency) || !ValidDisputeStatus(string(d.Status)) {
		return apperr.Errorf(apperr.KindInvalid, "invalid_dispute",
			"a dispute needs an id, a provider ref, a non-negative amount, a currency and a status")
	}
	return checkProviderText("invalid_dispute", "dispute", map[string]string{"invoice id": d.InvoiceID})
}

// ApplyDispute stores what an event tells of a dispute and sets its
// payment's disputed amount from every dispute of the movement: a
// dispute_opened history row when money is withdrawn, dispute_won when it
// comes back, dispute_lost when a dispute is lost. As with refunds, a
// dispute before its payment waits for it, and one in another currency
// than its payment never counts.
func (s *Store) ApplyDispute(ctx context.Context, eventID string, d Dispute) (EventResult, error) {
	if err := d.Validate(); err != nil {
		return EventResult{}, err
	}
	refs, err := validRefs(append(slices.Clone(d.Refs), d.Ref))
	if err != nil {
		return EventResult{}, err
	}
	return s.onMovement(ctx, refs, "", []string{}, func(tx pgx.Tx, v *movementView) (EventResult, error) {
		var w movementWrite
		l := w.link(v, refs)
		w.b.Queue(`
			INSERT INTO disputes (id, currency, ref, amount, status, withdrawn, reinstated)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id, currency) DO UPDATE SET
				status = CASE WHEN (dispute_status_rank(EXCLUDED.status), EXCLUDED.status)
				                 > (dispute_status_rank(disputes.status), disputes.status)
				              THEN EXCLUDED.status ELSE disputes.status END,
				amount = GREATEST(disputes.amount, EXCLUDED.amount),
				withdrawn = disputes.withdrawn OR EXCLUDED.withdrawn,
				reinstated = disputes.reinstated OR EXCLUDED.reinstated,
				updated_at = now()`,
			d.ID, d.Currency, d.Ref, d.Amount, d.Status, d.Withdrawn, d.Reinstated)
		w.facts = true
		res := judgeMoneyEvent(l, "dispute", []string{d.Currency}, d.InvoiceID, refs)
		return res, w.finish(ctx, tx, v, l, eventID, res)
	})
}
