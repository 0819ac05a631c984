package reconcile

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/ids"
)

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
