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
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/reconcile"
)

// reconcileTimeout bounds one reconciliation run, which walks every invoice.
const reconcileTimeout = 30 * time.Minute

// Reconciler runs a reconciliation run and names it.
type Reconciler interface {
	Run(ctx context.Context, full bool) (runID string, err error)
}

// Handlers turn tasks into ledger changes.
type Handlers struct {
	livemode   bool
	store      *reconcile.Store
	deliverer  *notify.Deliverer
	metrics    *Metrics
	client     *Client
	relayAfter time.Duration
	reconciler Reconciler
	log        *zap.Logger
	// retention and notifications are the daily prune's (WithRetention).
	retention     time.Duration
	notifications *notify.Store
	// events lets concurrent tasks' events share group commits.
	events *eventCombiner
}

// NewHandlers wires the handlers to the ledger. relayAfter is how long work
// may wait before a relay sweep queues it again. They take live Stripe
// events only, unless WithLivemode says otherwise.
func NewHandlers(store *reconcile.Store, client *Client, reconciler Reconciler, relayAfter time.Duration, log *zap.Logger) *Handlers {
	return &Handlers{livemode: true, store: store, client: client, reconciler: reconciler, relayAfter: relayAfter, log: log,
		events: newEventCombiner(defaultConcurrency / 2)}
}

// WithLivemode sets which mode's Stripe events touch the ledger
// (STRIPE_LIVEMODE; true unless set): an event of the other mode is stored
// ignored, with the reason.
func (h *Handlers) WithLivemode(live bool) *Handlers {
	h.livemode = live
	return h
}

// defaultConcurrency is how many tasks the handlers expect to run at once
// until WithConcurrency (which NewServer calls) says otherwise:
// WORKER_CONCURRENCY's default.
const defaultConcurrency = 10

// WithConcurrency tells the handlers how many tasks the worker runs at once
// (WORKER_CONCURRENCY): half of them may apply events at once, and the
// events of the others wait to share their group commits (eventCombiner).
func (h *Handlers) WithConcurrency(n int) *Handlers {
	h.events = newEventCombiner(n / 2)
	return h
}

// WithMetrics records the handlers' figures in m.
func (h *Handlers) WithMetrics(m *Metrics) *Handlers {
	h.metrics = m
	return h
}

// WithDeliverer lets the handlers deliver notifications (TypeDeliver).
func (h *Handlers) WithDeliverer(d *notify.Deliverer) *Handlers {
	h.deliverer = d
	return h
}

// Deliver makes one attempt at a notification's delivery. A failed attempt
// is queued again for when its backoff ends; a busy endpoint (too many
// requests in flight from this process) is tried again shortly, so a slow
// receiver never holds up a worker.
func (h *Handlers) Deliver(ctx context.Context, task *asynq.Task) error {
	var p DeliveryPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil || p.DeliveryID == "" {
		return fmt.Errorf("bad delivery task payload: %w", asynq.SkipRetry)
	}
	if h.deliverer == nil {
		return fmt.Errorf("notifications are not delivered by this worker: %w", asynq.SkipRetry)
	}
	res, err := h.deliverer.Deliver(ctx, p.DeliveryID)
	switch {
	case errors.Is(err, notify.ErrEndpointBusy):
		h.metrics.delivery("busy")
	case err != nil:
		h.metrics.delivery("error")
	case res.Delivered:
		h.metrics.delivery("delivered")
	case res.Retry:
		h.metrics.delivery("retry")
	default:
		h.metrics.delivery("done")
	}
	if res.Retry {
		// The retry is a task of its own: this one's id is taken until it ends.
		taskID := fmt.Sprintf("delivery:%s:%d", p.DeliveryID, res.NextAt.UnixNano())
		if enqErr := h.client.enqueueDelivery(ctx, p.DeliveryID, taskID, res.NextAt); enqErr != nil {
			// The row stays pending: the dispatcher's sweep offers it again.
			h.log.Warn("could not queue the next delivery attempt", zap.String("delivery", p.DeliveryID), zap.Error(enqErr))
		}
	}
	if err != nil && !errors.Is(err, notify.ErrEndpointBusy) {
		return err
	}
	return nil
}

// Relay runs a relay sweep (TypeRelay).
func (h *Handlers) Relay(ctx context.Context, _ *asynq.Task) error {
	_, err := h.client.Relay(ctx, h.relayAfter)
	return err
}

// retryUnlessRefused hands err back for Asynq to retry, unless the ledger
// refused: a refusal (no such event or job) never succeeds on retry.
func retryUnlessRefused(what string, err error) error {
	if _, refused := apperr.As(err); refused {
		return fmt.Errorf("%s: %v: %w", what, err, asynq.SkipRetry)
	}
	return err
}

