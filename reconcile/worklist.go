package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// The operators' work queue: jobs and stored events, newest first, a page
// at a time. Both page with a (time, id) cursor, so a page costs the same
// however deep it is.

// JobFilter selects a page of jobs, newest first. Empty fields match all.
type JobFilter struct {
	Status    JobStatus
	Type      JobType
	InvoiceID string
	Limit     int
	Cursor    string // from the previous page's NextCursor
}

// JobPage is one page of jobs. NextCursor is empty on the last page.
type JobPage struct {
	Jobs       []Job  `json:"jobs"`
	NextCursor string `json:"next_cursor"`
}

// ValidJobStatus reports whether s names a job status.
func ValidJobStatus(s string) bool {
	switch JobStatus(s) {
	case JobQueued, JobRunning, JobRetrying, JobSucceeded, JobFailed:
		return true
	}
	return false
}

// maxFilterText bounds a free-text filter (a type, an invoice id).
const maxFilterText = 200

// ListJobs pages through jobs, newest first.
func (s *Store) ListJobs(ctx context.Context, f JobFilter) (JobPage, error) {
	switch {
	case f.Status != "" && !ValidJobStatus(string(f.Status)):
		return JobPage{}, apperr.Errorf(apperr.KindInvalid, "invalid_status", "status must be queued, running, retrying, succeeded or failed")
	case !textcheck.Valid(string(f.Type), maxFilterText):
		return JobPage{}, apperr.Errorf(apperr.KindInvalid, "invalid_type", "type must be text of at most %d characters", maxFilterText)
	case !textcheck.Valid(f.InvoiceID, maxFilterText):
		return JobPage{}, apperr.Errorf(apperr.KindInvalid, "invalid_invoice_id", "invoice_id must be text of at most %d characters", maxFilterText)
	}
	limit := pageLimit(f.Limit)
	afterAt, afterID, err := decodeCursor(f.Cursor)
	if err != nil {
		return JobPage{}, err
	}
	rows, err := s.db.Query(ctx, `
		SELECT `+jobColumns+` FROM jobs
		WHERE (@status = '' OR status = @status)
		  AND (@type = '' OR type = @type)
		  AND (@invoice = '' OR invoice_id = @invoice)
		  AND (@after_at::timestamptz IS NULL OR (created_at, id) < (@after_at, @after_id))
		ORDER BY created_at DESC, id DESC
		LIMIT @limit`, pgx.NamedArgs{"status": string(f.Status), "type": string(f.Type), "invoice": f.InvoiceID,
		"after_at": afterAt, "after_id": afterID, "limit": limit + 1})
	if err != nil {
		return JobPage{}, fmt.Errorf("list jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return scanJob(r) })
	if err != nil {
		return JobPage{}, fmt.Errorf("list jobs: %w", err)
	}
	var page JobPage
	page.Jobs, page.NextCursor = cutPage(jobs, limit, func(j Job) (time.Time, string) { return j.CreatedAt, j.ID })
	return page, nil
}

// EventFilter selects a page of stored events, newest first. Empty fields
// match all.
type EventFilter struct {
	Status EventStatus
	Type   string
	Limit  int
	Cursor string // from the previous page's NextCursor
}

// MaxEventPageSize caps how many events one page holds.
const MaxEventPageSize = 500

// EventPage is one page of events. NextCursor is empty on the last page.
type EventPage struct {
	Events     []Event `json:"events"`
	NextCursor string  `json:"next_cursor"`
}

// ListEvents pages through stored events, newest first.
func (s *Store) ListEvents(ctx context.Context, f EventFilter) (EventPage, error) {
	switch {
	case f.Status != "" && !ValidEventStatus(string(f.Status)):
		return EventPage{}, apperr.Errorf(apperr.KindInvalid, "invalid_status",
			"status must be received, processed, ignored, unmatched, needs_review or failed")
	case !textcheck.Valid(f.Type, maxFilterText):
		return EventPage{}, apperr.Errorf(apperr.KindInvalid, "invalid_type", "type must be text of at most %d characters", maxFilterText)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxEventPageSize)
	afterAt, afterID, err := decodeCursor(f.Cursor)
	if err != nil {
		return EventPage{}, err
	}
	// A waiting status is found through its index; the others, most of
	// the inbox, newest first through the listing's.
	byStatus := `(@status = '' OR status = @status)`
	if waiting(f.Status) {
		byStatus = `status = @status AND ` + waitingStatusSQL
	}
	rows, err := s.db.Query(ctx, `
		SELECT `+eventColumns+` FROM events
		WHERE `+byStatus+`
		  AND (@type = '' OR type = @type)
		  AND (@after_at::timestamptz IS NULL OR (received_at, id) < (@after_at, @after_id))
		ORDER BY received_at DESC, id DESC
		LIMIT @limit`, pgx.NamedArgs{"status": string(f.Status), "type": f.Type,
		"after_at": afterAt, "after_id": afterID, "limit": limit + 1})
	if err != nil {
		return EventPage{}, fmt.Errorf("list events: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) { return scanEvent(r) })
	if err != nil {
		return EventPage{}, fmt.Errorf("list events: %w", err)
	}
	var page EventPage
	page.Events, page.NextCursor = cutPage(events, limit, func(e Event) (time.Time, string) { return e.ReceivedAt, e.ID })
	return page, nil
}

// pageLimit is a page size within (0, MaxPageSize], 50 when unset.
func pageLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, MaxPageSize)
}
