package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
)

// Most events a group commit applies are the first word of a new money
// movement: a payment_intent.succeeded naming its invoice, no other event
// of its movement yet. Such a payment is written by set-based statements
// for the whole group (writeFresh), in a handful of statements however many
// there are, instead of a round trip of reads and one of writes each.
//
// It is the same change recordOnline makes, for exactly the payments where
// recordOnline's reads would find nothing to decide on: none of the
// payment's refs belongs to a movement, and no other change of the group
// shares a ref or the invoice, or may reach the invoice by a Stripe invoice
// or a movement's payment. Its invoice exists, in the payment's currency,
// and no endpoint is subscribed to what the payment tells. Every other
// payment, and every other change, goes the way of a single change, in the
// same transaction.

// freshPayment is an online payment of a group, planned.
type freshPayment struct {
	eventID string
	payment OnlinePayment
	refs    []string // checked and sorted
}

// planPayment records, in a planning store, an online payment that
// writeFresh may write.
func (s *Store) planPayment(eventID string, p OnlinePayment, refs []string) {
	if eventID != "" && p.InvoiceID != "" {
		s.group.payments = append(s.group.payments, freshPayment{eventID: eventID, payment: p, refs: refs})
	}
}

// appliedInGroup returns the result of an event writeFresh applied.
func (s *Store) appliedInGroup(eventID string) (EventResult, bool) {
	if s.group == nil || eventID == "" {
		return EventResult{}, false
	}
	res, ok := s.group.done[eventID]
	return res, ok
}

// freshOnes picks the planned payments writeFresh may write, by the rules
// above.
func freshOnes(plan *group, v groupView) []freshPayment {
	if v.subs.want(outbox.PaymentRecorded) || v.subs.want(outbox.Paid) {
		return nil
	}
	refUses := map[string]int{}
	for _, r := range plan.locks.refs {
		refUses[r]++
	}
	for _, r := range v.knownRefs {
		refUses[r] += 2 // a movement has it: never fresh
	}
	invoiceUses := map[string]int{}
	for _, id := range plan.locks.invoices {
		invoiceUses[id]++
	}
	var out []freshPayment
	for _, p := range plan.payments {
		inv, found := v.invoices[p.payment.InvoiceID]
		if !found || inv.otherwise || inv.currency != p.payment.Currency || invoiceUses[p.payment.InvoiceID] != 1 {
			continue
		}
		shared := false
		for _, r := range p.refs {
			shared = shared || refUses[r] != 1
		}
		if !shared {
			out = append(out, p)
		}
	}
	return out
}

// writeFreshSQL writes fresh payments, their history and their events'
// results; insertRefsManySQL their movements' refs.
const (
	insertRefsManySQL = `INSERT INTO movement_refs (ref, movement_id) SELECT * FROM unnest($1::text[], $2::text[])`
	writeFreshSQL     = `
	WITH pay AS (
		INSERT INTO payments (id, invoice_id, source, amount, currency, paid_date, provider_ref, movement_id)
		SELECT id, inv, 'stripe', amount, currency, paid, ref, mov
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::date[], $6::text[], $7::text[])
			AS u (id, inv, amount, currency, paid, ref, mov)
		RETURNING id, invoice_id, amount, provider_ref),
	hist AS (
		INSERT INTO invoice_history (invoice_id, kind, amount, payment_id, notes, actor)
		SELECT invoice_id, $9, amount, id, 'stripe ' || provider_ref, 'stripe' FROM pay)
	UPDATE events e SET status = $10, invoice_id = u.inv, error = '', attempts = e.attempts + 1, processed_at = now()
	FROM unnest($8::text[], $2::text[]) AS u (id, inv)
	WHERE e.id = u.id`
)

// writeFresh writes the group's fresh payments (see freshOnes) and
// recomputes their invoices, in one round trip, and returns their events'
// results.
func writeFresh(ctx context.Context, tx pgx.Tx, plan *group, v groupView) (map[string]EventResult, error) {
	fresh := freshOnes(plan, v)
	if len(fresh) == 0 {
		return nil, nil
	}
	n := len(fresh)
	payIDs, invoices, currencies, bestRefs, movements, events := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	amounts, dates := make([]int64, n), make([]time.Time, n)
	var refs, refMovements []string
	done := make(map[string]EventResult, n)
	for i, f := range fresh {
		p := f.payment
		payIDs[i], invoices[i], currencies[i], movements[i], events[i] = ids.New("pay"), p.InvoiceID, p.Currency, ids.New("mov"), f.eventID
		amounts[i], dates[i], bestRefs[i] = int64(p.Amount), p.PaidDate.Time, bestRef(f.refs)
		for _, r := range f.refs {
			refs, refMovements = append(refs, r), append(refMovements, movements[i])
		}
		done[f.eventID] = EventResult{Status: EventProcessed, InvoiceID: p.InvoiceID}
	}
	var b pgx.Batch
	b.Queue(insertRefsManySQL, refs, refMovements)
	b.Queue(writeFreshSQL, payIDs, invoices, amounts, currencies, dates, bestRefs, movements, events,
		HistoryPaymentRecorded, EventProcessed)
	b.Queue(recomputeManySQL, invoices)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("write %d payments of new movements: %w", n, err)
	}
	return done, nil
}
