package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// settle waits until every event has been answered 200, none is still
// received, and no job is queued, running or retrying: the system has done
// all it was given. On timeout the error names what is stuck.
func (d *driver) settle(ctx context.Context, db *pgxpool.Pool) error {
	deadline := time.Now().Add(d.cfg.SettleTimeout)
	for {
		pending := d.pool.pending()
		var received, unfinished int
		err := db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM events WHERE status = 'received'),
			(SELECT count(*) FROM jobs WHERE status IN ('queued', 'running', 'retrying'))`).Scan(&received, &unfinished)
		if err == nil && pending == 0 && received == 0 && unfinished == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not settled after %s: %d deliveries not answered 200, %d events received, %d jobs unfinished (%v)%s",
				d.cfg.SettleTimeout, pending, received, unfinished, err, stuck(ctx, db))
		}
		sleep(ctx, 500*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// stuck describes the events and jobs that have not finished, as evidence.
func stuck(ctx context.Context, db *pgxpool.Pool) string {
	var b strings.Builder
	rows, err := db.Query(ctx, `SELECT id, type, attempts, received_at FROM events WHERE status = 'received' ORDER BY received_at LIMIT 10`)
	if err == nil {
		for rows.Next() {
			var id, typ string
			var attempts int
			var at time.Time
			if rows.Scan(&id, &typ, &attempts, &at) == nil {
				fmt.Fprintf(&b, "\n  event %s %s received %s, %d attempts", id, typ, at.UTC().Format(time.RFC3339Nano), attempts)
			}
		}
		rows.Close()
	}
	rows, err = db.Query(ctx, `SELECT id, type, status, attempts, error, updated_at FROM jobs
		WHERE status IN ('queued', 'running', 'retrying') ORDER BY updated_at LIMIT 10`)
	if err == nil {
		for rows.Next() {
			var id, typ, status, jerr string
			var attempts int
			var at time.Time
			if rows.Scan(&id, &typ, &status, &attempts, &jerr, &at) == nil {
				fmt.Fprintf(&b, "\n  job %s %s %s since %s, %d attempts %s", id, typ, status, at.UTC().Format(time.RFC3339Nano), attempts, jerr)
			}
		}
		rows.Close()
	}
	return b.String()
}

// apiJob is a job as GET /admin/jobs/{id} reports it.
type apiJob struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Status string          `json:"status"`
	Error  string          `json:"error"`
	Result json.RawMessage `json:"result"`
}

func (j apiJob) finished() bool { return j.Status == "succeeded" || j.Status == "failed" }

// getJob reads a job through the admin API, retrying through outages.
func (d *driver) getJob(ctx context.Context, id string) (apiJob, error) {
	_, b, err := d.adminOK(ctx, 30*time.Second, http.MethodGet, "/admin/jobs/"+id, nil, http.StatusOK)
	if err != nil {
		return apiJob{}, err
	}
	var j apiJob
	if err := json.Unmarshal(b, &j); err != nil {
		return apiJob{}, fmt.Errorf("job %s: %w", id, err)
	}
	return j, nil
}

// reconcileFull runs a full reconciliation through the admin API, waits for
// its job, and returns the run's ledger figures.
func (d *driver) reconcileFull(ctx context.Context, db *pgxpool.Pool) (runID string, drift int, err error) {
	key := "chaos-final-" + d.run
	var b []byte
	for deadline := time.Now().Add(30 * time.Second); ; {
		var status int
		status, b, err = d.admin(ctx, http.MethodPost, "/admin/reconcile?full=true", key, nil)
		if err == nil && status == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			return "", 0, fmt.Errorf("POST /admin/reconcile?full=true: %d %v %s", status, err, b)
		}
		sleep(ctx, 300*time.Millisecond)
	}
	var job apiJob
	if err := json.Unmarshal(b, &job); err != nil {
		return "", 0, err
	}
	if err := waitFor(ctx, 2*time.Minute, "the full reconciliation job "+job.ID, func() bool {
		job, err = d.getJob(ctx, job.ID)
		return err == nil && job.finished()
	}); err != nil {
		return "", 0, err
	}
	var res struct {
		RunID string `json:"run_id"`
	}
	_ = json.Unmarshal(job.Result, &res)
	if job.Status != "succeeded" {
		return res.RunID, 0, fmt.Errorf("the full reconciliation job %s %s: %s", job.ID, job.Status, job.Error)
	}
	err = db.QueryRow(ctx, `SELECT COALESCE((steps->'ledger'->>'drift_found')::int, 0) FROM runs WHERE id = $1`,
		res.RunID).Scan(&drift)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("the full reconciliation job %s names run %q, which does not exist", job.ID, res.RunID)
	}
	return res.RunID, drift, err
}

// reconcile measures drift, runs the full reconciliation, and measures
// again; drift found by the scheduled runs counts too.
func (d *driver) reconcile(ctx context.Context, db *pgxpool.Pool, rep *Report) error {
	before, err := drifted(ctx, db)
	if err != nil {
		return err
	}
	runID, found, err := d.reconcileFull(ctx, db)
	if err != nil {
		return err
	}
	rep.FinalRunDrift = found
	after, err := drifted(ctx, db)
	if err != nil {
		return err
	}
	var byRuns int
	if err := db.QueryRow(ctx, `SELECT COALESCE(sum((steps->'ledger'->>'drift_found')::int), 0) FROM runs WHERE id <> $1`,
		runID).Scan(&byRuns); err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	rep.Drift = len(before) + len(after) + byRuns
	for _, id := range append(before, after...) {
		d.evidence("invoice %s differs from invoice_truth", id)
	}
	if byRuns > 0 {
		d.evidence("scheduled reconciliation runs found %d drifted invoices (see GET /admin/reconcile/runs)", byRuns)
	}
	return nil
}
