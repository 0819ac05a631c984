package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// EventStatus is where a Stripe event stands in the inbox.
type EventStatus string

// The inbox statuses of the contract.
const (
	EventReceived    EventStatus = "received"
	EventProcessed   EventStatus = "processed"
	EventIgnored     EventStatus = "ignored"
	EventUnmatched   EventStatus = "unmatched"
	EventNeedsReview EventStatus = "needs_review"
	EventFailed      EventStatus = "failed"
)

// ValidEventStatus reports whether s names an inbox status.
func ValidEventStatus(s string) bool {
	switch EventStatus(s) {
	case EventReceived, EventProcessed, EventIgnored, EventUnmatched, EventNeedsReview, EventFailed:
		return true
	}
	return false
}

// waitingStatusSQL names the statuses of events still to finish or to look
// at (received, unmatched, needs_review, failed): the inbox's index on status
// holds only these (migration 015). A query for one of them by a parameter
// says this too, so that a plan made for any value may read that index.
const waitingStatusSQL = `status IN ('received', 'unmatched', 'needs_review', 'failed')`

// waiting reports whether events of status s are in the index on status.
func waiting(s EventStatus) bool {
	switch s {
	case EventReceived, EventUnmatched, EventNeedsReview, EventFailed:
		return true
	}
	return false
}

// finalStatuses are those after which processing the event again can change
// nothing. Unmatched events are retried: their invoice may exist later.
var finalStatuses = []EventStatus{EventProcessed, EventIgnored, EventNeedsReview}

// EventSource says how an event reached the inbox.
type EventSource string

// Event sources.
const (
	SourceWebhook EventSource = "webhook"
	SourcePull    EventSource = "pull"
)

// InboxEvent is a raw Stripe event to store.
type InboxEvent struct {
	ID      string
	Type    string
	Created time.Time
	Payload []byte
	Source  EventSource
}

// Event is a stored Stripe event as the admin API shows it.
type Event struct {
	ID          string      `json:"id"`
	Type        string      `json:"type"`
	Status      EventStatus `json:"status"`
	InvoiceID   *string     `json:"invoice_id"`
	Error       string      `json:"error"`
	Attempts    int         `json:"attempts"`
	ReceivedAt  time.Time   `json:"received_at"`
	ProcessedAt *time.Time  `json:"processed_at"`
	// Resolution is an operator's, for an event that waited for a person.
	Resolution *EventResolution `json:"resolution,omitempty"`
	// ResolvedInvoiceID is the invoice an operator applied the event to:
	// every processing of it pays that invoice instead of the one it names.
	ResolvedInvoiceID string `json:"-"`
	Payload           []byte `json:"-"`
}

// StoreEvents writes a batch of raw events in one transaction and reports,
// for each, whether it was new. An id already stored is left as it was, so
// the same event delivered again changes nothing; a batch may hold one id
// twice.
func (s *Store) StoreEvents(ctx context.Context, events []InboxEvent) ([]bool, error) {
	if len(events) == 0 {
		return nil, nil
	}
	ids := make([]string, len(events))
	types := make([]string, len(events))
	created := make([]time.Time, len(events))
	payloads := make([][]byte, len(events))
	sources := make([]string, len(events))
	for i, e := range events {
		ids[i], types[i], created[i], payloads[i], sources[i] = e.ID, e.Type, e.Created, e.Payload, string(e.Source)
		if sources[i] == "" {
			sources[i] = string(SourceWebhook)
		}
	}
	rows, err := s.db.Query(ctx, `
		INSERT INTO events (id, type, stripe_created, payload, source)
		SELECT DISTINCT ON (id) id, type, created, payload, source
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bytea[], $5::text[])
			AS e (id, type, created, payload, source)
		ORDER BY id
		ON CONFLICT (id) DO NOTHING
		RETURNING id`, ids, types, created, payloads, sources)
	if err != nil {
		return nil, fmt.Errorf("store %d events: %w", len(events), err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store %d events: %w", len(events), err)
	}
	isNew := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		isNew[id] = true
	}
	out := make([]bool, len(events))
	for i, id := range ids {
		out[i] = isNew[id]
		isNew[id] = false // a second copy in the same batch is a duplicate
	}
	return out, nil
}

