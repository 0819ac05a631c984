package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/outbox"
)

// PaymentFailure is a provider's attempt to take money that failed: no
// money moves, but the invoice's history and its subscribers hear of it.
type PaymentFailure struct {
	// Refs are the movement ids the event shows.
	Refs []string
	// InvoiceID is our invoice when the event names it; StripeInvoiceID a
	// Stripe invoice an invoice of ours may carry.
	InvoiceID       string
	StripeInvoiceID string
	Amount          Amount
	Currency        string
	// Reason is the provider's explanation, when it gave one.
	Reason string
}

// RecordPaymentFailure writes a payment_failed history row, and the
// notification invoice.payment_failed, on the invoice the failure names
// (by id, by Stripe invoice, or through the movement's payment). An
// invoice not found leaves the event unmatched. The event's id keys the
// row: a replay writes it once.
func (s *Store) RecordPaymentFailure(ctx context.Context, eventID string, f PaymentFailure) (EventResult, error) {
	refs, err := validRefs(f.Refs)
	if err != nil {
		return EventResult{}, err
	}
	if err := checkProviderText("invalid_failure", "failed payment", map[string]string{
		"invoice id": f.InvoiceID, "Stripe invoice id": f.StripeInvoiceID}); err != nil {
		return EventResult{}, err
	}
	stripeInvoices := stripeInvoiceRefs(refs)
	if f.StripeInvoiceID != "" {
		stripeInvoices = union(stripeInvoices, []string{f.StripeInvoiceID})
	}
	return s.onMovement(ctx, refs, f.InvoiceID, stripeInvoices, func(tx pgx.Tx, v *movementView) (EventResult, error) {
		var w movementWrite
		l := w.link(v, refs)
		inv, found := paymentTarget(v, OnlinePayment{ProviderRef: refs[0], Links: refs, InvoiceID: f.InvoiceID,
			StripeInvoiceID: f.StripeInvoiceID})
		if !found && l.payment != nil {
			inv, found = v.invoice(l.payment.InvoiceID)
		}
		if !found {
			res := EventResult{Status: EventUnmatched, InvoiceID: f.InvoiceID,
				Reason: fmt.Sprintf("no invoice %q (stripe invoice %q) for the failed payment %s", f.InvoiceID, f.StripeInvoiceID, refs[0])}
			return res, w.finish(ctx, tx, v, l, eventID, res)
		}
		notes := "stripe " + bestRef(v.refs, refs) + ": payment failed"
		if f.Reason != "" {
			// The provider's words, made text PostgreSQL takes.
			notes += ": " + strings.ReplaceAll(strings.ToValidUTF8(f.Reason, "?"), "\x00", "")
		}
		var amount *Amount
		if f.Amount > 0 {
			amount = &f.Amount
		}
		var wrote bool
		w.b.Queue(`
			INSERT INTO invoice_history (invoice_id, kind, amount, notes, op_key, actor) VALUES ($1, $2, $3, $4, NULLIF($5, ''), 'stripe')
			ON CONFLICT (op_key) WHERE op_key IS NOT NULL DO NOTHING
			RETURNING true`, inv.ID, HistoryPaymentFailed, amount, truncate(notes, 2000), eventID).
			QueryRow(func(row pgx.Row) error {
				if err := row.Scan(&wrote); !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				return nil
			})
		w.touched.add(inv.ID)
		w.sent = func() {
			if wrote { // a replay of the event tells nobody again
				w.touched.add(inv.ID, notice{typ: outbox.PaymentFailed})
			}
		}
		res := EventResult{Status: EventProcessed, InvoiceID: inv.ID}
		return res, w.finish(ctx, tx, v, l, eventID, res)
	})
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
