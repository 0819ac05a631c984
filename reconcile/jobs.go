package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// JobType names what an operator's job does.
type JobType string

// The job types.
const (
	JobRecordPayment     JobType = "payment.record"
	JobDeletePayment     JobType = "payment.delete"
	JobIssueCreditNote   JobType = "credit_note.create"
	JobReverseCreditNote JobType = "credit_note.reverse"
	JobWriteOff          JobType = "invoice.write_off"
	JobReopen            JobType = "invoice.reopen"
	JobReconcile         JobType = "reconcile.run"
	// JobEventIgnore and JobEventApply resolve an event waiting for a
	// person; both mark themselves succeeded in their change's transaction.
	JobEventIgnore JobType = "event.ignore"
	JobEventApply  JobType = "event.apply"
)

// ChangesLedger reports whether a job of type t is a ledger change, keyed
// by the job's id: such a job is marked succeeded by the change's own
// transaction.
func (t JobType) ChangesLedger() bool { return t != JobReconcile }

// JobStatus is where a job stands.
type JobStatus string

// The job statuses of the contract.
const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobRetrying  JobStatus = "retrying"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
)

// Finished reports whether the job will not run again.
func (s JobStatus) Finished() bool { return s == JobSucceeded || s == JobFailed }

// Job is an operator's queued change, kept in PostgreSQL so that its status
// outlives Redis.
type Job struct {
	ID         string          `json:"id"`
	Type       JobType         `json:"type"`
	Status     JobStatus       `json:"status"`
	Error      string          `json:"error,omitempty"`
	InvoiceID  *string         `json:"invoice_id"`
	Actor      string          `json:"actor"`
	Result     json.RawMessage `json:"result,omitempty"`
	Attempts   int             `json:"attempts"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Payload    json.RawMessage `json:"-"`
}

// NewJob is a job to queue. IdempotencyKey, when set, makes it the only job
// for that key; RequestHash tells a replay of the same request from another
// request reusing the key. InternalKey does the same for the service's own
// jobs (the scheduler's runs, keyed by time slot), in a space of its own
// that an operator's Idempotency-Key never reaches: set one or the other.
type NewJob struct {
	Type JobType
	// Actor is who asks for it: an operator's name, or ActorReconciler for
	// the scheduler's runs. Its ledger change carries it into history.
	Actor          string
	InvoiceID      string
	Payload        any
	IdempotencyKey string
	RequestHash    string
	InternalKey    string
}

// JobIDForKey is the job id an idempotency key always maps to, so replays
// of a request meet the same job and the same Asynq task.
func JobIDForKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "job_" + hex.EncodeToString(sum[:12])
}

// internalJobID is the job id of an internal key. An operator's key is
// printable ASCII, never a NUL, so no operator's key maps to the same id.
func internalJobID(key string) string {
	sum := sha256.Sum256([]byte("internal\x00" + key))
	return "job_" + hex.EncodeToString(sum[:12])
}

const jobColumns = `id, type, status, error, invoice_id, actor, result, attempts, created_at, finished_at, payload`

func scanJob(row pgx.Row) (Job, error) {
	var j Job
	var result, payload []byte
	err := row.Scan(&j.ID, &j.Type, &j.Status, &j.Error, &j.InvoiceID, &j.Actor, &result, &j.Attempts, &j.CreatedAt, &j.FinishedAt, &payload)
	j.Result, j.Payload = result, payload
	j.CreatedAt = j.CreatedAt.UTC()
	if j.FinishedAt != nil {
		t := j.FinishedAt.UTC()
		j.FinishedAt = &t
	}
	return j, err
}

// GetJob reads a job.
func (s *Store) GetJob(ctx context.Context, id string) (Job, error) {
	j, err := scanJob(s.db.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, apperr.Errorf(apperr.KindNotFound, "job_not_found", "no job %s", id)
	}
	if err != nil {
		return Job{}, fmt.Errorf("read job %s: %w", id, err)
	}
	return j, nil
}

// ErrJobHeld is StartJob's answer for a job another transaction holds at
// that moment: a group of jobs applying it (JobGroup), or another delivery
// of its task starting it. That one finishes the job; if a group rolls back
// instead, the job is queued again and the relay sweep gives it a task.
var ErrJobHeld = errors.New("job is held by another transaction")

// StartJob marks a job running and returns it. A finished job is returned
// as it is, without a write: its task was delivered again, or a group of
// jobs applied it, and there is nothing left to do. A job another
// transaction holds is not waited for (ErrJobHeld): a worker slot waiting on
// a group's lock would do nothing while the group works.
func (s *Store) StartJob(ctx context.Context, id string) (Job, error) {
	var started bool
	j, err := scanJob(rowWith{s.db.QueryRow(ctx, `
		WITH target AS (
			SELECT id FROM jobs WHERE id = $1 AND status NOT IN ('succeeded', 'failed')
			FOR UPDATE SKIP LOCKED),
		started AS (
			UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = now()
			WHERE id = (SELECT id FROM target)
			RETURNING `+jobColumns+`)
		SELECT *, true FROM started
		UNION ALL
		SELECT `+jobColumns+`, false FROM jobs WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM started)`, id), []any{&started}})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Job{}, apperr.Errorf(apperr.KindNotFound, "job_not_found", "no job %s", id)
	case err != nil:
		return Job{}, fmt.Errorf("start job %s: %w", id, err)
	case !started && !j.Status.Finished():
		return j, fmt.Errorf("start job %s: %w", id, ErrJobHeld)
	}
	return j, nil
}

// countStart is the attempts a job's finish adds: a job still queued when
// it finishes was started, and locked, by the transaction finishing it (a
// group that claimed it), which leaves it queued until then (see
// claimJobsSQL), so its attempt is counted here.
const countStart = `attempts = attempts + (status = 'queued')::int`

// FinishJob records a job's end: succeeded with a result, or failed with a
// reason. A finished job stays as it first finished.
func (s *Store) FinishJob(ctx context.Context, id string, status JobStatus, reason string, result any) error {
	var res []byte
	if result != nil {
		var err error
		if res, err = json.Marshal(result); err != nil {
			return fmt.Errorf("encode result of job %s: %w", id, err)
		}
	}
	err := s.exec(ctx, `
		UPDATE jobs SET status = $2, error = $3, result = $4, finished_at = now(), updated_at = now(), `+countStart+`
		WHERE id = $1 AND status NOT IN ('succeeded', 'failed')`, id, status, reason, res)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	return nil
}

// lockJobSQL locks the job $1 (an operation's key; a key that names no
// job locks nothing) for the transaction of its change, and reports
// whether it has finished. Two tasks of one job may both start it; one may
// be refused by the ledger and mark the job failed, in a transaction of its
// own, while the other, a moment later, finds the ledger changed and could
// apply the change. Under this lock the change applies only to a job not
// yet finished, and a failure recorded meanwhile waits for the change's
// commit, then leaves the job succeeded: a job reads failed only when its
// change was not made.
const lockJobSQL = `SELECT coalesce((SELECT status IN ('succeeded', 'failed') FROM jobs WHERE id = $1 FOR UPDATE), false)`

// finishJobInTx marks the job id succeeded inside the transaction of the
// ledger change it asked for. Its result is what the change made that the
// operator needs next: a recorded payment's id or an issued credit note's,
// found by the job id, which is their idempotency key. A job already
// finished, or no job, is left as it is.
func finishJobInTx(ctx context.Context, tx pgx.Tx, id string) error {
	if id == "" {
		return nil
	}
	_, err := tx.Exec(ctx, `
		UPDATE jobs SET status = 'succeeded', error = '', finished_at = now(), updated_at = now(), `+countStart+`,
			result = CASE type
				WHEN $2 THEN (SELECT jsonb_build_object('payment_id', p.id) FROM payments p WHERE p.idempotency_key = jobs.id)
				WHEN $3 THEN (SELECT jsonb_build_object('credit_note_id', c.id) FROM credit_notes c WHERE c.op_key = jobs.id)
			END
		WHERE id = $1 AND status NOT IN ('succeeded', 'failed')`, id, JobRecordPayment, JobIssueCreditNote)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	return nil
}

// RetryJob records a transient fault; the job runs again.
func (s *Store) RetryJob(ctx context.Context, id, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE jobs SET status = $3, error = $2, updated_at = now()
		WHERE id = $1 AND status NOT IN ('succeeded', 'failed')`, id, reason, JobRetrying)
	if err != nil {
		return fmt.Errorf("mark job %s retrying: %w", id, err)
	}
	return nil
}

// unfinishedJobSQL names the statuses of the jobs not finished: the
// condition of their index, jobs_waiting (migration 017), which the
// queries that read it repeat.
const unfinishedJobSQL = `status IN ('queued', 'running', 'retrying')`

// UnfinishedJobs lists, in id order after afterID, jobs not finished and
// untouched for olderThan: their task may have been lost with Redis.
func (s *Store) UnfinishedJobs(ctx context.Context, olderThan time.Duration, afterID string, limit int) ([]Job, error) {
	rows, err := s.db.Query(ctx, `
		SELECT `+jobColumns+` FROM jobs
		WHERE `+unfinishedJobSQL+` AND updated_at < now() - $1::interval AND id > $2
		ORDER BY id LIMIT $3`, olderThan, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list unfinished jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("list unfinished jobs: %w", err)
	}
	return jobs, nil
}