const eventColumns = `id, type, status, invoice_id, error, attempts, received_at, processed_at, payload,
	resolution_action, resolution_notes, resolution_actor, resolved_at, resolved_invoice_id`

var eventColumnsOfE = prefixed("e.", eventColumns)

func scanEvent(row pgx.Row) (Event, error) {
	var e Event
	var action, actor, forced *string
	var notes string
	var at *time.Time
	err := row.Scan(&e.ID, &e.Type, &e.Status, &e.InvoiceID, &e.Error, &e.Attempts, &e.ReceivedAt, &e.ProcessedAt, &e.Payload,
		&action, &notes, &actor, &at, &forced)
	e.ReceivedAt = e.ReceivedAt.UTC()
	if e.ProcessedAt != nil {
		t := e.ProcessedAt.UTC()
		e.ProcessedAt = &t
	}
	if action != nil && actor != nil && at != nil {
		e.Resolution = &EventResolution{Action: ResolveAction(*action), Notes: notes, Actor: *actor, At: at.UTC(), InvoiceID: forced}
	}
	if forced != nil {
		e.ResolvedInvoiceID = *forced
	}
	return e, err
}

// GetEvent reads one stored event with its payload.
func (s *Store) GetEvent(ctx context.Context, id string) (Event, error) {
	e, err := scanEvent(s.db.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Event{}, apperr.Errorf(apperr.KindNotFound, "event_not_found", "no event %s", id)
	}
	if err != nil {
		return Event{}, fmt.Errorf("read event %s: %w", id, err)
	}
	return e, nil
}

// UnfinishedEvents reads, with their payloads and in the order of ids, the
// events of ids that processing may still change: those not yet final.
// Ids not stored are left out, and an id given twice is read once.
func (s *Store) UnfinishedEvents(ctx context.Context, ids []string) ([]Event, error) {
	rows, err := s.db.Query(ctx, `
		SELECT `+eventColumnsOfE+`
		FROM (SELECT id, min(n) AS n FROM unnest($1::text[]) WITH ORDINALITY AS u (id, n) GROUP BY id) w
		JOIN events e ON e.id = w.id
		WHERE e.status <> ALL ($2)
		ORDER BY w.n`, ids, finalStatuses)
	if err != nil {
		return nil, fmt.Errorf("read %d events: %w", len(ids), err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("read %d events: %w", len(ids), err)
	}
	return events, nil
}

// EventResult is what processing an event came to.
type EventResult struct {
	Status    EventStatus
	InvoiceID string
	Reason    string
}

// setEventStatusSQL records the result of processing an event.
const setEventStatusSQL = `
	UPDATE events SET status = $2, invoice_id = COALESCE(NULLIF($3, ''), invoice_id), error = $4,
		attempts = attempts + 1, processed_at = now()
	WHERE id = $1`

// setEventStatus records the result of processing an event, inside the
// transaction of the ledger change it made.
func setEventStatus(ctx context.Context, tx pgx.Tx, eventID string, r EventResult) error {
	if eventID == "" {
		return nil
	}
	if _, err := tx.Exec(ctx, setEventStatusSQL, eventID, r.Status, r.InvoiceID, r.Reason); err != nil {
		return fmt.Errorf("set status of event %s: %w", eventID, err)
	}
	return nil
}

// MarkEvent records a result that needed no ledger change (an ignored type,
// a malformed object).
func (s *Store) MarkEvent(ctx context.Context, eventID string, r EventResult) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return setEventStatus(ctx, tx, eventID, r) })
}

// StaleEvents lists, in id order after afterID, the events of a status
// received more than olderThan ago: their processing is to be queued again.
// Paging by id lets a sweep take a whole backlog, however large.
func (s *Store) StaleEvents(ctx context.Context, status EventStatus, olderThan time.Duration, afterID string, limit int) ([]string, error) {
	byStatus := `status = $1`
	if waiting(status) {
		byStatus += ` AND ` + waitingStatusSQL
	}
	rows, err := s.db.Query(ctx, `
		SELECT id FROM events WHERE `+byStatus+` AND received_at < now() - $2::interval AND id > $3
		ORDER BY id LIMIT $4`, status, olderThan, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s events: %w", status, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list %s events: %w", status, err)
	}
	return ids, nil
}
