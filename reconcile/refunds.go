package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// Refunds are objects with a lifecycle. Each refund a provider names by id
// is kept with the furthest status any event showed it in: pending and
// succeeded refunds count, failed and canceled ones give the money back. A
// charge's cumulative amount_refunded counts too, for the part its refunds
// known by id, whatever their status, do not explain (API.md):
//
//	refunded = Σ refunds by id pending or succeeded
//	         + max(0, highest amount_refunded seen − Σ refunds by id)
//
// Only rows in the payment's currency count, so a refund kept for review
// for its currency never moves money, whichever arrives first.

// RefundStatus is where a refund stands at its provider.
type RefundStatus string

// The refund statuses Stripe sends.
const (
	RefundPending        RefundStatus = "pending"
	RefundRequiresAction RefundStatus = "requires_action"
	RefundSucceeded      RefundStatus = "succeeded"
	RefundFailed         RefundStatus = "failed"
	RefundCanceled       RefundStatus = "canceled"
)

// ValidRefundStatus reports whether s is a refund status.
func ValidRefundStatus(s string) bool {
	switch RefundStatus(s) {
	case RefundPending, RefundRequiresAction, RefundSucceeded, RefundFailed, RefundCanceled:
		return true
	}
	return false
}

// RefundObject is one refund known by its id.
type RefundObject struct {
	ID string
	// Ref is the movement id it refunds: its Charge, or its PaymentIntent.
	Ref      string
	Amount   Amount
	Currency string
	Status   RefundStatus
}

// RefundTotal is a charge's cumulative refunded amount, as a provider
// reports it: only the highest seen counts.
type RefundTotal struct {
	// Ref is the charge (or PaymentIntent) the total is of.
	Ref            string
	AmountRefunded Amount
	Currency       string
}

// RefundUpdate is what one provider event tells of a movement's refunds:
// the movement ids it shows, a cumulative total when it carries one, and
// the refunds it names by id.
type RefundUpdate struct {
	Refs []string
	// InvoiceID is our invoice when the event names it, kept on an event
	// that waits for its payment.
	InvoiceID string
	Total     *RefundTotal
	Refunds   []RefundObject
}

// Refund is a provider's cumulative refunded total of one payment, for
// callers that know no refund by id.
type Refund struct {
	ProviderRef    string
	AmountRefunded Amount
	Currency       string
	InvoiceID      string
}

// ApplyRefund records a cumulative refunded total of the movement named
// ProviderRef (see ApplyRefunds).
func (s *Store) ApplyRefund(ctx context.Context, eventID string, r Refund) (EventResult, error) {
	if err := r.check(); err != nil {
		return EventResult{}, err
	}
	return s.ApplyRefunds(ctx, eventID, RefundUpdate{Refs: []string{r.ProviderRef}, InvoiceID: r.InvoiceID,
		Total: &RefundTotal{Ref: r.ProviderRef, AmountRefunded: r.AmountRefunded, Currency: r.Currency}})
}

// Validate names the first bad field.
func (u RefundUpdate) Validate() error {
	bad := func(format string, args ...any) error {
		return apperr.Errorf(apperr.KindInvalid, "invalid_refund", format, args...)
	}
	if u.Total == nil && len(u.Refunds) == 0 {
		return bad("a refund event needs a cumulative total or refunds by id")
	}
	if t := u.Total; t != nil && (t.Ref == "" || t.AmountRefunded < 0 || !ValidCurrency(t.Currency)) {
		return bad("a refunded total needs a provider ref, a non-negative amount and a currency")
	}
	for _, r := range u.Refunds {
		if !validID(r.ID) || r.Ref == "" || r.Amount < 0 || !ValidCurrency(r.Currency) || !ValidRefundStatus(string(r.Status)) {
			return bad("refund %s needs an id, a provider ref, a non-negative amount, a currency and a status", quoteShort(r.ID))
		}
	}
	return checkProviderText("invalid_refund", "refund", map[string]string{"invoice id": u.InvoiceID})
}

// refs is every movement id the update shows.
func (u RefundUpdate) refs() []string {
	out := slices.Clone(u.Refs)
	if u.Total != nil {
		out = append(out, u.Total.Ref)
	}
	for _, r := range u.Refunds {
		out = append(out, r.Ref)
	}
	return out
}

// currencies lists the currencies the update's rows are in.
func (u RefundUpdate) currencies() []string {
	var out []string
	if u.Total != nil {
		out = append(out, u.Total.Currency)
	}
	for _, r := range u.Refunds {
		out = append(out, r.Currency)
	}
	return out
}

