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
	"github.com/payrecon/reconciler/internal/ids"
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

// jobByKeySQL reads the job of an idempotency key, with the hash of the
// request it was first used for.
const jobByKeySQL = `SELECT ` + jobColumns + `, request_hash FROM jobs WHERE idempotency_key = $1`

// LookupJobByKey finds the job of an idempotency key. ok is false when the
// key is new. A key first used for another request is refused.
func (s *Store) LookupJobByKey(ctx context.Context, key, requestHash string) (Job, bool, error) {
	var hash string
	j, err := scanJob(rowWith{s.db.QueryRow(ctx, jobByKeySQL, key), []any{&hash}})
	found, err := keyedJob(j, err, hash, requestHash)
	if !found {
		return Job{}, false, err
	}
	return j, true, nil
}

// InvoiceRead is an invoice read ahead of its use, or what its read met
// instead (GetInvoice's error: not found, say).
type InvoiceRead struct {
	Invoice Invoice
	Err     error
}

// LookupJobByKeyReading is LookupJobByKey, and reads invoice invoiceID in
// the same round trip: what a new request checks next. The invoice's read
// is of no use when the key has its job.
func (s *Store) LookupJobByKeyReading(ctx context.Context, key, requestHash, invoiceID string) (Job, bool, InvoiceRead, error) {
	var hash string
	var job Job
	var jobErr error
	var read InvoiceRead
	var b pgx.Batch
	b.Queue(jobByKeySQL, key).QueryRow(func(row pgx.Row) error {
		job, jobErr = scanJob(rowWith{row, []any{&hash}})
		return nil
	})
	b.Queue(ruledInvoiceSQL, invoiceID).QueryRow(func(row pgx.Row) error {
		var err error
		read.Invoice, err = scanRuled(row)
		read.Err = invoiceReadErr(invoiceID, err)
		return nil
	})
	if err := s.db.SendBatch(ctx, &b).Close(); err != nil {
		return Job{}, false, InvoiceRead{}, fmt.Errorf("look up idempotency key: %w", err)
	}
	found, err := keyedJob(job, jobErr, hash, requestHash)
	return job, found, read, err
}

// KeyRead is one request's lookup of its idempotency key, with the read
// of the invoice it names (none when InvoiceID is empty).
type KeyRead struct {
	Key, RequestHash, InvoiceID string
}

// KeyReadResult is what LookupJobByKeyReading returns for one KeyRead.
type KeyReadResult struct {
	Job     Job
	Found   bool
	Invoice InvoiceRead
	Err     error
}

// jobsByKeysSQL reads the jobs of the idempotency keys $1, with the hash
// of the request each was first used for.
const jobsByKeysSQL = `SELECT ` + jobColumns + `, request_hash, idempotency_key FROM jobs WHERE idempotency_key = ANY ($1)`

