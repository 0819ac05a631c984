package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// PaymentMethods lists the methods an operator may record a manual payment
// with, in the order forms offer them.
func PaymentMethods() []string { return []string{"bank_transfer", "check", "cash", "other"} }

// ValidMethod reports whether m is a manual payment method.
func ValidMethod(m string) bool { return slices.Contains(PaymentMethods(), m) }

// errInvalidMethod is the refusal of a method not in PaymentMethods.
func errInvalidMethod() error {
	return apperr.Errorf(apperr.KindInvalid, "invalid_method", "method must be one of %s", strings.Join(PaymentMethods(), ", "))
}

// errInvalidNotes is the refusal of notes over textcheck.MaxNotes.
func errInvalidNotes() error {
	return apperr.Errorf(apperr.KindInvalid, "invalid_notes", "notes must be at most %d characters of text", textcheck.MaxNotes)
}

// ManualPayment is a payment an operator records. Key makes it idempotent:
// the same key again records nothing and returns the first payment.
type ManualPayment struct {
	Key string
	// Actor is the operator who records it.
	Actor     string
	InvoiceID string
	Amount    Amount
	PaidDate  Date
	Method    string
	Notes     string
}

// Validate names the first bad field.
func (m ManualPayment) Validate() error {
	switch {
	case m.Key == "":
		return apperr.Errorf(apperr.KindInvalid, "invalid_key", "a manual payment needs an idempotency key")
	case m.Amount <= 0:
		return apperr.Errorf(apperr.KindInvalid, "invalid_amount", "amount must be a positive integer of minor units")
	case m.PaidDate.IsZero():
		return apperr.Errorf(apperr.KindInvalid, "invalid_paid_date", "paid_date is required")
	case m.PaidDate.Before(EarliestPaidDate.Time):
		return errPaidDateTooEarly()
	case m.Method != "" && !ValidMethod(m.Method):
		return errInvalidMethod()
	case !textcheck.Valid(m.Notes, textcheck.MaxNotes):
		return errInvalidNotes()
	}
	return nil
}

// EarliestPaidDate is the first day a manual payment may be dated: an
// earlier date is a typing mistake (20-04-2024 read as the year 20), not a
// payment.
var EarliestPaidDate = Date{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}

func errPaidDateTooEarly() error {
	return apperr.Errorf(apperr.KindInvalid, "invalid_paid_date", "paid_date must not be before %s", EarliestPaidDate)
}

// CheckPaidDate refuses a manual payment's date that is in the future of
// today (the UTC day the operator asks on) or before EarliestPaidDate.
// The edges ask it with their clock when the request arrives; the ledger
// checks the earliest date again when the job runs, and leaves "the
// future" to the edge that knows when the operator asked (the job may run
// later, never earlier).
func CheckPaidDate(d, today Date) error {
	switch {
	case d.IsZero():
		return apperr.Errorf(apperr.KindInvalid, "invalid_paid_date", "paid_date is required")
	case d.Before(EarliestPaidDate.Time):
		return errPaidDateTooEarly()
	case d.After(today.Time):
		return apperr.Errorf(apperr.KindInvalid, "invalid_paid_date", "paid_date %s is in the future (today is %s, UTC)", d, today)
	}
	return nil
}

const paymentColumns = `id, invoice_id, amount, refunded_amount, disputed_amount, currency, paid_date, source, method,
	provider_ref, notes, created_at`

func scanPayment(row pgx.Row) (Payment, error) {
	var p Payment
	var paid time.Time
	err := row.Scan(&p.ID, &p.InvoiceID, &p.Amount, &p.RefundedAmount, &p.DisputedAmount, &p.Currency, &paid, &p.Source,
		&p.Method, &p.ProviderRef, &p.Notes, &p.CreatedAt)
	p.PaidDate, p.CreatedAt = DateOf(paid), p.CreatedAt.UTC()
	return p, err
}

