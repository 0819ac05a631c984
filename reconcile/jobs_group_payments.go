package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
)

// Manual payments are most of what operators queue in bulk (a bank
// statement's transfers). In a group of jobs, the payments on an invoice
// whose jobs in the group are all payments are judged in memory, in queue
// order, against the invoice read under its lock, and written by set-based
// statements when the group's jobs have all been judged: a handful of
// statements for the group instead of a round trip of reads and writes
// each. The rules are the ones RecordManualPayment applies; a payment
// refused is that job's result, and the next payment is judged on the
// invoice as the accepted ones left it. An invoice that also has another
// kind of job in the group, a job whose key is already in the history, or
// an endpoint listening to payments sends every change the single way.

// manualPayments is what a group of jobs holds of its payments judged in
// memory.
type manualPayments struct {
	// invoices are the invoices whose payments are judged here, as they
	// stand with the accepted ones.
	invoices map[string]*Invoice
	accepted []acceptedPayment
}

// acceptedPayment is a manual payment judged in memory and not yet written.
type acceptedPayment struct {
	ManualPayment
	id       string
	currency string
}

// judgedInvoicesSQL reads, under the group's locks, the live invoices of
// $1: those whose payments may be judged in memory.
var judgedInvoicesSQL = `SELECT ` + invoiceColumns + ` FROM invoices WHERE id = ANY ($1) AND deleted_at IS NULL`

// planManualPayments picks, of a group's jobs, the invoices whose payments
// are judged in memory, and reads them.
func planManualPayments(ctx context.Context, tx pgx.Tx, jobs []Job) (*manualPayments, error) {
	onlyPayments := map[string]bool{}
	var keys []string
	for _, j := range jobs {
		if j.InvoiceID == nil {
			continue
		}
		id := *j.InvoiceID
		only, seen := onlyPayments[id]
		onlyPayments[id] = (only || !seen) && j.Type == JobRecordPayment
		keys = append(keys, j.ID)
	}
	var candidates []string
	for id, only := range onlyPayments {
		if only {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	var replayed []string
	var subs subscriptions
	m := &manualPayments{invoices: map[string]*Invoice{}}
	var b pgx.Batch
	b.Queue(`SELECT coalesce(array_agg(DISTINCT invoice_id), '{}') FROM invoice_history WHERE op_key = ANY ($1)`, keys).
		QueryRow(func(row pgx.Row) error { return row.Scan(&replayed) })
	b.Queue(subscribedTypes).QueryRow(func(row pgx.Row) error { return row.Scan(&subs) })
	b.Queue(judgedInvoicesSQL, candidates).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			inv, err := scanInvoice(rows)
			if err != nil {
				return err
			}
			m.invoices[inv.ID] = &inv
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("read the invoices of %d jobs: %w", len(jobs), err)
	}
	if subs.want(outbox.PaymentRecorded) || subs.want(outbox.Paid) {
		return nil, nil
	}
	for _, id := range replayed {
		delete(m.invoices, id)
	}
	return m, nil
}

// judge applies RecordManualPayment's rules to m on the invoice as the
// group left it, and keeps it to write when it is allowed. handled is false
// when the invoice's payments are not judged here.
func (mp *manualPayments) judge(m ManualPayment) (pay Payment, handled bool, err error) {
	if mp == nil {
		return Payment{}, false, nil
	}
	inv, ok := mp.invoices[m.InvoiceID]
	if !ok {
		return Payment{}, false, nil
	}
	if err := inv.CanRecordManualPayment(m.Amount); err != nil {
		return Payment{}, true, err
	}
	inv.PaidAmount += m.Amount
	a := acceptedPayment{ManualPayment: m, id: ids.New("pay"), currency: inv.Currency}
	mp.accepted = append(mp.accepted, a)
	pay = Payment{ID: a.id, InvoiceID: m.InvoiceID, Amount: m.Amount, Currency: inv.Currency, PaidDate: m.PaidDate,
		Source: SourceManual, Notes: m.Notes}
	if m.Method != "" {
		pay.Method = &m.Method
	}
	return pay, true, nil
}

// writeManualPaymentsSQL writes accepted manual payments in queue order,
// their history and their jobs' success with the payment's id.
const writeManualPaymentsSQL = `
	WITH u AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::date[], $6::text[], $7::text[],
			$8::text[], $9::text[]) WITH ORDINALITY AS u (id, inv, amount, currency, paid, method, notes, key, actor, n)),
	pay AS (
		INSERT INTO payments (id, invoice_id, source, amount, currency, paid_date, method, notes, idempotency_key)
		SELECT id, inv, 'manual', amount, currency, paid, NULLIF(method, ''), notes, key FROM u ORDER BY n),
	hist AS (
		INSERT INTO invoice_history (invoice_id, kind, amount, payment_id, notes, op_key, actor)
		SELECT inv, $10, amount, id, notes, key, actor FROM u ORDER BY n)
	UPDATE jobs SET status = 'succeeded', error = '', finished_at = now(), updated_at = now(), ` + countStart + `,
		result = jsonb_build_object('payment_id', u.id)
	FROM u
	WHERE jobs.id = ANY ($8) AND jobs.id = u.key AND jobs.status NOT IN ('succeeded', 'failed')`

// write writes the accepted payments and recomputes their invoices, in one
// round trip.
func (mp *manualPayments) write(ctx context.Context, tx pgx.Tx) error {
	if mp == nil || len(mp.accepted) == 0 {
		return nil
	}
	n := len(mp.accepted)
	payIDs, invoices, currencies, methods, notes, keys, actors := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	amounts, dates := make([]int64, n), make([]time.Time, n)
	for i, a := range mp.accepted {
		payIDs[i], invoices[i], currencies[i], methods[i], notes[i], keys[i], actors[i] = a.id, a.InvoiceID, a.currency, a.Method, a.Notes, a.Key, a.Actor
		amounts[i], dates[i] = int64(a.Amount), a.PaidDate.Time
	}
	var b pgx.Batch
	b.Queue(writeManualPaymentsSQL, payIDs, invoices, amounts, currencies, dates, methods, notes, keys, actors, HistoryPaymentRecorded)
	b.Queue(recomputeManySQL, invoices)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("write %d manual payments: %w", n, err)
	}
	return nil
}
