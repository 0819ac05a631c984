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

// claimJobsSQL locks, in one statement, up to $3 of the oldest queued
// jobs of the types $2 not in $1, skipping those another group holds.
// Their own tasks, when they run, find them finished. A job claimed stays
// queued until the group finishes it: no other transaction could see it
// running, and the write would cost an index entry in each of the jobs'
// indexes (see countStart).
var claimJobsSQL = `
	SELECT ` + jobColumns + ` FROM jobs WHERE status = 'queued' AND type = ANY ($2) AND id <> ALL ($1)
	ORDER BY created_at, id LIMIT $3
	FOR UPDATE SKIP LOCKED`

// lockJobsSQL locks the jobs of $1 of the types $2 that are not
// finished, skipping those another transaction holds: a group that claimed
// them finishes them, or leaves them queued if it rolls back.
var lockJobsSQL = `
	SELECT ` + jobColumns + ` FROM jobs
	WHERE id = ANY ($1) AND type = ANY ($2) AND status NOT IN ('succeeded', 'failed')
	ORDER BY created_at, id
	FOR UPDATE SKIP LOCKED`

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
		var own []Job
		if !finished {
			own = []Job{job}
		}
		return s.applyJobGroup(ctx, tx, own, apply)
	})
}

// JobBatch is JobGroup for the jobs of ids, which one task carries (the
// jobs of one group commit of operators' requests): they are started in the
// group's own transaction, so the whole batch costs one commit. A job of
// ids that is finished, or that another group holds, is left out; so is a
// job of a type that does not group, which no batch is given (it stays
// queued, and the relay sweep gives it a task of its own).
func (s *Store) JobBatch(ctx context.Context, ids []string, apply func(g *Store, jobs []Job) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, lockJobsSQL, ids, groupedJobTypes)
		if err != nil {
			return fmt.Errorf("start %d jobs: %w", len(ids), err)
		}
		own, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return scanJob(r) })
		if err != nil {
			return fmt.Errorf("start %d jobs: %w", len(ids), err)
		}
		// A queued job's attempt is counted when it finishes (countStart);
		// one that ran before (retrying, or running when its worker died)
		// is started here.
		var again []string
		for _, j := range own {
			if j.Status != JobQueued {
				again = append(again, j.ID)
			}
		}
		if len(again) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = now()
				WHERE id = ANY ($1)`, again); err != nil {
				return fmt.Errorf("start %d jobs again: %w", len(again), err)
			}
		}
		return s.applyJobGroup(ctx, tx, own, apply)
	})
}

// applyJobGroup claims, beside own (jobs the transaction tx has started and
// locked), other queued jobs that group, up to MaxJobsPerGroup in all,
// locks their invoices in id order and applies them (see JobGroup).
func (s *Store) applyJobGroup(ctx context.Context, tx pgx.Tx, own []Job, apply func(g *Store, jobs []Job) error) error {
	ownIDs := make([]string, len(own))
	for i, j := range own {
		ownIDs[i] = j.ID
	}
	rows, err := tx.Query(ctx, claimJobsSQL, ownIDs, groupedJobTypes, max(MaxJobsPerGroup-len(own), 0))
	if err != nil {
		return fmt.Errorf("claim jobs beside %d: %w", len(own), err)
	}
	others, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return scanJob(r) })
	if err != nil {
		return fmt.Errorf("claim jobs beside %d: %w", len(own), err)
	}
	jobs := append(own, others...)
	if len(jobs) == 0 {
		return nil
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
}
