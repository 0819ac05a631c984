package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
)

// OnlinePayment is money a provider has already taken. ProviderRef, the
// PaymentIntent id, makes it one payment however many events announce it.
type OnlinePayment struct {
	ProviderRef     string
	InvoiceID       string
	StripeInvoiceID string
	Amount          Amount
	Currency        string
	PaidDate        Date
}

// Refund is a provider's cumulative refunded total of one payment.
type Refund struct {
	ProviderRef    string
	AmountRefunded Amount
	Currency       string
	InvoiceID      string
}

// lockProviderRef serialises everything done for one PaymentIntent (its
// payment and its refunds), so a refund racing its payment is never missed.
// It is taken before any invoice lock.
func lockProviderRef(ctx context.Context, tx pgx.Tx, ref string) error {
	if _, err := tx.Exec(ctx, lockProviderRefSQL, ref); err != nil {
		return fmt.Errorf("lock payment %s: %w", ref, err)
	}
	return nil
}

const lockProviderRefSQL = `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`

// RecordOnlinePayment records a provider's payment, always: it is money
// already taken, so an overpayment shows as a negative balance. eventID, when
// set, is the inbox event whose status the result is written to, in the same
// transaction.
//
// It is the worker's hot path: between BEGIN and COMMIT it takes two
// pipelined round trips of four statements (five when an endpoint is
// subscribed): the PaymentIntent's lock and one read of everything the
// change depends on, locking the invoice; then the writes and the recompute.
func (s *Store) RecordOnlinePayment(ctx context.Context, eventID string, p OnlinePayment) (EventResult, error) {
	if err := p.check(); err != nil {
		return EventResult{}, err
	}
	var res EventResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = recordOnline(ctx, tx, eventID, p)
		return err
	})
	return res, err
}

// onlineTarget is what the first round trip of recordOnline reads.
type onlineTarget struct {
	inv   Invoice // the invoice to pay, locked, when found
	found bool
	known string // the invoice of the PaymentIntent's payment, when recorded already
	subs  subscriptions
}

// findOnlineTarget reads the invoice a payment names, locked, with whether
// the PaymentIntent's payment is recorded already and who listens.
const findOnlineTarget = `
	SELECT ` + invoiceColumns + `,
		coalesce((SELECT invoice_id FROM payments WHERE provider_ref = $3), ''),
		(` + subscribedTypes + `)
	FROM invoices
	WHERE deleted_at IS NULL AND (id = $1 OR stripe_invoice_id = NULLIF($2, ''))
	ORDER BY id = $1 DESC LIMIT 1
	FOR UPDATE`

// insertOnlinePayment writes the payment, its history (a refund that arrived
// before it waits in refunds and is applied now, with a history row of its
// own) and the inbox event's result, and returns the payment.
const insertOnlinePayment = `
	WITH pay AS (
		INSERT INTO payments (id, invoice_id, source, amount, refunded_amount, currency, paid_date, provider_ref)
		VALUES ($1, $2, 'stripe', $3,
			LEAST($3, COALESCE((SELECT amount_refunded FROM refunds WHERE provider_ref = $6), 0)), $4, $5, $6)
		RETURNING ` + paymentColumns + `),
	hist AS (
		INSERT INTO invoice_history (invoice_id, kind, amount, payment_id, notes, actor)
		SELECT invoice_id, $7, amount, id, 'stripe ' || provider_ref, $11 FROM pay
		UNION ALL
		SELECT invoice_id, $8, refunded_amount, id, 'refunded before the payment arrived', $11 FROM pay WHERE refunded_amount > 0),
	ev AS (
		UPDATE events SET status = $10, invoice_id = $2, error = '', attempts = attempts + 1, processed_at = now()
		WHERE id = $9)
	SELECT ` + paymentColumns + ` FROM pay`

func recordOnline(ctx context.Context, tx pgx.Tx, eventID string, p OnlinePayment) (EventResult, error) {
	var t onlineTarget
	var reads pgx.Batch
	// The PaymentIntent's lock comes first, in a statement of its own: the
	// read after it then sees every payment and refund of it committed
	// before.
	reads.Queue(lockProviderRefSQL, p.ProviderRef)
	reads.Queue(findOnlineTarget, p.InvoiceID, p.StripeInvoiceID, p.ProviderRef).QueryRow(func(row pgx.Row) error {
		var err error
		t.inv, err = scanInvoice(rowWith{row, []any{&t.known, &t.subs}})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		t.found = err == nil
		return err
	})
	if err := tx.SendBatch(ctx, &reads).Close(); err != nil {
		return EventResult{}, fmt.Errorf("find invoice for payment %s: %w", p.ProviderRef, err)
	}
	if !t.found { // rare: read on its own what the invoice's row did not carry
		err := tx.QueryRow(ctx, `SELECT coalesce((SELECT invoice_id FROM payments WHERE provider_ref = $1), '')`,
			p.ProviderRef).Scan(&t.known)
		if err != nil {
			return EventResult{}, fmt.Errorf("look up payment %s: %w", p.ProviderRef, err)
		}
	}

	var res EventResult
	switch {
	case t.known != "":
		res = EventResult{Status: EventProcessed, InvoiceID: t.known}
	case !t.found:
		res = EventResult{Status: EventUnmatched, InvoiceID: p.InvoiceID,
			Reason: fmt.Sprintf("no invoice %q (stripe invoice %q) for payment %s", p.InvoiceID, p.StripeInvoiceID, p.ProviderRef)}
	case t.inv.Currency != p.Currency:
		res = EventResult{Status: EventNeedsReview, InvoiceID: t.inv.ID,
			Reason: fmt.Sprintf("payment %s is in %s, invoice %s in %s", p.ProviderRef, p.Currency, t.inv.ID, t.inv.Currency)}
	}
	if res.Status != "" {
		return res, setEventStatus(ctx, tx, eventID, res)
	}

	inv := t.inv
	var pay Payment
	var after Invoice
	var writes pgx.Batch
	writes.Queue(insertOnlinePayment, ids.New("pay"), inv.ID, p.Amount, p.Currency, p.PaidDate.Time, p.ProviderRef,
		HistoryPaymentRecorded, HistoryRefundRecorded, eventID, EventProcessed, ActorStripe).QueryRow(func(row pgx.Row) error {
		var err error
		pay, err = scanPayment(row)
		return err
	})
	writes.Queue(recomputeSQL, inv.ID).QueryRow(func(row pgx.Row) error {
		var err error
		after, err = scanInvoice(row)
		return err
	})
	if err := tx.SendBatch(ctx, &writes).Close(); err != nil {
		return EventResult{}, fmt.Errorf("record payment %s on invoice %s: %w", p.ProviderRef, inv.ID, err)
	}
	notices := []notice{{typ: outbox.PaymentRecorded, payment: &pay}}
	if pay.RefundedAmount > 0 {
		notices = append(notices, notice{typ: outbox.Refunded, payment: &pay})
	}
	if err := notifyWanted(ctx, tx, t.subs, inv.State, after, notices...); err != nil {
		return EventResult{}, err
	}
	return EventResult{Status: EventProcessed, InvoiceID: inv.ID}, nil
}

