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
	ID        string           `json:"id"`
	Type      outbox.Type      `json:"type"`
	CreatedAt time.Time        `json:"created_at"`
	Data      notificationData `json:"data"`
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
	var batch pgx.Batch
	for _, n := range notices {
		if !subs.want(n.typ) {
			continue
		}
		body := notificationBody{ID: ids.New("ntf"), Type: n.typ, CreatedAt: time.Now().UTC(),
			Data: notificationData{Invoice: after, Payment: n.payment, CreditNote: n.creditNote}}
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s notification: %w", n.typ, err)
		}
		batch.Queue(writeNotification, body.ID, n.typ, after.ID, raw, outbox.DeliveriesChannel)
	}
	if batch.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("write notifications of invoice %s: %w", after.ID, err)
	}
	return nil
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
