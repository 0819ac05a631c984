package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/payrecon/reconciler/internal/ids"
)

// EventQueue is the run's re-enqueue step: it queues again the processing of
// stored events. The worker's client
// implements it; the ledger never talks to Redis itself.
type EventQueue interface {
	// RelayReceived queues again the events still received after
	// olderThan (their task was lost with Redis) and reports how many.
	RelayReceived(ctx context.Context, olderThan time.Duration) (int, error)
	// EnqueueEvents queues the processing of stored events by id.
	EnqueueEvents(ctx context.Context, ids []string) error
}

// StripeEvents lists Stripe's events. The Stripe adapter implements it.
type StripeEvents interface {
	// ListEvents calls each for every event created at or after since,
	// newest first as Stripe lists them; onlyFailed asks only for events
	// Stripe has not delivered (delivery_success=false). An error from each
	// stops the listing and is returned.
	ListEvents(ctx context.Context, since time.Time, onlyFailed bool, each func(ListedEvent) error) error
}

// ListedEvent is one event a provider listed.
type ListedEvent struct {
	ID      string
	Type    string
	Created time.Time
	// Raw is the event's JSON as the provider sent it, owned by the callee.
	Raw []byte
	// Handled is false for an event of a type the service does not act on
	// (a server that ignores the types filter): it is counted, not stored.
	Handled bool
}

// RunnerConfig tunes a Runner.
type RunnerConfig struct {
	// RelayAfter is how long an event may stay received before a run
	// queues it again (RELAY_AFTER).
	RelayAfter time.Duration
	// Stripe lists Stripe's events; nil skips the pull step, and the run
	// says so.
	Stripe StripeEvents
	// Provider lists Stripe's PaymentIntents and disputes; nil skips the
	// comparison of the ledger with Stripe, and the run says so.
	Provider ProviderRecords
	// BatchSize is how many invoices the ledger check reads at a time
	// (default 5000): memory stays flat however many invoices there are.
	// Each batch costs a round trip and a statement start besides its rows:
	// batches of 1000 made a full check of a million invoices 5% slower.
	BatchSize int
	// Log receives a line per run; nil logs nothing.
	Log Logger
}

// Runner runs reconciliations: it queues stuck and unmatched events again,
// pulls the Stripe events that never arrived, proves every invoice's totals
// against its rows, repairing any drift, and compares the ledger's Stripe
// payments with Stripe's own records.
type Runner struct {
	store *Store
	relay EventQueue
	cfg   RunnerConfig
	log   Logger
	now   func() time.Time
}

// NewRunner makes a Runner.
func NewRunner(store *Store, relay EventQueue, cfg RunnerConfig) *Runner {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 5000
	}
	log := cfg.Log
	if log == nil {
		log = nopLogger{}
	}
	return &Runner{store: store, relay: relay, cfg: cfg, log: log, now: time.Now}
}

// RunSteps are the figures of a run's steps, stored as the run's steps. A
// step not reached is absent.
type RunSteps struct {
	Relay         *RelayStep   `json:"relay,omitempty"`
	StripePull    *PullStep    `json:"stripe_pull,omitempty"`
	Ledger        *LedgerStep  `json:"ledger,omitempty"`
	StripeCompare *CompareStep `json:"stripe_compare,omitempty"`
}

// RelayStep is what the relay step queued again.
type RelayStep struct {
	// EventsRelayed are events still received after RelayAfter.
	EventsRelayed int `json:"events_relayed"`
	// UnmatchedRetried are unmatched events queued to be matched again:
	// their invoice, or the payment a refund belongs to, may exist now.
	UnmatchedRetried int    `json:"unmatched_retried"`
	Error            string `json:"error,omitempty"`
}

