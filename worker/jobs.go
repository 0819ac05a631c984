package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/reconcile"
)

// RunJob runs an operator's job. A refusal by the ledger ends the job failed
// with its reason and no retry; a fault is retried with backoff, and the job
// fails when the retries run out. The ledger change is keyed by the job id,
// so a job run twice changes the ledger once.
//
// A task of several jobs (JobPayload.JobIDs) applies them together, see
// runJobBatch.
func (h *Handlers) RunJob(ctx context.Context, task *asynq.Task) error {
	var p JobPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil || (p.JobID == "") == (len(p.JobIDs) == 0) ||
		slices.Contains(p.JobIDs, "") {
		return fmt.Errorf("bad job task payload: %w", asynq.SkipRetry)
	}
	if len(p.JobIDs) > 0 {
		var faults []error
		for ids := range slices.Chunk(p.JobIDs, reconcile.MaxJobsPerGroup) {
			faults = append(faults, h.runJobBatch(ctx, ids))
		}
		return errors.Join(faults...)
	}
	return h.runJob(ctx, p.JobID)
}

// runJob runs the job id alone, as its own task does.
func (h *Handlers) runJob(ctx context.Context, id string) error {
	job, err := h.store.StartJob(ctx, id)
	if errors.Is(err, reconcile.ErrJobHeld) {
		return nil // its holder finishes it, or the relay sweep queues it again
	}
	if err != nil {
		return retryUnlessRefused("job "+id, err)
	}
	if job.Status.Finished() {
		return nil
	}
	if job.Type.Groups() {
		if grouped, err := h.runJobGroup(ctx, job); grouped {
			return err
		}
	}
	log := h.log.With(zap.String("job", job.ID), zap.String("type", string(job.Type)))
	started := time.Now()
	result, err := h.applyJob(ctx, h.store, job)
	outcome := "retried"
	defer func() { h.metrics.job(job, outcome, time.Since(started)) }()
	if err == nil {
		outcome = "succeeded"
		log.Info("job succeeded")
		if job.Type.ChangesLedger() {
			return nil // its change's transaction marked it succeeded
		}
		return h.store.FinishJob(ctx, job.ID, reconcile.JobSucceeded, "", result)
	}
	if _, refused := apperr.As(err); refused || lastAttempt(ctx) {
		outcome = "failed"
		log.Info("job failed", zap.Error(err))
		if finishErr := h.store.FinishJob(ctx, job.ID, reconcile.JobFailed, err.Error(), nil); finishErr != nil {
			return finishErr
		}
		return fmt.Errorf("job %s: %v: %w", job.ID, err, asynq.SkipRetry)
	}
	log.Warn("job will be retried", zap.Error(err))
	if retryErr := h.store.RetryJob(ctx, job.ID, err.Error()); retryErr != nil {
		log.Warn("could not mark job retrying", zap.Error(retryErr))
	}
	return err
}

// runJobGroup applies job together with the other jobs queued by then that
// group with it, in one transaction (reconcile.Store.JobGroup), and reports
// whether the group committed. It did not when a fault rolled it back: job
// is then run alone, and the others wait for their own tasks. The error is
// job's own refusal, which ends its task without retry.
func (h *Handlers) runJobGroup(ctx context.Context, job reconcile.Job) (bool, error) {
	outcomes, err := h.applyJobs(ctx, func(apply func(*reconcile.Store, []reconcile.Job) error) error {
		return h.store.JobGroup(ctx, job, apply)
	})
	if err != nil {
		h.log.Debug("job group rolled back: the job runs alone", zap.String("job", job.ID), zap.Error(err))
		return false, nil
	}
	for _, o := range outcomes {
		if o.job.ID == job.ID && o.err != nil {
			return true, fmt.Errorf("job %s: %v: %w", job.ID, o.err, asynq.SkipRetry)
		}
	}
	return true, nil
}