// RecordManualPayment records an operator's payment on a sent invoice, never
// past what is unpaid, and returns the invoice after it and the payment. In
// a group of jobs (JobGroup) the payment may be judged in memory and
// written with the group's others when the group ends: then the invoice
// returned is the zero Invoice.
func (s *Store) RecordManualPayment(ctx context.Context, m ManualPayment) (Invoice, Payment, error) {
	if err := m.Validate(); err != nil {
		return Invoice{}, Payment{}, err
	}
	if s.group != nil {
		if err := validActor(m.Actor); err != nil {
			return Invoice{}, Payment{}, err
		}
		if pay, handled, err := s.group.manual.judge(m); handled {
			return Invoice{}, pay, err
		}
	}
	var pay Payment
	var method *string
	if m.Method != "" {
		method = &m.Method
	}
	inv, err := s.change(ctx, m.InvoiceID, Op{Key: m.Key, Actor: m.Actor}, outbox.PaymentRecorded, func(tx pgx.Tx, inv Invoice) (bool, *Payment, error) {
		if err := inv.CanRecordManualPayment(m.Amount); err != nil {
			return false, nil, err
		}
		var err error
		pay, err = scanPayment(tx.QueryRow(ctx, `
			INSERT INTO payments (id, invoice_id, source, amount, currency, paid_date, method, notes, idempotency_key)
			VALUES ($1, $2, 'manual', $3, $4, $5, $6, $7, $8)
			RETURNING `+paymentColumns,
			ids.New("pay"), inv.ID, m.Amount, inv.Currency, m.PaidDate.Time, method, m.Notes, m.Key))
		if err != nil {
			return false, nil, fmt.Errorf("insert payment on invoice %s: %w", inv.ID, err)
		}
		return true, &pay, addHistory(ctx, tx, inv.ID, history{kind: HistoryPaymentRecorded, amount: amountPtr(m.Amount),
			paymentID: pay.ID, notes: m.Notes, opKey: m.Key, actor: m.Actor})
	})
	if err != nil {
		return Invoice{}, Payment{}, err
	}
	if pay.ID == "" { // a replay: return the payment the key recorded
		pay, err = scanPayment(s.db.QueryRow(ctx,
			`SELECT `+paymentColumns+` FROM payments WHERE idempotency_key = $1`, m.Key))
		if err != nil {
			return Invoice{}, Payment{}, fmt.Errorf("read payment of key %s: %w", m.Key, err)
		}
	}
	return inv, pay, nil
}

// DeletePayment marks a live manual payment deleted; its row and history
// stay. op.Key makes it idempotent: a replay of the same deletion succeeds and
// changes nothing, where a new deletion of a deleted payment is not found.
func (s *Store) DeletePayment(ctx context.Context, op Op, invoiceID, paymentID string) (Invoice, error) {
	return s.change(ctx, invoiceID, op, outbox.PaymentDeleted, func(tx pgx.Tx, inv Invoice) (bool, *Payment, error) {
		// The invoice's row lock serialises every change of its payments, so
		// the payment read here is the one updated below.
		pay, err := scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments
			WHERE id = $1 AND invoice_id = $2 AND deleted_at IS NULL`, paymentID, invoiceID))
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil, paymentNotFound(invoiceID, paymentID)
		}
		if err != nil {
			return false, nil, fmt.Errorf("read payment %s: %w", paymentID, err)
		}
		if err := inv.CanDeletePayment(pay); err != nil {
			return false, nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE payments SET deleted_at = now() WHERE id = $1`, paymentID); err != nil {
			return false, nil, fmt.Errorf("delete payment %s: %w", paymentID, err)
		}
		return true, &pay, addHistory(ctx, tx, invoiceID, history{kind: HistoryPaymentDeleted, amount: amountPtr(pay.Amount),
			paymentID: paymentID, opKey: op.Key, actor: op.Actor})
	})
}

func paymentNotFound(invoiceID, paymentID string) error {
	return apperr.Errorf(apperr.KindNotFound, "payment_not_found", "invoice %s has no payment %s", invoiceID, paymentID)
}