// LookupJobsByKeysReading is LookupJobByKeyReading for the requests of
// reads, in one round trip of two statements however many there are: the
// admin API gathers the lookups of concurrent requests. Each result is
// what LookupJobByKeyReading (or LookupJobByKey, for a read without an
// invoice) returns for its read alone, at the moment of the round trip.
// The error is a fault of the round trip, which no result then holds.
func (s *Store) LookupJobsByKeysReading(ctx context.Context, reads []KeyRead) ([]KeyReadResult, error) {
	keys := make([]string, 0, len(reads))
	invoiceIDs := make([]string, 0, len(reads))
	for _, r := range reads {
		keys = append(keys, r.Key)
		if r.InvoiceID != "" {
			invoiceIDs = append(invoiceIDs, r.InvoiceID)
		}
	}
	type keyed struct {
		job  Job
		hash string
	}
	jobs := make(map[string]keyed, len(reads))
	invoices := make(map[string]Invoice, len(invoiceIDs))
	var b pgx.Batch
	b.Queue(jobsByKeysSQL, keys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var k keyed
			var key string
			j, err := scanJob(rowWith{rows, []any{&k.hash, &key}})
			if err != nil {
				return err
			}
			k.job = j
			jobs[key] = k
		}
		return rows.Err()
	})
	if len(invoiceIDs) > 0 {
		b.Queue(ruledInvoicesSQL, invoiceIDs).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				inv, err := scanRuled(rows)
				if err != nil {
					return err
				}
				invoices[inv.ID] = inv
			}
			return rows.Err()
		})
	}
	if err := s.db.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("look up %d idempotency keys: %w", len(reads), err)
	}
	out := make([]KeyReadResult, len(reads))
	for i, r := range reads {
		res := &out[i]
		k, ok := jobs[r.Key]
		var err error
		if !ok {
			err = pgx.ErrNoRows
		}
		if res.Found, res.Err = keyedJob(k.job, err, k.hash, r.RequestHash); res.Found {
			res.Job = k.job
		}
		if r.InvoiceID != "" {
			inv, ok := invoices[r.InvoiceID]
			if ok {
				res.Invoice.Invoice = inv
			} else {
				res.Invoice.Err = invoiceNotFound(r.InvoiceID)
			}
		}
	}
	return out, nil
}

// keyedJob is what the lookup of an idempotency key found: the job of
// requestHash, none, or a refusal for a key first used by another request.
func keyedJob(j Job, err error, hash, requestHash string) (bool, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up idempotency key: %w", err)
	}
	if hash != requestHash {
		return false, apperr.Errorf(apperr.KindRefused, "idempotency_key_reused",
			"this Idempotency-Key was used for another request (job %s)", j.ID)
	}
	return true, nil
}

// CreateJob stores a queued job. With an idempotency key, a job that exists
// for it is returned instead (created is false).
func (s *Store) CreateJob(ctx context.Context, n NewJob) (job Job, created bool, err error) {
	r, err := newJobRow(n)
	if err != nil {
		return Job{}, false, err
	}
	return s.createJob(ctx, r)
}

// createJob stores the job of r alone.
func (s *Store) createJob(ctx context.Context, r jobRow) (Job, bool, error) {
	inserted, err := s.insertJobs(ctx, []jobRow{r})
	if err != nil {
		return Job{}, false, err
	}
	if job, ok := inserted[r.id]; ok {
		return job, true, nil
	}
	return s.existingJob(ctx, r)
}

// CreatedJob is the outcome of storing one job of CreateJobs, as CreateJob
// returns it.
type CreatedJob struct {
	Job     Job
	Created bool
	Err     error
}

// CreateJobs stores jobs with one statement, and one commit, where
// CreateJob takes one each: the admin API gathers the jobs of concurrent
// requests. Each outcome is what CreateJob would have returned for its job
// alone: a job whose key another (in this batch or before) holds gets that
// job or its refusal, and if the statement fails, each job is stored alone,
// so one bad job fails only itself.
func (s *Store) CreateJobs(ctx context.Context, ns []NewJob) []CreatedJob {
	out := make([]CreatedJob, len(ns))
	rows := make([]jobRow, 0, len(ns))
	at := make([]int, 0, len(ns)) // the index in ns of each row
	for i, n := range ns {
		r, err := newJobRow(n)
		if err != nil {
			out[i].Err = err
			continue
		}
		rows, at = append(rows, r), append(at, i)
	}
	if len(rows) == 0 {
		return out
	}
	inserted, err := s.insertJobs(ctx, rows)
	if err != nil {
		for k, r := range rows {
			out[at[k]].Job, out[at[k]].Created, out[at[k]].Err = s.createJob(ctx, r)
		}
		return out
	}
	for k, r := range rows {
		i := at[k]
		if job, ok := inserted[r.id]; ok {
			// Two requests with one key share an id: the first is the one
			// that created it, the second meets it as a replay would.
			delete(inserted, r.id)
			out[i].Job, out[i].Created = job, true
			continue
		}
		out[i].Job, out[i].Created, out[i].Err = s.existingJob(ctx, r)
	}
	return out
}

