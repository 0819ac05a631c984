package chaos

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// answerLimit is the longest a webhook delivery may wait for its answer,
// whatever the answer (a 503 while PostgreSQL hangs is a fine one): a
// sender such as Stripe gives up on an endpoint that keeps it waiting, and
// counts the delivery failed. The driver's own client waits twice as long,
// so that a slower answer is measured rather than cut.
const answerLimit = 15 * time.Second

// slowEvidence bounds the evidence lines about slow answers: a hung
// dependency makes many at once, and they must not crowd out the rest.
const slowEvidence = 10

// answers records how long webhook deliveries waited for their answer.
type answers struct {
	max  atomic.Int64 // nanoseconds
	slow atomic.Int64 // deliveries that waited longer than answerLimit
}

// observeAnswer records one delivery of ev, begun at began and answered
// status (0, with err, when it got no answer at all).
func (d *driver) observeAnswer(ev *stripeEvent, began time.Time, status int, err error) {
	took := time.Since(began)
	for {
		cur := d.answers.max.Load()
		if int64(took) <= cur || d.answers.max.CompareAndSwap(cur, int64(took)) {
			break
		}
	}
	if took > answerLimit && d.answers.slow.Add(1) <= slowEvidence {
		d.evidence("webhook %s (%s) waited %s for its answer (status %d, error %v) during %s", ev.id, ev.typ,
			took.Round(time.Millisecond), status, err, d.faultsDuring(began, began.Add(took), began))
	}
}

// paidQuery reads the invoices that ended paid by online payments alone:
// no operator touched them (no manual payment, even deleted, no write-off,
// no reopen), and no refund moved their paid amount, so paid_at is the
// moment their last online payment was recorded, and nothing else.
const paidQuery = `
	SELECT i.id, i.paid_at FROM invoices i
	WHERE i.deleted_at IS NULL AND i.state = 'paid' AND i.paid_at IS NOT NULL
	AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.invoice_id = i.id
		AND (p.source <> 'stripe' OR p.refunded_amount <> 0 OR p.deleted_at IS NOT NULL))
	AND NOT EXISTS (SELECT 1 FROM invoice_history h WHERE h.invoice_id = i.id
		AND h.kind NOT IN ('created', 'sent', 'payment_recorded'))`

// calmBefore is how long before a payment's first 200 no fault may have
// been in progress for its invoice to count as paid in calm: a fault's
// effects (a pool reconnecting, a task waiting for the relay) outlast it by
// a few seconds.
const calmBefore = 5 * time.Second

// delays collects payment-to-paid times and describes the longest.
type delays struct {
	all     []time.Duration
	max     time.Duration
	longest string
}

func (s *delays) add(d time.Duration, what func() string) {
	if len(s.all) == 0 || d > s.max {
		s.max, s.longest = d, what()
	}
	s.all = append(s.all, d)
}

// paymentToPaid measures how long after a payment was acknowledged its
// invoice read paid. For each invoice paidQuery finds, whose PaymentIntents
// all had a payment event answered 200 and none had a refund event: the
// time from the latest of its PaymentIntents' first 200 (the payment that
// completed it: an invoice is paid only once all of its PaymentIntents are
// recorded, since they add up to at most its amount) to its paid_at, the
// time of the transaction that made it paid. A payment recorded before its
// first 200 reached the suite (an answer lost to a kill) counts as 0. The
// calm figures keep the invoices with no fault in progress from calmBefore
// before that 200 until paid_at: what is left to delay those is the load
// and the hanging receiver, which is there all along.
func (d *driver) paymentToPaid(ctx context.Context, db *pgxpool.Pool, rep *Report) error {
	byInvoice := map[string][]*paymentIntent{}
	for _, pi := range d.intents {
		byInvoice[pi.invoice] = append(byInvoice[pi.invoice], pi)
	}
	rows, err := db.Query(ctx, paidQuery)
	if err != nil {
		return fmt.Errorf("paid invoices: %w", err)
	}
	defer rows.Close()
	var all, calm delays
	for rows.Next() {
		var id string
		var paidAt time.Time
		if err := rows.Scan(&id, &paidAt); err != nil {
			return err
		}
		last, ok := lastPaymentAck(byInvoice[id])
		if !ok {
			continue
		}
		delay := max(paidAt.Sub(last), 0)
		what := func() string {
			return fmt.Sprintf("invoice %s paid at %s, %s after its last payment's first 200, during %s (relative to that 200)", id,
				paidAt.UTC().Format(time.RFC3339Nano), delay.Round(time.Millisecond), d.faultsDuring(last.Add(-calmBefore), paidAt, last))
		}
		all.add(delay, what)
		if len(d.faultsBetween(last.Add(-calmBefore), paidAt)) == 0 {
			calm.add(delay, what)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rep.PaymentToPaidInvoices, rep.PaymentToPaidCalmInvoices = len(all.all), len(calm.all)
	if len(all.all) > 0 {
		slices.Sort(all.all)
		rep.PaymentToPaidP50 = all.all[len(all.all)/2]
		rep.PaymentToPaidP99 = all.all[(len(all.all)-1)*99/100]
		rep.PaymentToPaidMax = all.all[len(all.all)-1]
		d.cfg.logf("longest payment to paid: %s", all.longest)
	}
	if len(calm.all) > 0 {
		rep.PaymentToPaidCalmMax = calm.max
		d.cfg.logf("longest payment to paid away from faults: %s", calm.longest)
	}
	return nil
}

// lastPaymentAck is the latest, among pis, of each one's first 200 to an
// event announcing its payment; false when there are none, when one was
// never answered 200, or when one was refunded.
func lastPaymentAck(pis []*paymentIntent) (time.Time, bool) {
	var last int64
	for _, pi := range pis {
		var first int64
		for _, ev := range pi.events {
			if ev.isRefund() {
				return time.Time{}, false
			}
			if at := ev.ackedAt.Load(); at != 0 && (first == 0 || at < first) {
				first = at
			}
		}
		if first == 0 {
			return time.Time{}, false
		}
		last = max(last, first)
	}
	return time.Unix(0, last), last != 0
}