// ApplyRefunds stores what an event tells of a movement's refunds and sets
// its payment's refunded amount from every refund row of the movement. A
// row is stored whatever comes of the event: before its payment (the event
// stays unmatched, and the refund counts when the payment arrives), and in
// another currency than the payment's (the event needs review, and the row
// never counts). A duplicate, or an older status arriving late, changes
// nothing.
func (s *Store) ApplyRefunds(ctx context.Context, eventID string, u RefundUpdate) (EventResult, error) {
	if err := u.Validate(); err != nil {
		return EventResult{}, err
	}
	refs, err := validRefs(u.refs())
	if err != nil {
		return EventResult{}, err
	}
	return s.onMovement(ctx, refs, "", []string{}, func(tx pgx.Tx, v *movementView) (EventResult, error) {
		var w movementWrite
		l := w.link(v, refs)
		queueRefundRows(&w.b, u)
		w.facts = true
		res := judgeMoneyEvent(l, "refund", u.currencies(), u.InvoiceID, refs)
		return res, w.finish(ctx, tx, v, l, eventID, res)
	})
}

// queueRefundRows queues the upserts of the update's rows: the highest
// total, and for each refund the furthest status (by rank, then by name)
// and the largest amount seen.
func queueRefundRows(b *pgx.Batch, u RefundUpdate) {
	if t := u.Total; t != nil {
		b.Queue(`
			INSERT INTO refund_totals (ref, currency, amount_refunded) VALUES ($1, $2, $3)
			ON CONFLICT (ref, currency) DO UPDATE SET amount_refunded = EXCLUDED.amount_refunded, updated_at = now()
			WHERE EXCLUDED.amount_refunded > refund_totals.amount_refunded`, t.Ref, t.Currency, t.AmountRefunded)
	}
	// One statement cannot update a row twice: a refund listed twice is
	// written once, at its furthest.
	byKey := map[[2]string]RefundObject{}
	var keys [][2]string
	for _, r := range u.Refunds {
		k := [2]string{r.ID, r.Currency}
		old, seen := byKey[k]
		if !seen {
			keys = append(keys, k)
		} else if refundRank(old.Status) > refundRank(r.Status) {
			r.Status = old.Status
		}
		r.Amount = max(r.Amount, old.Amount)
		byKey[k] = r
	}
	if len(keys) == 0 {
		return
	}
	var idList, curs, refList, statuses []string
	var amounts []int64
	for _, k := range keys {
		r := byKey[k]
		idList, curs, refList = append(idList, r.ID), append(curs, r.Currency), append(refList, r.Ref)
		amounts, statuses = append(amounts, int64(r.Amount)), append(statuses, string(r.Status))
	}
	b.Queue(`
		INSERT INTO refunds (id, currency, ref, amount, status)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
		ON CONFLICT (id, currency) DO UPDATE SET
			status = CASE WHEN (refund_status_rank(EXCLUDED.status), EXCLUDED.status)
			                 > (refund_status_rank(refunds.status), refunds.status)
			              THEN EXCLUDED.status ELSE refunds.status END,
			amount = GREATEST(refunds.amount, EXCLUDED.amount),
			updated_at = now()
		WHERE (refund_status_rank(EXCLUDED.status), EXCLUDED.status) > (refund_status_rank(refunds.status), refunds.status)
		   OR EXCLUDED.amount > refunds.amount`, idList, curs, refList, amounts, statuses)
}

// refundRank is refund_status_rank with the name as tie-break, in Go.
func refundRank(s RefundStatus) string {
	rank := "3"
	switch s {
	case RefundPending, RefundRequiresAction:
		rank = "1"
	case RefundSucceeded:
		rank = "2"
	}
	return rank + string(s)
}

// judgeMoneyEvent is what a refund or dispute event comes to: unmatched
// before its payment (its rows wait for it), needs_review in another
// currency than its payment (its rows never count), processed otherwise.
func judgeMoneyEvent(l linked, what string, currencies []string, invoiceID string, refs []string) EventResult {
	p := l.payment
	if p == nil {
		return EventResult{Status: EventUnmatched, InvoiceID: invoiceID,
			Reason: fmt.Sprintf("no payment of %s yet: the %s is kept and counts when the payment arrives", strings.Join(refs, ", "), what)}
	}
	for _, c := range currencies {
		if c != p.Currency {
			return EventResult{Status: EventNeedsReview, InvoiceID: p.InvoiceID,
				Reason: fmt.Sprintf("%s of %s is in %s, the payment %s in %s: it does not count", what, strings.Join(refs, ", "), c, p.ID, p.Currency)}
		}
	}
	if p.deleted {
		return EventResult{Status: EventProcessed, InvoiceID: p.InvoiceID,
			Reason: fmt.Sprintf("payment %s was deleted: the %s is kept, not applied", p.ID, what)}
	}
	return EventResult{Status: EventProcessed, InvoiceID: p.InvoiceID}
}