// insertJobs inserts rows, skipping those whose id or key is taken, and
// returns the inserted jobs by id.
func (s *Store) insertJobs(ctx context.Context, rows []jobRow) (map[string]Job, error) {
	n := len(rows)
	ids, types, invoices, payloads, hashes, actors := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	keys, internals := make([]*string, n), make([]*string, n)
	for i, r := range rows {
		ids[i], types[i], invoices[i], payloads[i] = r.id, string(r.n.Type), r.n.InvoiceID, string(r.payload)
		hashes[i], actors[i], keys[i], internals[i] = r.n.RequestHash, r.n.Actor, r.key, r.internal
	}
	res, err := s.db.Query(ctx, `
		INSERT INTO jobs (id, type, invoice_id, payload, idempotency_key, request_hash, actor, internal_key)
		SELECT id, type, NULLIF(invoice_id, ''), payload::jsonb, idempotency_key, request_hash, actor, internal_key
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
			AS r (id, type, invoice_id, payload, idempotency_key, request_hash, actor, internal_key)
		ON CONFLICT DO NOTHING
		RETURNING `+jobColumns, ids, types, invoices, payloads, keys, hashes, actors, internals)
	if err != nil {
		return nil, fmt.Errorf("create %d jobs: %w", n, err)
	}
	jobs, err := pgx.CollectRows(res, func(r pgx.CollectableRow) (Job, error) { return scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("create %d jobs: %w", n, err)
	}
	byID := make(map[string]Job, len(jobs))
	for _, j := range jobs {
		byID[j.ID] = j
	}
	return byID, nil
}

// jobRow is a job checked and ready to insert: its id, and its key or
// internal key, whichever it has.
type jobRow struct {
	n             NewJob
	id            string
	key, internal *string
	payload       []byte
}

func newJobRow(n NewJob) (jobRow, error) {
	if err := validActor(n.Actor); err != nil {
		return jobRow{}, err
	}
	payload, err := json.Marshal(n.Payload)
	if err != nil {
		return jobRow{}, fmt.Errorf("encode job payload: %w", err)
	}
	r := jobRow{n: n, id: ids.New("job"), payload: payload}
	switch {
	case n.InternalKey != "":
		r.id, r.internal = internalJobID(n.InternalKey), &n.InternalKey
	case n.IdempotencyKey != "":
		r.id, r.key = JobIDForKey(n.IdempotencyKey), &n.IdempotencyKey
	}
	return r, nil
}

// existingJob returns the job that holds r's key, which r's insert met.
func (s *Store) existingJob(ctx context.Context, r jobRow) (Job, bool, error) {
	switch {
	case r.internal != nil:
		// Another scheduler queued this slot first.
		job, err := scanJob(s.db.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE internal_key = $1`, *r.internal))
		if err != nil {
			return Job{}, false, fmt.Errorf("read job of internal key %s: %w", *r.internal, err)
		}
		return job, false, nil
	case r.key != nil:
		// Another request with the same key won the race.
		job, found, err := s.LookupJobByKey(ctx, *r.key, r.n.RequestHash)
		if err == nil && !found {
			err = fmt.Errorf("job for idempotency key vanished")
		}
		return job, false, err
	default:
		return Job{}, false, fmt.Errorf("create %s job: its new id %s is taken", r.n.Type, r.id)
	}
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

// UnfinishedJobs lists, in id order after afterID, jobs not finished and
// untouched for olderThan: their task may have been lost with Redis.
func (s *Store) UnfinishedJobs(ctx context.Context, olderThan time.Duration, afterID string, limit int) ([]Job, error) {
	rows, err := s.db.Query(ctx, `
		SELECT `+jobColumns+` FROM jobs
		WHERE status IN ('queued', 'running', 'retrying') AND updated_at < now() - $1::interval AND id > $2
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
