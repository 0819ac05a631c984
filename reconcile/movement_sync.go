package reconcile

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/outbox"
)

// syncPaymentSQL sets a live payment's refunded and disputed amounts from
// the refund and dispute rows of its movement (payment_truth, the rules
// reconciliation checks too), and its provider_ref to the movement's best
// id ($2, when set), and writes a history row for each change of money:
// refund_recorded or refund_failed, dispute_opened or dispute_won, and
// dispute_lost for each dispute of the movement newly lost. It returns the
// amounts before and after, how many disputes were newly lost, and the
// payment as it now is.
var syncPaymentSQL = `
	WITH n AS (
		SELECT p.id, p.invoice_id, p.amount, p.currency, p.movement_id, p.provider_ref,
			p.refunded_amount AS old_r, p.disputed_amount AS old_d,
			t.refunded_amount AS r, t.disputed_amount AS d,
			coalesce(NULLIF($2, ''), p.provider_ref) AS ref
		FROM payments p JOIN payment_truth t ON t.id = p.id
		WHERE p.id = $1 AND p.deleted_at IS NULL),
	upd AS (
		UPDATE payments x SET refunded_amount = n.r, disputed_amount = n.d, provider_ref = n.ref
		FROM n
		WHERE x.id = n.id AND (n.r, n.d, n.ref) IS DISTINCT FROM (n.old_r, n.old_d, n.provider_ref)
		RETURNING x.id),
	lost AS (
		UPDATE disputes d SET noted_status = d.status, updated_at = now()
		FROM n
		WHERE d.status = 'lost' AND d.noted_status IS DISTINCT FROM 'lost' AND d.currency = n.currency
		  AND d.ref = ANY (ARRAY(SELECT m.ref FROM movement_refs m WHERE m.movement_id = n.movement_id))
		RETURNING d.id, d.amount),
	hist AS (
		INSERT INTO invoice_history (invoice_id, kind, amount, payment_id, notes, actor)
		SELECT n.invoice_id, h.kind, h.amount, n.id, h.notes, 'stripe'
		FROM n, LATERAL (VALUES
			('refund_recorded', n.r - n.old_r, 'stripe ' || n.ref || ': refunded'),
			('refund_failed', n.old_r - n.r, 'stripe ' || n.ref || ': a refund failed or was canceled, the money is back'),
			('dispute_opened', n.d - n.old_d, 'stripe ' || n.ref || ': disputed, the money is withdrawn'),
			('dispute_won', n.old_d - n.d, 'stripe ' || n.ref || ': dispute won, the money is reinstated')
		) AS h (kind, amount, notes)
		WHERE h.amount > 0
		UNION ALL
		SELECT n.invoice_id, 'dispute_lost', LEAST(lost.amount, n.amount), n.id,
			'stripe ' || n.ref || ': dispute ' || lost.id || ' lost, the money stays withdrawn', 'stripe'
		FROM n, lost)
	SELECT n.old_r, n.r, n.old_d, n.d, (SELECT count(*) FROM lost),
		p.id, p.invoice_id, p.amount, n.r, n.d, p.currency, p.paid_date, p.source, p.method, n.ref, p.notes, p.created_at
	FROM n JOIN payments p ON p.id = n.id`

// synced is what syncPaymentSQL came to.
type synced struct {
	oldRefunded, refunded, oldDisputed, disputed Amount
	lost                                         int
	payment                                      Payment
}

// notices are the notifications a payment's money change owes.
func (s synced) notices() []notice {
	var out []notice
	p := s.payment
	if s.refunded != s.oldRefunded {
		out = append(out, notice{typ: outbox.Refunded, payment: &p})
	}
	if s.disputed > s.oldDisputed {
		out = append(out, notice{typ: outbox.Disputed, payment: &p})
	}
	if s.disputed < s.oldDisputed || s.lost > 0 {
		out = append(out, notice{typ: outbox.DisputeClosed, payment: &p})
	}
	return out
}

// moneyChanged reports whether the sync moved money or wrote history.
func (s synced) moneyChanged() bool {
	return s.refunded != s.oldRefunded || s.disputed != s.oldDisputed || s.lost > 0
}

// queueSync queues syncPaymentSQL for payment id; out is set when the
// batch runs (left zero when the payment is not live).
func queueSync(b *pgx.Batch, paymentID, ref string, out *synced, found *bool) {
	b.Queue(syncPaymentSQL, paymentID, ref).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			*found = true
			p := &out.payment
			var paid time.Time
			if err := rows.Scan(&out.oldRefunded, &out.refunded, &out.oldDisputed, &out.disputed, &out.lost,
				&p.ID, &p.InvoiceID, &p.Amount, &p.RefundedAmount, &p.DisputedAmount, &p.Currency, &paid, &p.Source,
				&p.Method, &p.ProviderRef, &p.Notes, &p.CreatedAt); err != nil {
				return err
			}
			p.PaidDate, p.CreatedAt = DateOf(paid), p.CreatedAt.UTC()
		}
		return rows.Err()
	})
}

// touched gathers, per invoice, what a movement's change owes it: a
// recompute from its rows and the notifications of the change.
type touched struct {
	order   []string
	notices map[string][]notice
}

// add notes that invoice id changed, with the notifications it owes.
func (t *touched) add(id string, ns ...notice) {
	if t.notices == nil {
		t.notices = map[string][]notice{}
	}
	if _, seen := t.notices[id]; !seen {
		t.order = append(t.order, id)
		t.notices[id] = nil
	}
	t.notices[id] = append(t.notices[id], ns...)
}

// queueRecompute queues the recompute of every touched invoice, in id
// order; after is filled when the batch runs.
func (t *touched) queueRecompute(b *pgx.Batch, after map[string]Invoice) {
	slices.Sort(t.order)
	for _, id := range t.order {
		b.Queue(recomputeSQL, id).QueryRow(func(row pgx.Row) error {
			inv, err := scanInvoice(row)
			after[id] = inv
			return err
		})
	}
}

// notify writes the notifications of every touched invoice.
func (t *touched) notify(ctx context.Context, tx pgx.Tx, v *movementView, after map[string]Invoice) error {
	for _, id := range t.order {
		before, _ := v.invoice(id)
		if err := notifyWanted(ctx, tx, v.subs, before.State, after[id], t.notices[id]...); err != nil {
			return fmt.Errorf("notify invoice %s: %w", id, err)
		}
	}
	return nil
}