// ApplyRefund records a provider's cumulative refunded total. Only a higher
// total than the one known changes anything, so a late, smaller total and a
// duplicate are both harmless. A refund of a payment not yet seen is kept and
// applied when the payment arrives; its event stays unmatched until then.
func (s *Store) ApplyRefund(ctx context.Context, eventID string, r Refund) (EventResult, error) {
	if err := r.check(); err != nil {
		return EventResult{}, err
	}
	var res EventResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockProviderRef(ctx, tx, r.ProviderRef); err != nil {
			return err
		}
		var err error
		res, err = applyRefund(ctx, tx, r)
		if err != nil {
			return err
		}
		return setEventStatus(ctx, tx, eventID, res)
	})
	return res, err
}

func applyRefund(ctx context.Context, tx pgx.Tx, r Refund) (EventResult, error) {
	var total Amount
	err := tx.QueryRow(ctx, `
		INSERT INTO refunds (provider_ref, amount_refunded, currency, invoice_id)
		VALUES ($1, $2, $3, NULLIF($4, ''))
		ON CONFLICT (provider_ref) DO UPDATE
			SET amount_refunded = GREATEST(refunds.amount_refunded, EXCLUDED.amount_refunded), updated_at = now()
		RETURNING amount_refunded`, r.ProviderRef, r.AmountRefunded, r.Currency, r.InvoiceID).Scan(&total)
	if err != nil {
		return EventResult{}, fmt.Errorf("store refund of %s: %w", r.ProviderRef, err)
	}
	var payID, invoiceID, currency string
	var deleted bool
	err = tx.QueryRow(ctx, `SELECT id, invoice_id, currency, deleted_at IS NOT NULL FROM payments WHERE provider_ref = $1`,
		r.ProviderRef).Scan(&payID, &invoiceID, &currency, &deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return EventResult{Status: EventUnmatched, InvoiceID: r.InvoiceID,
			Reason: fmt.Sprintf("no payment %s yet: the refund is kept and applied when it arrives", r.ProviderRef)}, nil
	}
	if err != nil {
		return EventResult{}, fmt.Errorf("find payment %s: %w", r.ProviderRef, err)
	}
	if currency != r.Currency {
		return EventResult{Status: EventNeedsReview, InvoiceID: invoiceID,
			Reason: fmt.Sprintf("refund of %s is in %s, the payment in %s", r.ProviderRef, r.Currency, currency)}, nil
	}
	if deleted {
		return EventResult{Status: EventProcessed, InvoiceID: invoiceID, Reason: "payment was deleted: refund kept, not applied"}, nil
	}
	inv, err := lockInvoice(ctx, tx, invoiceID)
	if err != nil {
		return EventResult{}, err
	}
	var delta Amount
	pay, err := scanPayment(rowWith{tx.QueryRow(ctx, `
		WITH old AS (SELECT refunded_amount FROM payments WHERE id = $1)
		UPDATE payments p SET refunded_amount = LEAST(p.amount, $2)
		FROM old WHERE p.id = $1 AND LEAST(p.amount, $2) > old.refunded_amount
		RETURNING `+paymentColumnsOfP+`, p.refunded_amount - old.refunded_amount`, payID, total), []any{&delta}})
	if errors.Is(err, pgx.ErrNoRows) {
		return EventResult{Status: EventProcessed, InvoiceID: inv.ID}, nil // nothing new
	}
	if err != nil {
		return EventResult{}, fmt.Errorf("refund payment %s: %w", payID, err)
	}
	if err := addHistory(ctx, tx, inv.ID, history{kind: HistoryRefundRecorded, amount: amountPtr(delta),
		paymentID: payID, notes: "stripe " + r.ProviderRef, actor: ActorStripe}); err != nil {
		return EventResult{}, err
	}
	after, err := recompute(ctx, tx, inv.ID)
	if err != nil {
		return EventResult{}, err
	}
	if err := notify(ctx, tx, inv.State, after, notice{typ: outbox.Refunded, payment: &pay}); err != nil {
		return EventResult{}, err
	}
	return EventResult{Status: EventProcessed, InvoiceID: inv.ID}, nil
}
