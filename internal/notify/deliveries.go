package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/outbox"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// The statuses of a delivery.
const (
	StatusPending   DeliveryStatus = "pending"
	StatusDelivered DeliveryStatus = "delivered"
	StatusFailed    DeliveryStatus = "failed"
)

// Delivery is one notification owed to one endpoint, as the admin API shows
// it.
type Delivery struct {
	ID             string         `json:"id"`
	EndpointID     string         `json:"endpoint_id"`
	NotificationID string         `json:"notification_id"`
	Type           outbox.Type    `json:"type"`
	Status         DeliveryStatus `json:"status"`
	Attempts       int            `json:"attempts"`
	LastStatusCode *int           `json:"last_status_code"`
	LastError      string         `json:"last_error"`
	// NextAttemptAt is set only while the delivery is pending.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
}

const deliveryColumns = `d.id, d.endpoint_id, d.notification_id, n.type, d.status, d.attempts, d.last_status_code,
	d.last_error, CASE WHEN d.status = 'pending' THEN d.next_attempt_at END, d.created_at, d.delivered_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.EndpointID, &d.NotificationID, &d.Type, &d.Status, &d.Attempts, &d.LastStatusCode,
		&d.LastError, &d.NextAttemptAt, &d.CreatedAt, &d.DeliveredAt)
	d.CreatedAt = d.CreatedAt.UTC()
	for _, t := range []**time.Time{&d.NextAttemptAt, &d.DeliveredAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return d, err
}

// Bounds of a page of deliveries.
const (
	defaultDeliveries = 100
	maxDeliveries     = 1000
)

// ListDeliveries lists an endpoint's deliveries, newest first, of one status
// or (status "") all. A deleted endpoint's deliveries stay listed, so an
// operator can see what it missed.
func (s *Store) ListDeliveries(ctx context.Context, endpointID, status string, limit int) ([]Delivery, error) {
	switch DeliveryStatus(status) {
	case "", StatusPending, StatusDelivered, StatusFailed:
	default:
		return nil, apperr.Errorf(apperr.KindInvalid, "invalid_status", "status must be pending, delivered or failed")
	}
	if limit <= 0 {
		limit = defaultDeliveries
	}
	limit = min(limit, maxDeliveries)
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE id = $1)`, endpointID).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look up endpoint %s: %w", endpointID, err)
	}
	if !exists {
		return nil, endpointNotFound(endpointID)
	}
	rows, err := s.db.Query(ctx, `
		SELECT `+deliveryColumns+` FROM deliveries d JOIN notifications n ON n.id = d.notification_id
		WHERE d.endpoint_id = $1 AND ($2 = '' OR d.status = $2)
		ORDER BY d.created_at DESC, d.id DESC LIMIT $3`, endpointID, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of endpoint %s: %w", endpointID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("list deliveries of endpoint %s: %w", endpointID, err)
	}
	return out, nil
}

// Resend makes a delivery pending and due now, whatever its status, and
// tells the dispatcher at commit. Its attempts are kept, and so is its
// retry budget, which counts from the delivery's creation: a resend long
// after gets one attempt. Receivers deduplicate on the notification id, so
// resending a delivered one is harmless.
func (s *Store) Resend(ctx context.Context, deliveryID string) (Delivery, error) {
	var out Delivery
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var deleted bool
		err := tx.QueryRow(ctx, `
			SELECT e.deleted_at IS NOT NULL FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
			WHERE d.id = $1 FOR UPDATE OF d`, deliveryID).Scan(&deleted)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Errorf(apperr.KindNotFound, "delivery_not_found", "no delivery %s", deliveryID)
		}
		if err != nil {
			return fmt.Errorf("look up delivery %s: %w", deliveryID, err)
		}
		if deleted {
			return apperr.Errorf(apperr.KindConflict, "endpoint_deleted",
				"the endpoint of delivery %s is deleted", deliveryID)
		}
		out, err = scanDelivery(tx.QueryRow(ctx, `
			UPDATE deliveries d SET status = 'pending', next_attempt_at = now(), updated_at = now()
			FROM notifications n WHERE d.id = $1 AND n.id = d.notification_id
			RETURNING `+deliveryColumns, deliveryID))
		if err != nil {
			return fmt.Errorf("resend delivery %s: %w", deliveryID, err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, outbox.DeliveriesChannel); err != nil {
			return fmt.Errorf("resend delivery %s: %w", deliveryID, err)
		}
		return nil
	})
	return out, err
}

// DueDeliveries lists pending deliveries due for olderThan or longer, most
// overdue first: the dispatcher asks for those due now, a relay sweep for
// those whose task seems lost.
func (s *Store) DueDeliveries(ctx context.Context, olderThan time.Duration, limit int) ([]string, error) {
	rows, err := s.db.Query(ctx, `
		SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now() - $1::interval
		ORDER BY next_attempt_at LIMIT $2`, olderThan, limit)
	if err != nil {
		return nil, fmt.Errorf("list due deliveries: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list due deliveries: %w", err)
	}
	return ids, nil
}
