package reconcile

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MaxJobsPerGroup bounds the operators' jobs applied in one transaction.
const MaxJobsPerGroup = 64

// groupedJobTypes are the jobs JobGroup applies together: each a change of
// one invoice, keyed by the job.
var groupedJobTypes = []JobType{JobRecordPayment, JobDeletePayment, JobIssueCreditNote, JobReverseCreditNote, JobWriteOff, JobReopen}

// Groups reports whether jobs of type t may be applied together (JobGroup).
func (t JobType) Groups() bool {
	for _, g := range groupedJobTypes {
		if t == g {
			return true
		}
	}
	return false
}

// claimJobsSQL starts, in one statement, up to $3 of the oldest queued
// jobs of the types $2 other than $1, skipping those another group holds.
// Their own tasks, when they run, find them finished.
var claimJobsSQL = `
	WITH c AS (
		SELECT id FROM jobs WHERE status = 'queued' AND type = ANY ($2) AND id <> $1
		ORDER BY created_at, id LIMIT $3
		FOR UPDATE SKIP LOCKED),
	started AS (
		UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, updated_at = now()
		FROM c WHERE j.id = c.id
		RETURNING ` + prefixed("j.", jobColumns) + `)
	SELECT * FROM started ORDER BY created_at, id`

// JobGroup applies job, which its task has started (unless a task of the
// same job has finished it since), together with other queued jobs of the
// types that group (up to MaxJobsPerGroup in all), in one transaction: the
// jobs are claimed and their invoices locked in id order, then apply makes
// each job's change through the store it is given, in the order the jobs
// were queued. Each change keeps its own rules, key and history; a refusal
// is that job's result, which apply records with FinishJob on that store.
// Manual payments may be judged in memory and written together once apply
// returns (see manualPayments). Any error rolls the whole group back, and
// the claimed jobs wait for their own tasks again.
func (s *Store) JobGroup(ctx context.Context, job Job, apply func(g *Store, jobs []Job) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// The group's own job was started by its task, which holds no lock
		// on it: a task of the same job may have finished it since. It is
		// locked first, holding nothing else: another group's claim may
		// hold it a while (a row it locked and then found started), and
		// waiting for that with the invoices locked could deadlock.
		var finished bool
		if err := tx.QueryRow(ctx, lockJobSQL, job.ID).Scan(&finished); err != nil {
			return fmt.Errorf("lock job %s: %w", job.ID, err)
		}
		rows, err := tx.Query(ctx, claimJobsSQL, job.ID, groupedJobTypes, MaxJobsPerGroup-1)
		if err != nil {
			return fmt.Errorf("claim jobs beside %s: %w", job.ID, err)
		}
		others, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return scanJob(r) })
		if err != nil {
			return fmt.Errorf("claim jobs beside %s: %w", job.ID, err)
		}
		jobs := others
		if !finished {
			jobs = append([]Job{job}, others...)
		}
		invoices := make([]string, 0, len(jobs))
		for _, j := range jobs {
			if j.InvoiceID != nil {
				invoices = append(invoices, *j.InvoiceID)
			}
		}
		if _, err := tx.Exec(ctx, `SELECT FROM invoices WHERE id = ANY ($1) ORDER BY id FOR UPDATE`, invoices); err != nil {
			return fmt.Errorf("lock the invoices of %d jobs: %w", len(jobs), err)
		}
		manual, err := planManualPayments(ctx, tx, jobs)
		if err != nil {
			return err
		}
		if err := apply(&Store{db: s.db, group: &group{tx: tx, manual: manual}}, jobs); err != nil {
			return err
		}
		return manual.write(ctx, tx)
	})
}