// runJobBatch applies the jobs of ids, which one task carries, together
// with other queued jobs that group, starting them in the group's own
// transaction (reconcile.Store.JobBatch): a batch costs one commit. A
// refusal is its job's recorded result, not the task's error. If a fault
// rolls the group back, each job of ids runs alone, as its own task would;
// their faults are the task's error, so Asynq retries it, and the jobs
// finished by then are skipped.
func (h *Handlers) runJobBatch(ctx context.Context, ids []string) error {
	_, err := h.applyJobs(ctx, func(apply func(*reconcile.Store, []reconcile.Job) error) error {
		return h.store.JobBatch(ctx, ids, apply)
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	h.log.Debug("job batch rolled back: its jobs run alone", zap.Int("jobs", len(ids)), zap.Error(err))
	var faults []error
	for _, id := range ids {
		if err := h.runJob(ctx, id); err != nil && !errors.Is(err, asynq.SkipRetry) {
			faults = append(faults, err)
		}
	}
	return errors.Join(faults...)
}

// jobOutcome is one job's end in a group: applied, or refused by the ledger.
type jobOutcome struct {
	job reconcile.Job
	err error // the ledger's refusal
}

// applyJobs applies a group of jobs through group (JobGroup or JobBatch),
// and once it has committed, counts and logs each job's outcome. A job of
// the group whose change the ledger refuses is marked failed in the
// group's transaction: the ledger refuses before it writes.
func (h *Handlers) applyJobs(ctx context.Context, group func(apply func(*reconcile.Store, []reconcile.Job) error) error) ([]jobOutcome, error) {
	var outcomes []jobOutcome
	started := time.Now()
	err := group(func(g *reconcile.Store, jobs []reconcile.Job) error {
		outcomes = outcomes[:0]
		for _, j := range jobs {
			_, err := h.applyJob(ctx, g, j)
			if _, refused := apperr.As(err); refused {
				if err := g.FinishJob(ctx, j.ID, reconcile.JobFailed, err.Error(), nil); err != nil {
					return err
				}
			} else if err != nil {
				return fmt.Errorf("job %s: %w", j.ID, err)
			}
			outcomes = append(outcomes, jobOutcome{job: j, err: err})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, o := range outcomes {
		log := h.log.With(zap.String("job", o.job.ID), zap.String("type", string(o.job.Type)))
		if o.err != nil {
			h.metrics.job(o.job, "failed", time.Since(started))
			log.Info("job failed", zap.Error(o.err))
			continue
		}
		h.metrics.job(o.job, "succeeded", time.Since(started))
		log.Info("job succeeded")
	}
	return outcomes, nil
}

// applyJob makes the job's ledger change through store (the worker's own,
// or a group's), keyed by the job id and made in the name of the job's
// actor, so its history row says who asked.
func (h *Handlers) applyJob(ctx context.Context, store *reconcile.Store, job reconcile.Job) (any, error) {
	op := reconcile.Op{Key: job.ID, Actor: job.Actor}
	switch job.Type {
	case reconcile.JobRecordPayment:
		return withArgs(job, func(a RecordPaymentArgs) error {
			_, _, err := store.RecordManualPayment(ctx, reconcile.ManualPayment{Key: op.Key, Actor: op.Actor, InvoiceID: a.InvoiceID,
				Amount: a.Amount, PaidDate: a.PaidDate, Method: a.Method, Notes: a.Notes})
			return err
		})
	case reconcile.JobDeletePayment:
		return withArgs(job, func(a DeletePaymentArgs) error {
			_, err := store.DeletePayment(ctx, op, a.InvoiceID, a.PaymentID)
			return err
		})
	case reconcile.JobIssueCreditNote:
		return withArgs(job, func(a IssueCreditNoteArgs) error {
			_, _, err := store.IssueCreditNote(ctx, reconcile.NewCreditNote{Key: op.Key, Actor: op.Actor, InvoiceID: a.InvoiceID,
				Amount: a.Amount, Reason: a.Reason, Notes: a.Notes})
			return err
		})
	case reconcile.JobReverseCreditNote:
		return withArgs(job, func(a ReverseCreditNoteArgs) error {
			_, err := store.ReverseCreditNote(ctx, op, a.InvoiceID, a.CreditNoteID)
			return err
		})
	case reconcile.JobWriteOff:
		return withArgs(job, func(a WriteOffArgs) error {
			_, err := store.WriteOff(ctx, op, a.InvoiceID, a.Notes)
			return err
		})
	case reconcile.JobReopen:
		return withArgs(job, func(a ReopenArgs) error {
			_, err := store.Reopen(ctx, op, a.InvoiceID)
			return err
		})
	case reconcile.JobEventIgnore:
		return withArgs(job, func(a ResolveEventArgs) error { return h.ignoreEvent(ctx, job, a) })
	case reconcile.JobEventApply:
		return withArgs(job, func(a ResolveEventArgs) error { return h.applyEventByHand(ctx, job, a) })
	case reconcile.JobReconcile:
		a, err := jobArgs[ReconcileArgs](job)
		if err != nil {
			return nil, err
		}
		runID, err := h.reconciler.Run(ctx, a.Full)
		h.observeRun(ctx, runID)
		return map[string]string{"run_id": runID}, err
	}
	return nil, apperr.Errorf(apperr.KindInvalid, "bad_job", "job %s has unknown type %q", job.ID, job.Type)
}

// jobArgs decodes a job's payload into the arguments of its type. A payload
// that does not decode is refused: the job can never run.
func jobArgs[T any](job reconcile.Job) (T, error) {
	var a T
	if err := json.Unmarshal(job.Payload, &a); err != nil {
		return a, apperr.Errorf(apperr.KindInvalid, "bad_job", "job %s payload: %v", job.ID, err)
	}
	return a, nil
}

// withArgs decodes a job's arguments and makes its change with them; a
// ledger change has no result beyond its error.
func withArgs[T any](job reconcile.Job, change func(T) error) (any, error) {
	a, err := jobArgs[T](job)
	if err != nil {
		return nil, err
	}
	return nil, change(a)
}
