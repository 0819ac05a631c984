package reconcile

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// NewInvoice is what creating an invoice takes. ID may be empty: the store
// makes one.
type NewInvoice struct {
	ID              string
	Number          string
	Client          string
	Currency        string
	Amount          Amount
	IssueDate       *Date
	DueDate         *Date
	StripeInvoiceID string
	// Actor is the operator who creates it.
	Actor string
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether s can be an invoice or payment id.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Validate names the first bad field.
func (n NewInvoice) Validate() error {
	text := func(field, v string) error {
		if v == "" || !textcheck.Valid(v, 200) {
			return apperr.Errorf(apperr.KindInvalid, "invalid_"+field, "%s must be 1 to 200 characters", field)
		}
		return nil
	}
	switch {
	case n.ID != "" && !ValidID(n.ID):
		return apperr.Errorf(apperr.KindInvalid, "invalid_id", "id must be 1 to 64 letters, digits, '_' or '-'")
	case text("number", n.Number) != nil:
		return text("number", n.Number)
	case text("client", n.Client) != nil:
		return text("client", n.Client)
	case !ValidCurrency(n.Currency):
		return apperr.Errorf(apperr.KindInvalid, "invalid_currency", "currency must be a lower-case ISO code such as usd")
	case n.Amount <= 0:
		return apperr.Errorf(apperr.KindInvalid, "invalid_amount", "amount must be a positive integer of minor units")
	case n.IssueDate != nil && n.DueDate != nil && n.DueDate.Before(n.IssueDate.Time):
		return apperr.Errorf(apperr.KindInvalid, "invalid_due_date", "due_date is before issue_date")
	case n.StripeInvoiceID != "" && !ValidID(n.StripeInvoiceID):
		return apperr.Errorf(apperr.KindInvalid, "invalid_stripe_invoice_id", "stripe_invoice_id must be a Stripe id such as in_123")
	}
	return validActor(n.Actor)
}

// CreateInvoice adds a draft invoice. An id that exists (even deleted) is a
// conflict.
func (s *Store) CreateInvoice(ctx context.Context, n NewInvoice) (Invoice, error) {
	if err := n.Validate(); err != nil {
		return Invoice{}, err
	}
	if n.ID == "" {
		n.ID = ids.New("inv")
	}
	var stripeID *string
	if n.StripeInvoiceID != "" {
		stripeID = &n.StripeInvoiceID
	}
	var out Invoice
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		inv, err := scanInvoice(tx.QueryRow(ctx, `
			INSERT INTO invoices (id, number, client, currency, amount, balance, issue_date, due_date, stripe_invoice_id)
			VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)
			ON CONFLICT (id) DO NOTHING
			RETURNING `+invoiceColumns,
			n.ID, n.Number, n.Client, n.Currency, n.Amount, n.IssueDate.timeOrNil(), n.DueDate.timeOrNil(), stripeID))
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Errorf(apperr.KindConflict, "invoice_exists", "invoice %s exists", n.ID)
		}
		if isUniqueViolation(err, "invoices_stripe_invoice_id_key") {
			return apperr.Errorf(apperr.KindConflict, "stripe_invoice_id_taken", "another invoice has stripe_invoice_id %s", n.StripeInvoiceID)
		}
		if err != nil {
			return fmt.Errorf("create invoice %s: %w", n.ID, err)
		}
		out = inv
		return addHistory(ctx, tx, inv.ID, history{kind: HistoryCreated, amount: amountPtr(inv.Amount), actor: n.Actor})
	})
	return out, err
}

// SendInvoice marks an invoice sent. Sending it again changes nothing. op
// names who sends it; it needs no key.
func (s *Store) SendInvoice(ctx context.Context, op Op, id string) (Invoice, error) {
	return s.change(ctx, id, op, "", func(tx pgx.Tx, inv Invoice) (bool, *Payment, error) {
		if inv.sent() {
			return false, nil, nil
		}
		if _, err := tx.Exec(ctx, `UPDATE invoices SET sent_at = now() WHERE id = $1`, id); err != nil {
			return false, nil, fmt.Errorf("send invoice %s: %w", id, err)
		}
		return true, nil, addHistory(ctx, tx, id, history{kind: HistorySent, actor: op.Actor})
	})
}

// DeleteInvoice removes an invoice that has no money on it. Its row stays
// (its id is never reused) but it leaves every listing, and events naming it
// are unmatched. op names who deletes it; it needs no key.
func (s *Store) DeleteInvoice(ctx context.Context, op Op, id string) error {
	_, err := s.change(ctx, id, op, "", func(tx pgx.Tx, inv Invoice) (bool, *Payment, error) {
		var live int
		if err := tx.QueryRow(ctx,
			`SELECT count(*) FROM payments WHERE invoice_id = $1 AND deleted_at IS NULL`, id).Scan(&live); err != nil {
			return false, nil, fmt.Errorf("count payments of invoice %s: %w", id, err)
		}
		if err := inv.CanDelete(live); err != nil {
			return false, nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE invoices SET deleted_at = now(), updated_at = now() WHERE id = $1`, id); err != nil {
			return false, nil, fmt.Errorf("delete invoice %s: %w", id, err)
		}
		return false, nil, addHistory(ctx, tx, id, history{kind: HistoryDeleted, actor: op.Actor})
	})
	return err
}
