package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ledgerPayment is one of the ledger's Stripe payments as the comparison
// reads it.
type ledgerPayment struct {
	PaymentIntent string
	PaymentID     string
	InvoiceID     string
	Currency      string
	Amount        Amount
	Refunded      Amount
	Disputed      Amount
	CreatedAt     time.Time
}

// walkKey is a payment's place in a walk in (created_at, id) order.
type walkKey struct {
	at time.Time
	id string
}

// ledgerSelection picks which of the ledger's Stripe payments
// ledgerStripePayments reads: those of paymentIntents when it is set; else
// a page, in (created_at, id) order after after, of those recorded in
// [since, until) whose PaymentIntent the comparison notSeenBy has not
// compared.
type ledgerSelection struct {
	paymentIntents []string

	notSeenBy    string
	since, until time.Time
	after        walkKey
	limit        int
}

// ledgerStripeColumns and isLedgerStripePayment are what
// ledgerStripePayments reads of a payment p, and which payments are the
// ledger's Stripe payments matched by PaymentIntent.
const (
	ledgerStripeColumns = `p.provider_ref, p.id, p.invoice_id, p.currency, p.amount, p.refunded_amount,
		p.disputed_amount, p.created_at`
	isLedgerStripePayment = `p.source = 'stripe' AND p.deleted_at IS NULL AND p.provider_ref LIKE 'pi\_%'`
)

