package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// AgingBuckets are one currency's open balances by days past due.
type AgingBuckets struct {
	Currency      string `json:"currency"`
	Current       Amount `json:"current"`
	Overdue1To30  Amount `json:"overdue_1_30"`
	Overdue31To60 Amount `json:"overdue_31_60"`
	Overdue61To90 Amount `json:"overdue_61_90"`
	OverdueOver90 Amount `json:"overdue_over_90"`
}

// Aging sorts the open balances of sent invoices (open or partial, balance
// above zero) by how many days past their due date they are on asOf: not
// yet due (or with no due date) is current. The balances are today's; asOf
// says from which day the ages are counted.
func (s *Store) Aging(ctx context.Context, asOf Date) ([]AgingBuckets, error) {
	rows, err := s.db.Query(ctx, `
		SELECT currency,
			coalesce(sum(balance) FILTER (WHERE due_date IS NULL OR due_date >= @as_of), 0),
			coalesce(sum(balance) FILTER (WHERE @as_of - due_date BETWEEN 1 AND 30), 0),
			coalesce(sum(balance) FILTER (WHERE @as_of - due_date BETWEEN 31 AND 60), 0),
			coalesce(sum(balance) FILTER (WHERE @as_of - due_date BETWEEN 61 AND 90), 0),
			coalesce(sum(balance) FILTER (WHERE @as_of - due_date > 90), 0)
		FROM invoices
		WHERE deleted_at IS NULL AND sent_at IS NOT NULL AND state IN ('open', 'partial') AND balance > 0
		GROUP BY currency
		ORDER BY currency`, pgx.NamedArgs{"as_of": asOf.Time})
	if err != nil {
		return nil, fmt.Errorf("aging report: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgingBuckets, error) {
		var b AgingBuckets
		err := r.Scan(&b.Currency, &b.Current, &b.Overdue1To30, &b.Overdue31To60, &b.Overdue61To90, &b.OverdueOver90)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("aging report: %w", err)
	}
	return out, nil
}

// MovementKind names a money movement in the movements report. Each kind
// has its reversal: a reversal has the opposite sign of what it reverses.
type MovementKind string

// The kinds of money movement. Money received is positive and money
// returned negative; credit notes and write-offs, which lower what is due,
// are positive; every reversal has the opposite sign of what it reverses.
const (
	// MovementPayment is money received (+), dated by its paid date.
	MovementPayment MovementKind = "payment"
	// MovementPaymentDeleted reverses a payment recorded in error (-), dated
	// by its deletion.
	MovementPaymentDeleted MovementKind = "payment_deleted"
	// MovementRefund is money given back (-).
	MovementRefund MovementKind = "refund"
	// MovementRefundFailed reverses a refund that failed or was canceled
	// (+): the money came back.
	MovementRefundFailed MovementKind = "refund_failed"
	// MovementDispute is money a chargeback withdrew (-).
	MovementDispute MovementKind = "dispute"
	// MovementDisputeWon reverses a dispute's withdrawal (+): the money was
	// reinstated.
	MovementDisputeWon MovementKind = "dispute_won"
	// MovementCreditNote lowers what is due (+).
	MovementCreditNote MovementKind = "credit_note"
	// MovementCreditNoteReversed reverses a credit note (-).
	MovementCreditNoteReversed MovementKind = "credit_note_reversed"
	// MovementWriteOff books a balance as bad debt (+), dated by its day.
	MovementWriteOff MovementKind = "write_off"
	// MovementWriteOffReversed reverses a write-off by a reopen (-), for
	// the whole amount written off.
	MovementWriteOffReversed MovementKind = "write_off_reversed"
)

// Movement is one row of the movements report.
type Movement struct {
	Date      Date
	InvoiceID string
	Number    string
	Client    string
	Currency  string
	Kind      MovementKind
	// Amount is in minor units, signed as MovementKind says.
	Amount Amount
	// Source is stripe for Stripe's movements, manual for an operator's.
	Source string
	// Reference names the movement: a payment's PaymentIntent (or, for a
	// manual one, the payment's id), a refund's payment, a write-off's id.
	Reference string
	// Actor is who made it: an operator's name, stripe or reconciler.
	Actor string
}

// movementBranches are the report's sources, one SELECT each, with the
// same columns: (on_date, at, invoice_id, kind, amount, source, reference,
// actor), each bounded to the range by @from and @to (dates) or @from_at
// and @until_at (the range's first and after-last instants, UTC). A new
// kind of movement is one more branch: credit notes (credit_note and
// credit_note_reversed, from the credit_notes table) and disputes (dispute
// and dispute_won, from the disputes table or the dispute_opened and
// dispute_won history rows) slot in here, as refund_failed does with the
// refund_failed history rows.
var movementBranches = []string{
	// Payments, deleted ones too: a deletion is its own, later row.
	`SELECT p.paid_date, p.created_at, p.invoice_id, 'payment', p.amount, p.source,
		coalesce(p.provider_ref, p.id), coalesce(h.actor, p.source)
	FROM payments p
	LEFT JOIN invoice_history h ON h.payment_id = p.id AND h.kind = 'payment_recorded'
	WHERE p.paid_date BETWEEN @from AND @to`,
	`SELECT (p.deleted_at AT TIME ZONE 'UTC')::date, p.deleted_at, p.invoice_id, 'payment_deleted', -p.amount, p.source,
		coalesce(p.provider_ref, p.id), coalesce(h.actor, '')
	FROM payments p
	LEFT JOIN invoice_history h ON h.payment_id = p.id AND h.kind = 'payment_deleted'
	WHERE p.deleted_at >= @from_at AND p.deleted_at < @until_at`,
	// Refunds as the ledger recorded them: each history row is the part of
	// the refunded total that was new then.
	`SELECT (h.at AT TIME ZONE 'UTC')::date, h.at, h.invoice_id, 'refund', -h.amount, 'stripe',
		coalesce(p.provider_ref, h.payment_id, ''), h.actor
	FROM invoice_history h
	LEFT JOIN payments p ON p.id = h.payment_id
	WHERE h.kind = 'refund_recorded' AND h.at >= @from_at AND h.at < @until_at`,
	`SELECT w.written_off_on, w.created_at, w.invoice_id, 'write_off', w.amount, 'manual', w.id, w.actor
	FROM write_offs w
	WHERE w.written_off_on BETWEEN @from AND @to`,
	`SELECT (w.reversed_at AT TIME ZONE 'UTC')::date, w.reversed_at, w.invoice_id, 'write_off_reversed', -w.amount,
		'manual', w.id, w.reversed_by
	FROM write_offs w
	WHERE w.reversed_at >= @from_at AND w.reversed_at < @until_at`,
}

// movementsSQL joins the branches to their invoices, in date order, and
// within a day in the order the movements were made.
var movementsSQL = `
	SELECT m.on_date, m.invoice_id, i.number, i.client, i.currency, m.kind, m.amount, m.source, m.reference, m.actor
	FROM (` + strings.Join(movementBranches, "\n\tUNION ALL\n\t") + `) AS m (on_date, at, invoice_id, kind, amount, source, reference, actor)
	JOIN invoices i ON i.id = m.invoice_id
	ORDER BY m.on_date, m.at, m.invoice_id, m.kind, m.reference`

// Movements calls fn with each money movement dated from..to (inclusive),
// in date order, as PostgreSQL sends the rows: a year of them costs no more
// memory here than one. Movements of invoices deleted since are included:
// their money moved. fn's error stops the walk and is returned.
func (s *Store) Movements(ctx context.Context, from, to Date, fn func(Movement) error) error {
	if to.Before(from.Time) {
		return apperr.Errorf(apperr.KindInvalid, "invalid_range", "to is before from")
	}
	rows, err := s.db.Query(ctx, movementsSQL, pgx.NamedArgs{
		"from": from.Time, "to": to.Time,
		"from_at": from.Time, "until_at": to.Time.Add(24 * time.Hour),
	})
	if err != nil {
		return fmt.Errorf("movements report: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Movement
		var on time.Time
		if err := rows.Scan(&on, &m.InvoiceID, &m.Number, &m.Client, &m.Currency, &m.Kind, &m.Amount, &m.Source,
			&m.Reference, &m.Actor); err != nil {
			return fmt.Errorf("movements report: %w", err)
		}
		m.Date = DateOf(on)
		if err := fn(m); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("movements report: %w", err)
	}
	return nil
}
