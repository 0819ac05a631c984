package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// RunStatus is where a reconciliation run stands.
type RunStatus string

// The run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Run is a reconciliation run as the admin API shows it. Steps holds a
// RunSteps.
type Run struct {
	ID         string          `json:"id"`
	Full       bool            `json:"full"`
	Status     RunStatus       `json:"status"`
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Watermark  *time.Time      `json:"watermark,omitempty"`
	Steps      json.RawMessage `json:"steps"`
	Error      string          `json:"error,omitempty"`
}

// abandonAfter is when a run still "running" is taken to have died with its
// process. Runs are bounded well below it (the worker's task timeout).
const abandonAfter = 2 * time.Hour

const runColumns = `id, is_full, status, started_at, finished_at, watermark, steps, error`

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	var steps []byte
	err := row.Scan(&r.ID, &r.Full, &r.Status, &r.StartedAt, &r.FinishedAt, &r.Watermark, &steps, &r.Error)
	r.Steps = steps
	r.StartedAt = r.StartedAt.UTC()
	for _, t := range []**time.Time{&r.FinishedAt, &r.Watermark} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return r, err
}

// MaxRunsListed caps how many runs one listing holds.
const MaxRunsListed = 500

// ListRuns lists the latest runs, newest first: limit of them (50 when not
// positive, at most MaxRunsListed).
func (s *Store) ListRuns(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxRunsListed)
	rows, err := s.db.Query(ctx, `SELECT `+runColumns+` FROM runs ORDER BY started_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) { return scanRun(r) })
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// GetRun reads one run.
func (s *Store) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(s.db.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, apperr.Errorf(apperr.KindNotFound, "run_not_found", "no run %s", id)
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %s: %w", id, err)
	}
	return r, nil
}

// startRun records a run as running. Runs left running by a process that
// died are closed as failed first, so the listing does not show them
// running for ever.
func (s *Store) startRun(ctx context.Context, id string, full bool) error {
	if _, err := s.db.Exec(ctx, `
		UPDATE runs SET status = 'failed', finished_at = now(),
			error = 'abandoned: its process stopped before the run ended'
		WHERE status = 'running' AND started_at < now() - $1::interval`, abandonAfter); err != nil {
		return fmt.Errorf("close abandoned runs: %w", err)
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO runs (id, is_full) VALUES ($1, $2)`, id, full); err != nil {
		return fmt.Errorf("start run %s: %w", id, err)
	}
	return nil
}

// saveRunSteps records the figures of a run in progress.
func (s *Store) saveRunSteps(ctx context.Context, id string, steps RunSteps) error {
	b, err := json.Marshal(steps)
	if err != nil {
		return fmt.Errorf("encode steps of run %s: %w", id, err)
	}
	if _, err := s.db.Exec(ctx, `UPDATE runs SET steps = $2 WHERE id = $1 AND status = $3`, id, b, RunRunning); err != nil {
		return fmt.Errorf("save steps of run %s: %w", id, err)
	}
	return nil
}

// finishRun records a run's end. watermark is set only when its ledger check
// completed, since the next incremental run starts from it.
func (s *Store) finishRun(ctx context.Context, id string, steps RunSteps, watermark *time.Time, runErr error) error {
	b, err := json.Marshal(steps)
	if err != nil {
		return fmt.Errorf("encode steps of run %s: %w", id, err)
	}
	status, msg := RunSucceeded, ""
	if runErr != nil {
		status, msg = RunFailed, runErr.Error()
	}
	if _, err := s.db.Exec(ctx, `
		UPDATE runs SET status = $2, error = $3, steps = $4, watermark = $5, finished_at = now()
		WHERE id = $1`, id, status, msg, b, watermark); err != nil {
		return fmt.Errorf("finish run %s: %w", id, err)
	}
	return nil
}

// lastWatermark is the newest watermark of a run whose ledger check
// completed; nil when there was none.
func (s *Store) lastWatermark(ctx context.Context) (*time.Time, error) {
	var w *time.Time
	if err := s.db.QueryRow(ctx, `SELECT max(watermark) FROM runs WHERE watermark IS NOT NULL`).Scan(&w); err != nil {
		return nil, fmt.Errorf("read last watermark: %w", err)
	}
	return w, nil
}

// dbNow is the database's clock, the one updated_at and received_at use.
func (s *Store) dbNow(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := s.db.QueryRow(ctx, `SELECT now()`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("read database time: %w", err)
	}
	return t, nil
}

// eventKey is an event's place in the (received_at, id) order.
type eventKey struct {
	at time.Time
	id string
}

// unmatchedEvents pages through unmatched events received up to until, in
// (received_at, id) order, after the key after (from the start when nil).
func (s *Store) unmatchedEvents(ctx context.Context, after *eventKey, until time.Time, limit int) ([]eventKey, error) {
	var afterAt *time.Time
	var afterID string
	if after != nil {
		afterAt, afterID = &after.at, after.id
	}
	rows, err := s.db.Query(ctx, `
		SELECT received_at, id FROM events
		WHERE status = 'unmatched' AND received_at <= $1
		  AND ($2::timestamptz IS NULL OR (received_at, id) > ($2, $3))
		ORDER BY received_at, id
		LIMIT $4`, until, afterAt, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list unmatched events: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (eventKey, error) {
		var k eventKey
		err := r.Scan(&k.at, &k.id)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list unmatched events: %w", err)
	}
	return keys, nil
}