// Run runs one reconciliation and returns its id. full checks every
// invoice, pulls every Stripe event since the cursor and compares the last
// 30 days of Stripe's payments with the ledger; otherwise only invoices
// updated since the last completed check are checked, only events Stripe
// failed to deliver are pulled (unless no unfiltered pull happened for a
// day), and only the payments created since the last comparison are
// compared. A failing step is recorded and the next one still
// runs; the run then ends failed and Run returns an error.
func (r *Runner) Run(ctx context.Context, full bool) (string, error) {
	id := ids.New("run")
	if err := r.store.startRun(ctx, id, full); err != nil {
		return "", err
	}
	log := withFields{r.log, []any{"run", id, "full", full}}
	log.Infow("reconciliation started")
	started := r.now()

	var steps RunSteps
	var errs []error
	// record notes a step's end, and saves the figures so far so that a long
	// run shows its progress.
	record := func(name string, errField *string, err error) {
		if err != nil {
			*errField = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			log.Warnw("reconciliation step failed", "step", name, "error", err)
		}
		if err := r.store.saveRunSteps(ctx, id, steps); err != nil {
			log.Warnw("could not save run progress", "error", err)
		}
	}
	// A step is not started once ctx is done (a shutdown): it would only
	// fail, and a step not reached is absent from the record.
	if ctx.Err() == nil {
		steps.Relay = &RelayStep{}
		record("relay", &steps.Relay.Error, r.relayStep(ctx, steps.Relay))
	}
	if ctx.Err() == nil {
		steps.StripePull = &PullStep{}
		record("stripe pull", &steps.StripePull.Error, r.pullStep(ctx, full, steps.StripePull))
	}
	var watermark *time.Time
	ledger := &LedgerStep{}
	if ctx.Err() == nil {
		steps.Ledger = ledger
		w, err := r.ledgerStep(ctx, id, full, ledger)
		if err == nil {
			watermark = &w
		}
		record("ledger", &ledger.Error, err)
	}
	if ctx.Err() == nil {
		steps.StripeCompare = &CompareStep{}
		record("stripe compare", &steps.StripeCompare.Error, r.compareStep(ctx, id, full, steps.StripeCompare))
	}

	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("run stopped: %w", err))
	}
	runErr := errors.Join(errs...)
	// The run's end is recorded even when ctx was cancelled (a shutdown), so
	// the run does not stay "running" for ever.
	if err := r.store.finishRun(context.WithoutCancel(ctx), id, steps, watermark, runErr); err != nil {
		return id, errors.Join(runErr, err)
	}
	fields := []any{"took", r.now().Sub(started), "drift_found", ledger.DriftFound, "repaired", ledger.Repaired}
	if c := steps.StripeCompare; c != nil && c.Skipped == "" {
		fields = append(fields, "stripe_compared", c.Compared, "payments_pulled", c.Pulled,
			"discrepancies_opened", c.Opened, "discrepancies_closed", c.Closed)
	}
	if runErr != nil {
		log.Warnw("reconciliation failed", append(fields, "error", runErr)...)
		return id, fmt.Errorf("reconciliation run %s: %w", id, runErr)
	}
	log.Infow("reconciliation succeeded", fields...)
	return id, nil
}

// relayStep queues again what processing may have lost or could not match.
func (r *Runner) relayStep(ctx context.Context, st *RelayStep) error {
	var errs []error
	n, err := r.relay.RelayReceived(ctx, r.cfg.RelayAfter)
	st.EventsRelayed = n
	if err != nil {
		errs = append(errs, fmt.Errorf("relay received events: %w", err))
	}
	// Unmatched events are walked in (received_at, id) order from a cursor:
	// queueing one does not change its status at once, so asking again for
	// "the first n unmatched" would return the same n for ever. The walk
	// stops at the events received when it began.
	until, err := r.store.dbNow(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var after *eventKey
	for {
		page, err := r.store.unmatchedEvents(ctx, after, until, r.cfg.BatchSize)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if len(page) == 0 {
			break
		}
		ids := make([]string, len(page))
		for i, k := range page {
			ids[i] = k.id
		}
		if err := r.relay.EnqueueEvents(ctx, ids); err != nil {
			// Redis is down: the next run tries again, nothing is lost.
			return errors.Join(append(errs, fmt.Errorf("queue unmatched events: %w", err))...)
		}
		st.UnmatchedRetried += len(ids)
		after = &page[len(page)-1]
		if len(page) < r.cfg.BatchSize {
			break
		}
	}
	return errors.Join(errs...)
}