// ledgerStripePayments reads the ledger's Stripe payments, matched by their
// PaymentIntent, with the figures the comparison holds to Stripe's: the
// money received, refunded and held by disputes, and the currency. It is
// the one place that knows how the ledger names a Stripe payment's
// PaymentIntent, so a change of the money model changes only it.
//
// A payment's PaymentIntent is payments.provider_ref when that starts with
// pi_: a movement's payment takes its PaymentIntent's id as soon as any
// event links it (a payment known only by a Checkout Session or a Stripe
// invoice is left out: a PaymentIntent listing cannot show it). Refunded
// and disputed are the payment's cached refunded_amount and
// disputed_amount, recomputed from its refund and dispute rows in every
// change.
func (s *Store) ledgerStripePayments(ctx context.Context, sel ledgerSelection) ([]ledgerPayment, error) {
	var rows pgx.Rows
	var err error
	if sel.paymentIntents != nil {
		rows, err = s.db.Query(ctx, `SELECT `+ledgerStripeColumns+` FROM payments p
			WHERE p.provider_ref = ANY($1) AND `+isLedgerStripePayment, sel.paymentIntents)
	} else {
		rows, err = s.db.Query(ctx, `SELECT `+ledgerStripeColumns+` FROM payments p
			WHERE `+isLedgerStripePayment+`
			  AND p.created_at >= @since AND p.created_at < @until AND (p.created_at, p.id) > (@after_at, @after_id)
			  AND NOT EXISTS (SELECT 1 FROM provider_compare_seen c WHERE c.run_id = @run AND c.provider_ref = p.provider_ref)
			ORDER BY p.created_at, p.id
			LIMIT @limit`, pgx.NamedArgs{"since": sel.since, "until": sel.until, "after_at": sel.after.at,
			"after_id": sel.after.id, "run": sel.notSeenBy, "limit": sel.limit})
	}
	if err != nil {
		return nil, fmt.Errorf("read the ledger's Stripe payments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledgerPayment, error) {
		var lp ledgerPayment
		err := r.Scan(&lp.PaymentIntent, &lp.PaymentID, &lp.InvoiceID, &lp.Currency, &lp.Amount, &lp.Refunded,
			&lp.Disputed, &lp.CreatedAt)
		return lp, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the ledger's Stripe payments: %w", err)
	}
	return out, nil
}

// namedInvoice is a live invoice a Stripe payment names.
type namedInvoice struct {
	id, stripeID, currency string
}

// namedInvoices are the live invoices some Stripe payments name, by id and
// by Stripe invoice id.
type namedInvoices struct {
	byID, byStripeID map[string]namedInvoice
}

// of is the invoice p names, as the worker would pay it: metadata.invoice_id
// first, then the Stripe invoice.
func (n namedInvoices) of(p ProviderPayment) (namedInvoice, bool) {
	if inv, ok := n.byID[p.InvoiceID]; ok && p.InvoiceID != "" {
		return inv, true
	}
	inv, ok := n.byStripeID[p.StripeInvoiceID]
	return inv, ok && p.StripeInvoiceID != ""
}

// invoicesNamed reads the live invoices ps name, in one query.
func (s *Store) invoicesNamed(ctx context.Context, ps []ProviderPayment) (namedInvoices, error) {
	var byID, byStripe []string
	for _, p := range ps {
		if p.InvoiceID != "" {
			byID = append(byID, p.InvoiceID)
		}
		if p.StripeInvoiceID != "" {
			byStripe = append(byStripe, p.StripeInvoiceID)
		}
	}
	n := namedInvoices{byID: map[string]namedInvoice{}, byStripeID: map[string]namedInvoice{}}
	rows, err := s.db.Query(ctx, `
		SELECT id, coalesce(stripe_invoice_id, ''), currency FROM invoices
		WHERE deleted_at IS NULL AND (id = ANY($1) OR stripe_invoice_id = ANY($2))`, byID, byStripe)
	if err != nil {
		return n, fmt.Errorf("read invoices Stripe payments name: %w", err)
	}
	var inv namedInvoice
	_, err = pgx.ForEachRow(rows, []any{&inv.id, &inv.stripeID, &inv.currency}, func() error {
		n.byID[inv.id] = inv
		if inv.stripeID != "" {
			n.byStripeID[inv.stripeID] = inv
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("read invoices Stripe payments name: %w", err)
	}
	return n, nil
}

// eventState is where a stored event stands, and why.
type eventState struct {
	status EventStatus
	reason string
}

// eventStates reads the status of stored events by id.
func (s *Store) eventStates(ctx context.Context, ids []string) (map[string]eventState, error) {
	out := map[string]eventState{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT id, status, error FROM events WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d events: %w", len(ids), err)
	}
	var id string
	var st eventState
	_, err = pgx.ForEachRow(rows, []any{&id, &st.status, &st.reason}, func() error { out[id] = st; return nil })
	if err != nil {
		return nil, fmt.Errorf("read %d events: %w", len(ids), err)
	}
	return out, nil
}

// forgetComparisons empties the seen set of the comparison of runID, and
// with "" those of runs no longer running (a process that died mid-step).
func (s *Store) forgetComparisons(ctx context.Context, runID string) error {
	var err error
	if runID != "" {
		_, err = s.db.Exec(ctx, `DELETE FROM provider_compare_seen WHERE run_id = $1`, runID)
	} else {
		_, err = s.db.Exec(ctx, `DELETE FROM provider_compare_seen c
			WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = c.run_id AND r.status = 'running')`)
	}
	if err != nil {
		return fmt.Errorf("forget compared payments: %w", err)
	}
	return nil
}

// compareCursor is the newest PaymentIntent time a complete comparison has
// listed; nil before the first.
func (s *Store) compareCursor(ctx context.Context) (*time.Time, error) {
	var c *time.Time
	err := s.db.QueryRow(ctx, `SELECT last_created FROM provider_compare_cursor WHERE id`).Scan(&c)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("read the comparison's cursor: %w", err)
	}
	return c, nil
}

// advanceCompareCursor records a complete comparison: the newest
// PaymentIntent it listed (the cursor never goes back) and, for one of the
// whole window, its time. It returns the cursor.
func (s *Store) advanceCompareCursor(ctx context.Context, newest *time.Time, window bool) (*time.Time, error) {
	var cur *time.Time
	err := s.db.QueryRow(ctx, `
		INSERT INTO provider_compare_cursor (id, last_created, last_full_at)
		VALUES (true, $1, CASE WHEN $2::boolean THEN now() END)
		ON CONFLICT (id) DO UPDATE SET
			last_created = GREATEST(provider_compare_cursor.last_created, EXCLUDED.last_created),
			last_full_at = COALESCE(EXCLUDED.last_full_at, provider_compare_cursor.last_full_at),
			updated_at = now()
		RETURNING last_created`, newest, window).Scan(&cur)
	if err != nil {
		return nil, fmt.Errorf("advance the comparison's cursor: %w", err)
	}
	if cur != nil {
		u := cur.UTC()
		cur = &u
	}
	return cur, nil
}
