package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
)

// notice is one notification a ledger change owes its subscribers.
type notice struct {
	typ        outbox.Type
	payment    *Payment
	creditNote *CreditNote
}

// notificationBody is what an endpoint receives.
type notificationBody struct {
	ID        string      `json:"id"`
	Type      outbox.Type `json:"type"`
	CreatedAt time.Time   `json:"created_at"`
	// Sequence increases with each notification of an invoice, in the
	// order its changes commit: a receiver keeps the state of the highest
	// it has seen and drops an older one that arrives late.
	Sequence int64            `json:"sequence"`
	Data     notificationData `json:"data"`
}

type notificationData struct {
	Invoice    Invoice     `json:"invoice"`
	Payment    *Payment    `json:"payment,omitempty"`
	CreditNote *CreditNote `json:"credit_note,omitempty"`
}

// subscribedTypes lists the notification types some live endpoint wants,
// "*" standing for an endpoint that wants every type. A ledger change reads
// it with its first round trip, so that with nobody subscribed (the usual
// case) it neither builds nor writes a notification.
const subscribedTypes = `
	SELECT coalesce(array_agg(DISTINCT t), '{}')
	FROM endpoints, unnest(coalesce(events, '{*}')) AS t
	WHERE deleted_at IS NULL`

// subscriptions is what subscribedTypes read.
type subscriptions []string

func (s subscriptions) want(t outbox.Type) bool {
	for _, x := range s {
		if x == "*" || x == string(t) {
			return true
		}
	}
	return false
}

// notify writes the notifications of a change, and a delivery for each
// subscribed endpoint, inside the change's transaction: a change that rolls
// back notifies nobody, and one that commits is never lost. An invoice that
// becomes paid also tells invoice.paid. With no endpoint subscribed it
// writes nothing.
func notify(ctx context.Context, tx pgx.Tx, before State, after Invoice, notices ...notice) error {
	var subs subscriptions
	if err := tx.QueryRow(ctx, subscribedTypes).Scan(&subs); err != nil {
		return fmt.Errorf("read subscriptions: %w", err)
	}
	return notifyWanted(ctx, tx, subs, before, after, notices...)
}

// notifyWanted is notify for a change that read subs in its first round
// trip. The statement checks the subscriptions again, so an endpoint deleted
// since subs was read gets nothing.
func notifyWanted(ctx context.Context, tx pgx.Tx, subs subscriptions, before State, after Invoice, notices ...notice) error {
	if after.State == StatePaid && before != StatePaid {
		notices = append(notices, notice{typ: outbox.Paid})
	}
	wanted := notices[:0:0]
	for _, n := range notices {
		if subs.want(n.typ) {
			wanted = append(wanted, n)
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	seqs, err := nextSequences(ctx, tx, len(wanted))
	if err != nil {
		return fmt.Errorf("number notifications of invoice %s: %w", after.ID, err)
	}
	var batch pgx.Batch
	for i, n := range wanted {
		body := notificationBody{ID: ids.New("ntf"), Type: n.typ, CreatedAt: time.Now().UTC(), Sequence: seqs[i],
			Data: notificationData{Invoice: after, Payment: n.payment, CreditNote: n.creditNote}}
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s notification: %w", n.typ, err)
		}
		batch.Queue(writeNotification, body.ID, n.typ, after.ID, raw, outbox.DeliveriesChannel)
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("write notifications of invoice %s: %w", after.ID, err)
	}
	return nil
}

// nextSequences draws n numbers from notification_sequence. The caller
// holds the invoice's row lock, so the numbers of one invoice increase in
// the order its changes commit; numbers are never reused, so they may skip.
func nextSequences(ctx context.Context, tx pgx.Tx, n int) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT nextval('notification_sequence') FROM generate_series(1, $1) ORDER BY 1`, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// writeNotification writes one notification and its deliveries, and tells
// the dispatcher at commit.
const writeNotification = `
	WITH subs AS (
		SELECT id FROM endpoints
		WHERE deleted_at IS NULL AND (events IS NULL OR $2 = ANY (events))),
	n AS (
		INSERT INTO notifications (id, type, invoice_id, body)
		SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM subs)
		RETURNING id),
	d AS (
		INSERT INTO deliveries (id, notification_id, endpoint_id)
		SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), n.id, subs.id FROM n, subs
		RETURNING id)
	SELECT pg_notify($5, '') FROM (SELECT 1 FROM d LIMIT 1) AS any_delivery`
