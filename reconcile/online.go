package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
)

// OnlinePayment is money a provider has already taken. ProviderRef and
// Links are the ids the event names its money movement by: one movement is
// one payment however many of its events, under whichever ids, announce it.
type OnlinePayment struct {
	// ProviderRef is the id the event names the movement by (a
	// PaymentIntent, or a Stripe invoice paid without one).
	ProviderRef string
	// Links are the movement's other ids the event shows (its Charge,
	// Checkout Session, Stripe invoice, InvoicePayment).
	Links []string
	// InvoiceID is our invoice when the event names it; StripeInvoiceID a
	// Stripe invoice an invoice of ours may carry.
	InvoiceID       string
	StripeInvoiceID string
	Amount          Amount
	Currency        string
	PaidDate        Date
}

// refs is every id of the movement the payment's event shows.
func (p OnlinePayment) refs() []string { return append([]string{p.ProviderRef}, p.Links...) }

// RecordOnlinePayment records a provider's payment, always: it is money
// already taken, so an overpayment shows as a negative balance. eventID, when
// set, is the inbox event whose status the result is written to, in the same
// transaction.
//
// A movement already paid is not paid again: the event only links the ids it
// shows to the movement, and when those ids join two movements that each
// have a payment, the younger payment is merged into the older. A refund or
// dispute stored before the payment counts from the moment it arrives.
//
// It is the worker's hot path: between BEGIN and COMMIT it takes two
// pipelined round trips (three when a subscribed endpoint is told): the refs'
// locks and one read of the movement, its payments and its invoices,
// locking them; then the writes and the recompute.
func (s *Store) RecordOnlinePayment(ctx context.Context, eventID string, p OnlinePayment) (EventResult, error) {
	if err := p.check(); err != nil {
		return EventResult{}, err
	}
	refs, err := validRefs(p.refs())
	if err != nil {
		return EventResult{}, err
	}
	if res, done := s.appliedInGroup(eventID); done {
		return res, nil
	}
	if s.planning() {
		s.planPayment(eventID, p, refs)
	}
	stripeInvoices := stripeInvoiceRefs(refs)
	if p.StripeInvoiceID != "" {
		stripeInvoices = union(stripeInvoices, []string{p.StripeInvoiceID})
	}
	return s.onMovement(ctx, refs, p.InvoiceID, stripeInvoices, func(tx pgx.Tx, v *movementView) (EventResult, error) {
		return recordOnline(ctx, tx, v, eventID, p, refs)
	})
}

// paymentTarget is the invoice a payment of the movement goes to: the one
// the event names by id, else one whose Stripe invoice is the event's or the
// movement's.
func paymentTarget(v *movementView, p OnlinePayment) (Invoice, bool) {
	if inv, ok := v.invoice(p.InvoiceID); ok {
		return inv, true
	}
	var found *Invoice
	for i, inv := range v.invoices {
		if inv.StripeInvoiceID == nil {
			continue
		}
		if *inv.StripeInvoiceID == p.StripeInvoiceID {
			return inv, true
		}
		if found == nil && (slices.Contains(v.refs, *inv.StripeInvoiceID) || slices.Contains(p.refs(), *inv.StripeInvoiceID)) {
			found = &v.invoices[i]
		}
	}
	if found != nil {
		return *found, true
	}
	return Invoice{}, false
}

// insertOnlinePayment writes the payment, its history, the refs that join
// its movement and the inbox event's result, in one statement, and returns
// the payment.
var insertOnlinePayment = `
	WITH refs AS (
		INSERT INTO movement_refs (ref, movement_id) SELECT r, $7 FROM unnest($11::text[]) AS u (r)
		ON CONFLICT (ref) DO NOTHING),
	pay AS (
		INSERT INTO payments (id, invoice_id, source, amount, currency, paid_date, provider_ref, movement_id)
		VALUES ($1, $2, 'stripe', $3, $4, $5, $6, $7)
		RETURNING ` + paymentColumns + `),
	hist AS (
		INSERT INTO invoice_history (invoice_id, kind, amount, payment_id, notes, actor)
		SELECT invoice_id, $8, amount, id, 'stripe ' || provider_ref, 'stripe' FROM pay),
	ev AS (
		UPDATE events SET status = $10, invoice_id = $2, error = '', attempts = attempts + 1, processed_at = now()
		WHERE id = $9)
	SELECT ` + paymentColumns + ` FROM pay`

func recordOnline(ctx context.Context, tx pgx.Tx, v *movementView, eventID string, p OnlinePayment, refs []string) (EventResult, error) {
	var w movementWrite
	l := w.link(v, refs)
	if l.payment != nil {
		// Paid already, under this id or another of the movement's.
		res := EventResult{Status: EventProcessed, InvoiceID: l.payment.InvoiceID}
		return res, w.finish(ctx, tx, v, l, eventID, res)
	}
	inv, found := paymentTarget(v, p)
	var res EventResult
	switch {
	case !found:
		res = EventResult{Status: EventUnmatched, InvoiceID: p.InvoiceID,
			Reason: fmt.Sprintf("no invoice %q (stripe invoice %q) for payment %s", p.InvoiceID, p.StripeInvoiceID, p.ProviderRef)}
	case inv.Currency != p.Currency:
		res = EventResult{Status: EventNeedsReview, InvoiceID: inv.ID,
			Reason: fmt.Sprintf("payment %s is in %s, invoice %s in %s", p.ProviderRef, p.Currency, inv.ID, inv.Currency)}
	}
	if res.Status != "" {
		return res, w.finish(ctx, tx, v, l, eventID, res)
	}

	pay := &movementPayment{Payment: Payment{ID: ids.New("pay"), InvoiceID: inv.ID}, movementID: l.movementID}
	w.b.Queue(insertOnlinePayment, pay.ID, inv.ID, p.Amount, p.Currency, p.PaidDate.Time,
		bestRef(v.refs, refs), l.movementID, HistoryPaymentRecorded, eventID, EventProcessed, nonNil(l.missing)).
		QueryRow(func(row pgx.Row) error {
			var err error
			pay.Payment, err = scanPayment(row)
			return err
		})
	w.statusWritten, l.missing = true, nil
	w.touched.add(inv.ID, notice{typ: outbox.PaymentRecorded, payment: &pay.Payment})
	if len(v.movements) > 0 {
		// The movement was known: refunds or disputes may wait for it.
		l.payment, l.changed = pay, true
	}
	res = EventResult{Status: EventProcessed, InvoiceID: inv.ID}
	return res, w.finish(ctx, tx, v, l, eventID, res)
}

// nonNil is refs, or an empty list for an array parameter.
func nonNil(refs []string) []string {
	if refs == nil {
		return []string{}
	}
	return refs
}
