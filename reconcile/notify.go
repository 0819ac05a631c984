package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotificationType names an invoice change the business's systems can
// subscribe to.
type NotificationType string

// The notification types of the contract.
const (
	NotifyPaymentRecorded NotificationType = "invoice.payment_recorded"
	NotifyPaymentDeleted  NotificationType = "invoice.payment_deleted"
	NotifyRefunded        NotificationType = "invoice.refunded"
	NotifyPaid            NotificationType = "invoice.paid"
	NotifyWrittenOff      NotificationType = "invoice.written_off"
	NotifyReopened        NotificationType = "invoice.reopened"
	NotifyReconciled      NotificationType = "invoice.reconciled"
)

// NotificationTypes lists every type, for validating a subscription.
func NotificationTypes() []NotificationType {
	return []NotificationType{NotifyPaymentRecorded, NotifyPaymentDeleted, NotifyRefunded, NotifyPaid,
		NotifyWrittenOff, NotifyReopened, NotifyReconciled}
}

// DeliveriesChannel is the PostgreSQL channel told, at commit, that new
// deliveries wait; the worker listens on it to send them at once.
const DeliveriesChannel = "reconciler_deliveries"

// notice is one notification a ledger change owes its subscribers.
type notice struct {
	typ     NotificationType
	payment *Payment
}

// notificationBody is what an endpoint receives.
type notificationBody struct {
	ID        string           `json:"id"`
	Type      NotificationType `json:"type"`
	CreatedAt time.Time        `json:"created_at"`
	Data      notificationData `json:"data"`
}

type notificationData struct {
	Invoice Invoice  `json:"invoice"`
	Payment *Payment `json:"payment,omitempty"`
}

// notify writes the notifications of a change, and a delivery for each
// subscribed endpoint, inside the change's transaction: a change that rolls
// back notifies nobody, and one that commits is never lost. An invoice that
// becomes paid also tells invoice.paid. With no endpoint subscribed it
// writes nothing.
func notify(ctx context.Context, tx pgx.Tx, before State, after Invoice, notices ...notice) error {
	if after.State == StatePaid && before != StatePaid {
		notices = append(notices, notice{typ: NotifyPaid})
	}
	for _, n := range notices {
		body := notificationBody{ID: NewID("ntf"), Type: n.typ, CreatedAt: time.Now().UTC(),
			Data: notificationData{Invoice: after, Payment: n.payment}}
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s notification: %w", n.typ, err)
		}
		_, err = tx.Exec(ctx, `
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
			SELECT pg_notify($5, '') FROM (SELECT 1 FROM d LIMIT 1) AS any_delivery`,
			body.ID, n.typ, after.ID, raw, DeliveriesChannel)
		if err != nil {
			return fmt.Errorf("write %s notification of invoice %s: %w", n.typ, after.ID, err)
		}
	}
	return nil
}
