package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ledger is what the checks read of the database once the system settled.
type ledger struct {
	events map[string]string          // event id → status
	online map[string][]onlinePayment // provider_ref → its payments
	manual []manualPayment
	opKeys map[string]int // invoice_history.op_key → rows
}

type onlinePayment struct {
	id, invoice      string
	amount, refunded int64
	deleted          bool
}

type manualPayment struct {
	id, invoice, key, notes string
	deleted                 bool
}

// driftQuery counts live invoices whose stored totals, state or derived
// times differ from invoice_truth, as the reconciliation run compares them.
const driftQuery = `
	SELECT b.id FROM invoices b JOIN invoice_truth t ON t.id = b.id
	WHERE b.deleted_at IS NULL AND
	(b.credited_amount, b.paid_amount, b.refunded_amount, b.disputed_amount, b.written_off_amount, b.balance, b.state,
	 b.paid_at IS NOT NULL, b.written_off_at)
	IS DISTINCT FROM
	(t.credited_amount, t.paid_amount, t.refunded_amount, t.disputed_amount, t.written_off_amount, t.balance, t.state,
	 t.state = 'paid',
	 CASE WHEN t.state = 'written_off' THEN t.written_off_at END)
	ORDER BY b.id`

// drifted lists the drifted invoices.
func drifted(ctx context.Context, db *pgxpool.Pool) ([]string, error) {
	rows, err := db.Query(ctx, driftQuery)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func readLedger(ctx context.Context, db *pgxpool.Pool) (*ledger, error) {
	l := &ledger{events: map[string]string{}, online: map[string][]onlinePayment{}, opKeys: map[string]int{}}
	scan := func(what, query string, each func(pgx.Rows) error) error {
		rows, err := db.Query(ctx, query)
		if err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	return l, firstErr(
		scan("events", `SELECT id, status FROM events`, func(r pgx.Rows) error {
			var id, status string
			err := r.Scan(&id, &status)
			l.events[id] = status
			return err
		}),
		scan("online payments", `SELECT id, invoice_id, provider_ref, amount, refunded_amount, deleted_at IS NOT NULL FROM payments WHERE source = 'stripe'`,
			func(r pgx.Rows) error {
				var p onlinePayment
				var ref string
				err := r.Scan(&p.id, &p.invoice, &ref, &p.amount, &p.refunded, &p.deleted)
				l.online[ref] = append(l.online[ref], p)
				return err
			}),
		scan("manual payments", `SELECT id, invoice_id, COALESCE(idempotency_key, ''), notes, deleted_at IS NOT NULL FROM payments WHERE source = 'manual'`,
			func(r pgx.Rows) error {
				var p manualPayment
				err := r.Scan(&p.id, &p.invoice, &p.key, &p.notes, &p.deleted)
				l.manual = append(l.manual, p)
				return err
			}),
		scan("history", `SELECT op_key, count(*) FROM invoice_history WHERE op_key IS NOT NULL GROUP BY op_key`, func(r pgx.Rows) error {
			var key string
			var n int
			err := r.Scan(&key, &n)
			l.opKeys[key] = n
			return err
		}),
	)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// check fills the report's figures from the ledger.
func (d *driver) check(ctx context.Context, db *pgxpool.Pool, rep *Report) error {
	rep.Invoices = len(d.invoices)
	rep.Deliveries = int(d.stats.deliveries.Load())
	rep.WebhookNon200 = int(d.stats.webhookNon200.Load())
	rep.Webhook4xx = int(d.stats.webhook4xx.Load())
	rep.AdminRequests = int(d.stats.adminRequests.Load())
	rep.AdminRefused = int(d.stats.adminRefused.Load())
	rep.AdminErrors = int(d.stats.adminErrors.Load())
	rep.AmbiguousKeyless = int(d.stats.ambiguousKeyless.Load())
	rep.Abandoned = int(d.stats.abandoned.Load())
	rep.Replays = int(d.stats.replays.Load())
	rep.ReplaysRefused = int(d.stats.replayRefused.Load())
	rep.JobsDoubled = int(d.stats.replayMismatch.Load())
	l, err := readLedger(ctx, db)
	if err != nil {
		return err
	}
	rep.WebhookAnswerMax = time.Duration(d.answers.max.Load())
	rep.WebhookAnswersSlow = int(d.answers.slow.Load())
	rep.ReceiverRequests = int(d.recv.requests.Load())
	d.checkEvents(l, rep)
	d.checkIgnored(l, rep)
	if err := d.checkHistory(ctx, db, rep); err != nil {
		return err
	}
	if err := d.paymentToPaid(ctx, db, rep); err != nil {
		return err
	}
	return d.checkJobs(ctx, l, rep)
}

// checkEvents holds every acknowledged event to its effect: each
// PaymentIntent announced makes exactly one live payment, of its amount, on
// its invoice, refunded by the highest cumulative total acknowledged.
func (d *driver) checkEvents(l *ledger, rep *Report) {
	for _, pi := range d.intents {
		pays := l.online[pi.id]
		var maxRefund int64
		d.coverage(pi, rep)
		for _, ev := range pi.events {
			if ev.sent.Load() > 0 {
				rep.EventsSent++
			}
			if !ev.acked.Load() {
				rep.Unacked++
				d.evidence("event %s (%s of %s) never answered 200 in %d deliveries", ev.id, ev.typ, pi.id, ev.sent.Load())
				continue
			}
			rep.EventsAcked++
			if ev.isRefund() {
				maxRefund = max(maxRefund, ev.refund)
			}
			status, stored := l.events[ev.id]
			switch {
			case !stored:
				rep.Lost++
				d.evidence("event %s (%s of %s) answered 200 but not in the inbox", ev.id, ev.typ, pi.id)
				continue
			case status == "received" || status == "failed" || status == "needs_review":
				rep.Lost++
				d.evidence("event %s (%s of %s) is %s", ev.id, ev.typ, pi.id, status)
				continue
			}
			ok := len(pays) == 1 && pays[0].invoice == pi.invoice && pays[0].amount == pi.amount && !pays[0].deleted &&
				(!ev.isRefund() || pays[0].refunded >= ev.refund)
			switch {
			case ok:
				rep.Applied++
			case len(pays) > 1:
				rep.Doubled++
				d.evidence("event %s: PaymentIntent %s has %d payments %+v", ev.id, pi.id, len(pays), pays)
			default:
				rep.Lost++
				d.evidence("event %s (%s of %s, invoice %s, amount %d, refund %d, status %s): payments %+v",
					ev.id, ev.typ, pi.id, pi.invoice, pi.amount, ev.refund, status, pays)
			}
		}
		if len(pays) == 1 && pays[0].refunded != min(maxRefund, pi.amount) {
			if pays[0].refunded > maxRefund {
				rep.Doubled++
			} else {
				rep.Lost++
			}
			d.evidence("PaymentIntent %s: refunded %d, acknowledged cumulative refunds say %d", pi.id, pays[0].refunded, maxRefund)
		}
	}
}

// coverage counts the payment intents that exercised the harder orders:
// announced by two events, or refunded before their payment was
// acknowledged.
func (d *driver) coverage(pi *paymentIntent, rep *Report) {
	rep.Intents++
	var payAck, refundAck int64
	var payEvents int
	first := func(cur, at int64) int64 {
		if at != 0 && (cur == 0 || at < cur) {
			return at
		}
		return cur
	}
	for _, ev := range pi.events {
		if ev.isRefund() {
			refundAck = first(refundAck, ev.ackedAt.Load())
		} else {
			payEvents++
			payAck = first(payAck, ev.ackedAt.Load())
		}
	}
	if payEvents > 1 {
		rep.IntentsTwoEvents++
	}
	if refundAck != 0 && refundAck < payAck {
		rep.IntentsRefundFirst++
	}
}

// checkHistory finds a payment recorded twice, or refunds booked in history
// (less refunds that failed) that do not add up to the payment's refunded
// amount.
func (d *driver) checkHistory(ctx context.Context, db *pgxpool.Pool, rep *Report) error {
	rows, err := db.Query(ctx, `
		SELECT payment_id, count(*) FROM invoice_history
		WHERE kind = 'payment_recorded' AND payment_id IS NOT NULL
		GROUP BY payment_id HAVING count(*) > 1`)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return err
		}
		rep.Doubled += n - 1
		d.evidence("payment %s recorded %d times in history", id, n)
	}
	rows.Close()
	rows, err = db.Query(ctx, `
		SELECT p.id, p.provider_ref, p.refunded_amount, b.booked
		FROM payments p
		CROSS JOIN LATERAL (
			SELECT (COALESCE(sum(h.amount) FILTER (WHERE h.kind = 'refund_recorded'), 0)
				- COALESCE(sum(h.amount) FILTER (WHERE h.kind = 'refund_failed'), 0))::bigint AS booked
			FROM invoice_history h WHERE h.payment_id = p.id) b
		WHERE p.source = 'stripe' AND p.refunded_amount <> b.booked`)
	if err != nil {
		return fmt.Errorf("refund history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, ref string
		var refunded, booked int64
		if err := rows.Scan(&id, &ref, &refunded, &booked); err != nil {
			return err
		}
		if booked > refunded {
			rep.Doubled++
		} else {
			rep.Lost++
		}
		d.evidence("payment %s (%s): refunded %d, refund history adds up to %d", id, ref, refunded, booked)
	}
	return rows.Err()
}

// checkJobs holds every job answered 202 to what the admin API reports of
// it: a succeeded job happened once (its history row, and for a manual
// payment its payment keyed by the job id), a failed one changed nothing.
func (d *driver) checkJobs(ctx context.Context, l *ledger, rep *Report) error {
	byKey := map[string][]manualPayment{}
	byTag := map[string]int{}
	for _, p := range l.manual {
		byKey[p.key] = append(byKey[p.key], p)
		fields := strings.Fields(p.notes)
		if len(fields) > 0 {
			byTag[fields[len(fields)-1]]++
		}
	}
	deletedBy := map[string]bool{} // payments some succeeded job deleted
	ids := make([]string, 0, len(d.jobs))
	for id := range d.jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rec := d.jobs[id]
		job, err := d.getJob(ctx, id)
		if err != nil {
			return err
		}
		rep.JobsSubmitted++
		applied := l.opKeys[id]
		pays := byKey[id]
		switch job.Status {
		case "succeeded":
			rep.JobsSucceeded++
			switch {
			case applied > 1 || len(pays) > 1:
				rep.JobsDoubled++
				d.evidence("job %s (%s %s) applied %d times, %d payments", id, rec.typ, rec.invoice, applied, len(pays))
			case applied == 0 || (rec.typ == "record" && len(pays) != 1):
				rep.JobsLost++
				d.evidence("job %s (%s %s) succeeded without its effect: %d history rows, payments %+v", id, rec.typ, rec.invoice, applied, pays)
			}
			if rec.typ == "delete" {
				deletedBy[rec.payment] = true
			}
		case "failed":
			rep.JobsFailed++
			if applied > 0 || len(pays) > 0 {
				rep.JobsFailedApplied++
				d.evidence("job %s (%s %s) failed (%s) yet has %d history rows and payments %+v", id, rec.typ, rec.invoice, job.Error, applied, pays)
			}
		default:
			rep.JobsUnfinished++
			d.evidence("job %s (%s %s) is %s: %s", id, rec.typ, rec.invoice, job.Status, job.Error)
		}
	}
	for tag, n := range byTag {
		if n > 1 && strings.HasPrefix(tag, "op") {
			rep.JobsDoubled += n - 1
			d.evidence("request %s made %d manual payments", tag, n)
		}
	}
	for _, p := range l.manual {
		if deletedBy[p.id] && !p.deleted {
			rep.JobsLost++
			d.evidence("manual payment %s on %s is live, yet a delete job of it succeeded", p.id, p.invoice)
		}
		if _, ok := d.jobs[p.key]; !ok {
			rep.JobsUnexplained++
			d.evidence("manual payment %s on %s by job %s, which no operator was answered for", p.id, p.invoice, p.key)
		}
		if p.deleted && !deletedBy[p.id] {
			rep.JobsUnexplained++
			d.evidence("manual payment %s on %s is deleted, by no job answered to an operator", p.id, p.invoice)
		}
	}
	return nil
}