// lastAttempt reports whether Asynq will not retry this task after a failure.
func lastAttempt(ctx context.Context) bool {
	retried, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && retried >= maxRetry
}

// ProcessEvent applies stored Stripe events to the ledger in a group commit
// (see reconcile.Store.Group), with the events of the other tasks waiting
// for one by then (eventCombiner). Processing is idempotent (one payment
// per money movement, refunds and disputes by id), so a second delivery of
// the task, or a relay racing it, changes nothing. An event that fails for
// a transient reason does not hold up the others: the group is split until
// that event is alone, the task is retried for it, and the events done by
// then are skipped.
func (h *Handlers) ProcessEvent(ctx context.Context, task *asynq.Task) error {
	var p EventPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil || len(p.EventIDs) == 0 {
		return fmt.Errorf("bad event task payload: %w", asynq.SkipRetry)
	}
	stored, err := h.store.UnfinishedEvents(ctx, p.EventIDs)
	if err != nil || len(stored) == 0 {
		return err
	}
	last := lastAttempt(ctx)
	events := make([]taskEvent, len(stored))
	for i, ev := range stored {
		events[i] = h.taskEvent(ev, last)
	}
	return h.events.apply(ctx, events, h.commitGroup)
}

// commitGroup applies a group of events the combiner gathered, and counts
// its size.
func (h *Handlers) commitGroup(ctx context.Context, events []taskEvent) []error {
	h.metrics.eventGroup(len(events))
	return h.processGroup(ctx, events)
}

// processGroup applies events in one transaction and returns each event's
// fault worth retrying its task for, or nil. A refusal is the result of its
// event alone; any other error loses the transaction, and the group is
// split in halves, each applied on its own, so one poison event costs a few
// retries of its neighbours and blocks none of them. An event alone is
// applied as processEvent does.
func (h *Handlers) processGroup(ctx context.Context, events []taskEvent) []error {
	switch len(events) {
	case 0:
		return nil
	case 1:
		return []error{h.processEvent(ctx, events[0])}
	}
	results := make([]reconcile.EventResult, len(events))
	err := h.store.Group(ctx, func(g *reconcile.Store) error {
		for i, ev := range events {
			res, err := h.applyDecoded(ctx, g, ev.Event, ev.decoded)
			if _, refused := apperr.As(err); refused {
				res = reconcile.EventResult{Status: reconcile.EventFailed, Reason: err.Error()}
				err = g.MarkEvent(ctx, ev.ID, res)
			}
			if err != nil {
				return fmt.Errorf("event %s: %w", ev.ID, err)
			}
			results[i] = res
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return slices.Repeat([]error{err}, len(events))
		}
		h.log.Debug("group commit split", zap.Int("events", len(events)), zap.Error(err))
		half := len(events) / 2
		return append(h.processGroup(ctx, events[:half]), h.processGroup(ctx, events[half:])...)
	}
	for i, ev := range events {
		h.observeEvent(ev.Event, results[i])
	}
	return make([]error, len(events))
}

// processEvent applies one event in a transaction of its own and records its
// outcome. It returns an error only for a fault worth retrying: on its
// task's last attempt, a fault ends the event failed.
func (h *Handlers) processEvent(ctx context.Context, te taskEvent) error {
	ev := te.Event
	res, err := h.applyDecoded(ctx, h.store, ev, te.decoded)
	if err != nil {
		_, refused := apperr.As(err)
		if !refused && !te.last {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
		res = reconcile.EventResult{Status: reconcile.EventFailed, Reason: err.Error()}
		if markErr := h.store.MarkEvent(ctx, ev.ID, res); markErr != nil {
			return markErr
		}
	}
	h.observeEvent(ev, res)
	return nil
}

// observeEvent counts and logs an event's committed outcome.
func (h *Handlers) observeEvent(ev reconcile.Event, res reconcile.EventResult) {
	h.metrics.event(ev.Type, res.Status)
	if ce := h.log.Check(zap.InfoLevel, "event processed"); ce != nil {
		ce.Write(zap.String("event", ev.ID), zap.String("type", ev.Type),
			zap.String("invoice", res.InvoiceID), zap.String("outcome", string(res.Status)), zap.String("reason", res.Reason))
	}
}

// taskEvent decodes a stored event of a task on its last attempt or not.
func (h *Handlers) taskEvent(ev reconcile.Event, last bool) taskEvent {
	return taskEvent{Event: ev, decoded: h.decode(ev), last: last}
}

// decodedEvent is a stored event decoded, or why it cannot be.
type decodedEvent struct {
	event stripe.Event
	err   error
}

// decode decodes a stored event's payload. A malformed event of the other
// mode is not an error: it is ignored for its mode, malformed or not.
func (h *Handlers) decode(ev reconcile.Event) decodedEvent {
	d, err := stripe.Decode(ev.Payload)
	if errors.Is(err, stripe.ErrMalformed) && d.Livemode != h.livemode {
		err = nil
	}
	if err != nil {
		err = apperr.Errorf(apperr.KindInvalid, "malformed_event", "%v", err)
	}
	return decodedEvent{event: d, err: err}
}

// applyDecoded applies a decoded event through store: the worker's own, or
// a group commit's.
func (h *Handlers) applyDecoded(ctx context.Context, store *reconcile.Store, ev reconcile.Event, d decodedEvent) (reconcile.EventResult, error) {
	if d.err != nil {
		return reconcile.EventResult{}, d.err
	}
	if d.event.Livemode != h.livemode {
		// Test-mode events never reach a live ledger, nor live ones a test
		// ledger (STRIPE_LIVEMODE).
		res := reconcile.EventResult{Status: reconcile.EventIgnored,
			Reason: fmt.Sprintf("livemode %v event, and this ledger takes livemode %v events (STRIPE_LIVEMODE)", d.event.Livemode, h.livemode)}
		return res, store.MarkEvent(ctx, ev.ID, res)
	}
	return applyStripe(ctx, store, ev.ID, ev.ResolvedInvoiceID, d.event)
}

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
	defer func() { h.metrics.job(job.Type, outcome, time.Since(started)) }()
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
			h.metrics.job(o.job.Type, "failed", time.Since(started))
			log.Info("job failed", zap.Error(o.err))
			continue
		}
		h.metrics.job(o.job.Type, "succeeded", time.Since(started))
		log.Info("job succeeded")
	}
	return outcomes, nil
}

