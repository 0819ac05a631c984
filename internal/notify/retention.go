package notify

import (
	"context"
	"fmt"
	"time"
)

// pruneDeliveries deletes one batch of deliveries finished (delivered, or
// failed for good) before $1, skipping rows a resend holds.
const pruneDeliveries = `
	DELETE FROM deliveries
	WHERE id IN (
		SELECT id FROM deliveries
		WHERE status IN ('delivered', 'failed') AND updated_at < $1
		ORDER BY updated_at
		LIMIT $2
		FOR UPDATE SKIP LOCKED)`

// pruneNotifications deletes one batch of notifications made before $1 that
// no delivery refers to any more.
const pruneNotifications = `
	DELETE FROM notifications
	WHERE id IN (
		SELECT n.id FROM notifications n
		WHERE n.created_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id)
		ORDER BY n.created_at
		LIMIT $2
		FOR UPDATE SKIP LOCKED)`

// defaultPruneBatch is how many rows one prune statement removes when the
// caller names no batch: small enough that each short transaction holds
// its rows' locks only briefly.
const defaultPruneBatch = 1000

// Pruned is what one prune of the notification outbox removed.
type Pruned struct {
	Deliveries, Notifications int64
}

// Prune deletes, batch by batch (at most batch rows a statement, each its
// own short transaction), the deliveries finished before before, then the
// notifications made before it that no delivery refers to any more. A
// pending delivery, and its notification, are kept however old.
func (s *Store) Prune(ctx context.Context, before time.Time, batch int) (Pruned, error) {
	if batch < 1 {
		batch = defaultPruneBatch
	}
	var p Pruned
	var err error
	if p.Deliveries, err = s.pruneInBatches(ctx, pruneDeliveries, before, batch); err != nil {
		return p, fmt.Errorf("prune deliveries: %w", err)
	}
	if p.Notifications, err = s.pruneInBatches(ctx, pruneNotifications, before, batch); err != nil {
		return p, fmt.Errorf("prune notifications: %w", err)
	}
	return p, nil
}

func (s *Store) pruneInBatches(ctx context.Context, statement string, before time.Time, batch int) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Exec(ctx, statement, before, batch)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}
