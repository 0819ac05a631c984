package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// claimLease is how long a claimed delivery is kept from other senders. It
// outlasts a request's 10 s timeout with room to spare, and it is also how
// soon a delivery claimed by a process that died becomes due again.
const claimLease = time.Minute

// Attempt is what one attempt at a delivery needs. It holds the endpoint's
// secret: String leaves it out, and so must every log line.
type Attempt struct {
	DeliveryID     string
	NotificationID string
	EndpointID     string
	URL            string
	Secret         string
	Body           []byte
	// Attempts counts the attempts made before this one.
	Attempts int
	// CreatedAt starts the delivery's retry budget.
	CreatedAt time.Time
}

// String names the attempt without its secret or body, so a stray %v in a
// log line leaks neither.
func (a Attempt) String() string {
	return fmt.Sprintf("delivery %s of %s to %s (attempt %d)", a.DeliveryID, a.NotificationID, a.EndpointID, a.Attempts+1)
}

// Attempt claims a pending, due delivery for one attempt and returns what
// sending it needs. The claim moves its next attempt a lease ahead, so a
// duplicate task or the dispatcher does not send it at the same time, and a
// sender that dies leaves it due again once the lease ends. ok is false when
// there is nothing to send: delivered, failed, not due, or claimed. A
// delivery whose endpoint was deleted as the ledger wrote it fails here.
func (s *Store) Attempt(ctx context.Context, deliveryID string) (Attempt, bool, error) {
	var a Attempt
	err := s.db.QueryRow(ctx, `
		UPDATE deliveries d SET next_attempt_at = now() + $2::interval, updated_at = now()
		FROM endpoints e, notifications n
		WHERE d.id = $1 AND d.status = 'pending' AND d.next_attempt_at <= now()
			AND e.id = d.endpoint_id AND e.deleted_at IS NULL AND n.id = d.notification_id
		RETURNING d.id, d.notification_id, d.endpoint_id, e.url, e.secret, n.body, d.attempts, d.created_at`,
		deliveryID, claimLease).Scan(&a.DeliveryID, &a.NotificationID, &a.EndpointID, &a.URL, &a.Secret, &a.Body,
		&a.Attempts, &a.CreatedAt)
	if err == nil {
		return a, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Attempt{}, false, fmt.Errorf("claim delivery %s: %w", deliveryID, err)
	}
	// DeleteEndpoint fails the pending deliveries it sees; a ledger change
	// racing it can still commit one more, which ends here.
	if _, err := s.db.Exec(ctx, `
		UPDATE deliveries d SET status = 'failed', last_error = $2, updated_at = now()
		FROM endpoints e
		WHERE d.id = $1 AND d.status = 'pending' AND e.id = d.endpoint_id AND e.deleted_at IS NOT NULL`,
		deliveryID, errEndpointDeleted); err != nil {
		return Attempt{}, false, fmt.Errorf("fail delivery %s of a deleted endpoint: %w", deliveryID, err)
	}
	return Attempt{}, false, nil
}

// Release gives a claim back unattempted, due again at at.
func (s *Store) Release(ctx context.Context, deliveryID string, at time.Time) error {
	if _, err := s.db.Exec(ctx, `
		UPDATE deliveries SET next_attempt_at = $2, updated_at = now() WHERE id = $1 AND status = 'pending'`,
		deliveryID, at); err != nil {
		return fmt.Errorf("release delivery %s: %w", deliveryID, err)
	}
	return nil
}

// MarkDelivered records a 2xx answer. It is recorded whatever the status
// became meanwhile (a deletion of the endpoint during the request): the
// receiver has the notification.
func (s *Store) MarkDelivered(ctx context.Context, deliveryID string, statusCode int) error {
	tag, err := s.db.Exec(ctx, `
		UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_status_code = $2, last_error = '',
			delivered_at = now(), updated_at = now()
		WHERE id = $1`, deliveryID, statusCode)
	if err != nil {
		return fmt.Errorf("mark delivery %s delivered: %w", deliveryID, err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.Errorf(apperr.KindNotFound, "delivery_not_found", "no delivery %s", deliveryID)
	}
	return nil
}

// MarkFailedAttempt records a failed attempt: its status code (0 when none
// came back) and error, and either the next attempt or, with giveUp, the
// end. A delivery no longer pending (failed by a deletion meanwhile) is left
// as it is.
func (s *Store) MarkFailedAttempt(ctx context.Context, deliveryID string, statusCode int, errText string, next time.Time, giveUp bool) error {
	_, err := s.db.Exec(ctx, `
		UPDATE deliveries SET attempts = attempts + 1, last_status_code = NULLIF($2::int, 0), last_error = $3,
			next_attempt_at = $4, status = CASE WHEN $5 THEN 'failed' ELSE status END, updated_at = now()
		WHERE id = $1 AND status = 'pending'`, deliveryID, statusCode, errText, next, giveUp)
	if err != nil {
		return fmt.Errorf("record failed attempt of delivery %s: %w", deliveryID, err)
	}
	return nil
}