// applyJob makes the job's ledger change through store (the worker's own,
// or a group's), keyed by the job id and made in the name of the job's
// actor, so its history row says who asked.
func (h *Handlers) applyJob(ctx context.Context, store *reconcile.Store, job reconcile.Job) (any, error) {
	op := reconcile.Op{Key: job.ID, Actor: job.Actor}
	decode := func(v any) error {
		if err := json.Unmarshal(job.Payload, v); err != nil {
			return apperr.Errorf(apperr.KindInvalid, "bad_job", "job %s payload: %v", job.ID, err)
		}
		return nil
	}
	switch job.Type {
	case reconcile.JobRecordPayment:
		var a RecordPaymentArgs
		if err := decode(&a); err != nil {
			return nil, err
		}
		_, _, err := store.RecordManualPayment(ctx, reconcile.ManualPayment{Key: op.Key, Actor: op.Actor, InvoiceID: a.InvoiceID,
			Amount: a.Amount, PaidDate: a.PaidDate, Method: a.Method, Notes: a.Notes})
		return nil, err
	case reconcile.JobDeletePayment:
		var a DeletePaymentArgs
		if err := decode(&a); err != nil {
			return nil, err
		}
		_, err := store.DeletePayment(ctx, op, a.InvoiceID, a.PaymentID)
		return nil, err
	case reconcile.JobIssueCreditNote:
		var a IssueCreditNoteArgs
		if err := decode(&a); err != nil {
			return nil, err
		}
		_, _, err := store.IssueCreditNote(ctx, reconcile.NewCreditNote{Key: op.Key, Actor: op.Actor, InvoiceID: a.InvoiceID,
			Amount: a.Amount, Reason: a.Reason, Notes: a.Notes})
		return nil, err
	case reconcile.JobReverseCreditNote:
		var a ReverseCreditNoteArgs
		if err := decode(&a); err != nil {
			return nil, err
		}
		_, err := store.ReverseCreditNote(ctx, op, a.InvoiceID, a.CreditNoteID)
		return nil, err
	case reconcile.JobWriteOff:
		var a WriteOffArgs
		if err := decode(&a); err != nil {
			return nil, err
		}
		_, err := store.WriteOff(ctx, op, a.InvoiceID, a.Notes)
		return nil, err
	case reconcile.JobReopen:
		var a ReopenArgs
		if err := decode(&a); err != nil {
			return nil, err
		}
		_, err := store.Reopen(ctx, op, a.InvoiceID)
		return nil, err
	case reconcile.JobEventIgnore, reconcile.JobEventApply:
		var a ResolveEventArgs
		if err := decode(&a); err != nil {
			return nil, err
		}
		if job.Type == reconcile.JobEventIgnore {
			return nil, h.ignoreEvent(ctx, job, a)
		}
		return nil, h.applyEventByHand(ctx, job, a)
	case reconcile.JobReconcile:
		var a ReconcileArgs
		if err := decode(&a); err != nil {
			return nil, err
		}
		runID, err := h.reconciler.Run(ctx, a.Full)
		h.observeRun(ctx, runID)
		return map[string]string{"run_id": runID}, err
	}
	return nil, apperr.Errorf(apperr.KindInvalid, "bad_job", "job %s has unknown type %q", job.ID, job.Type)
}
