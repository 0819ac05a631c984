// Package webhooks receives Stripe webhooks: it verifies the signature,
// stores the raw event durably, answers, and only then has the event's
// processing enqueued. Turning an event into a ledger change is the
// worker's job.
package webhooks

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/reqlog"
	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/reconcile"
)

// Enqueuer queues the processing of stored events. The worker package
// implements it with Asynq; a duplicate enqueue must be harmless.
type Enqueuer interface {
	EnqueueEvents(ctx context.Context, ids []string) error
}

// Config tunes the handler. Zero values take the defaults.
type Config struct {
	// Secrets are the accepted signing secrets (whsec_...); several are
	// valid at once during a rotation. Blank entries are dropped, and with
	// none left the endpoint answers 503.
	Secrets []string
	// Tolerance is how far a signature's timestamp may be from now, either
	// way (default 300s, Stripe's).
	Tolerance time.Duration
	// MaxBody is the largest body accepted (default 1 MiB).
	MaxBody int64
	// BatchWait is how long an event may wait for others to share its
	// commit (default 2ms).
	BatchWait time.Duration
	// BatchMax is the most events one commit stores (default 256).
	BatchMax int
	// QueueMax is how many events may wait for a commit besides those
	// being committed (default 1024), and QueueBytes how many payload bytes
	// the events held (waiting or being committed) may add up to (default
	// 32 MiB). Past either, a request is answered 503 at once and Stripe
	// retries it: under more load than PostgreSQL commits, the handler
	// sheds rather than holds an ever larger backlog in memory.
	QueueMax   int
	QueueBytes int64
	// AnswerWithin bounds how long a request waits for its event's commit,
	// from its arrival (default 10s): past it the answer is 503 and Stripe
	// retries, however long PostgreSQL hangs.
	AnswerWithin time.Duration
}

// Defaults of Config.
const (
	DefaultTolerance = 300 * time.Second
	DefaultMaxBody   = 1 << 20
	DefaultBatchWait = 2 * time.Millisecond
	DefaultBatchMax  = 256
	// DefaultAnswerWithin keeps every answer well inside Stripe's own
	// timeout, even behind a commit stuck on a hung PostgreSQL.
	DefaultAnswerWithin = 10 * time.Second
	DefaultQueueMax     = 1024
	// DefaultQueueBytes bounds the payloads held: at most what 32 MiB of
	// events costs, whatever the rate of requests.
	DefaultQueueBytes = 32 << 20
)

// Handler serves POST /webhooks/stripe.
type Handler struct {
	verifier verifier
	maxBody  int64
	log      *zap.Logger
	stats    counters
	batch    *batcher
	enqueuer *enqueuer
	bodies   bodyBuffers
	closing  sync.Once
}

// New makes a Handler and starts its batch writer and enqueue goroutines;
// Close stops them. A nil enq leaves every event to the relay sweep; a nil
// log logs nothing.
func New(cfg Config, store *reconcile.Store, enq Enqueuer, log *zap.Logger) *Handler {
	if log == nil {
		log = zap.NewNop()
	}
	h := &Handler{
		verifier: newVerifier(cfg.Secrets, orDefault(cfg.Tolerance, DefaultTolerance)),
		maxBody:  orDefault(cfg.MaxBody, DefaultMaxBody),
		log:      log,
	}
	h.enqueuer = newEnqueuer(enq, log, &h.stats)
	h.batch = newBatcher(store, h.enqueuer, log, &h.stats, batchLimits{
		wait: orDefault(cfg.BatchWait, DefaultBatchWait), max: orDefault(cfg.BatchMax, DefaultBatchMax),
		queue: orDefault(cfg.QueueMax, DefaultQueueMax), queueBytes: orDefault(cfg.QueueBytes, DefaultQueueBytes),
		answerWithin: orDefault(cfg.AnswerWithin, DefaultAnswerWithin),
	})
	return h
}

// orDefault returns v, or def when v is not positive.
func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Close commits and answers the events already queued, runs their enqueues
// (for a bounded time), and stops. Requests after Close answer 503. Call it
// after the HTTP server has shut down.
func (h *Handler) Close() {
	h.closing.Do(func() {
		h.batch.close()
		h.enqueuer.close()
	})
}

// Stats returns the handler's counters.
func (h *Handler) Stats() Stats { return h.stats.snapshot() }

// ServeHTTP answers 200 {"received": true} once the event is committed, also
// for an event already stored; 4xx for what Stripe should not resend as is;
// 503 when it should retry.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use POST")
		return
	}
	if len(h.verifier.secrets) == 0 {
		writeError(w, http.StatusServiceUnavailable, CodeNotConfigured, "no webhook signing secret is configured (STRIPE_WEBHOOK_SECRET)")
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	if h.receive(w, r, body.Bytes()) {
		h.bodies.put(body)
	}
}

// receive verifies, stores and answers one request's payload. It reports
// whether the payload's buffer is free again: not when the request ended
// while its event waited for a commit that may still read it.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request, payload []byte) (bufferFree bool) {
	if err := h.verifier.verify(payload, r.Header.Get("Stripe-Signature"), time.Now()); err != nil {
		h.reject(w, http.StatusBadRequest, CodeInvalidSignature, err.Error())
		return true
	}
	// Only the envelope is read here: the object is the worker's to judge.
	// A signed event whose object is malformed is still Stripe's: it is
	// kept, and the worker marks it failed where an operator sees it,
	// rather than Stripe retrying it for three days.
	ev, err := stripe.DecodeEnvelope(payload)
	if err == nil {
		err = checkEnvelope(payload, ev)
	}
	if err != nil {
		h.reject(w, http.StatusBadRequest, CodeNotAnEvent, err.Error())
		return true
	}

	isNew, err := h.batch.submit(r.Context(), reconcile.InboxEvent{
		ID: ev.ID, Type: ev.Type, Created: ev.Created, Payload: payload, Source: reconcile.SourceWebhook,
	})
	switch {
	case errors.Is(err, errClosed):
		writeError(w, http.StatusServiceUnavailable, CodeShuttingDown, "the server is shutting down; retry")
		return true
	case errors.Is(err, errOverloaded):
		// Answered at once: Stripe retries with backoff, and a request
		// held here would only hold its body longer.
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, CodeOverloaded, "more events than the database commits; retry")
		return true
	case errors.Is(err, errCommitSlow):
		// Its batch may still read the payload, so the buffer is left to
		// the garbage collector.
		writeError(w, http.StatusServiceUnavailable, CodeDatabaseUnavailable, "the database did not store the event in time; retry")
		return false
	case err != nil && r.Context().Err() != nil:
		// The sender is gone; the event may still be committed, and a
		// retry finds it stored. Its batch may still read the payload, so
		// the buffer is left to the garbage collector.
		reqlog.Logger(r.Context(), h.log).Debug("webhook request ended before its commit", zap.String("event_id", ev.ID), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, CodeDatabaseUnavailable, "the request ended before the event was stored")
		return false
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, CodeDatabaseUnavailable, "the event could not be stored; retry")
		return true
	}

	if isNew {
		h.stats.fresh.Add(1)
	} else {
		h.stats.duplicate.Add(1)
	}
	// Checked before any field is built: at warn, a stored event costs no
	// logging at all.
	if ce := h.log.Check(zap.InfoLevel, "webhook event stored"); ce != nil {
		ce.Write(reqlog.Field(r.Context()), zap.String("event_id", ev.ID), zap.String("type", ev.Type), zap.Bool("new", isNew))
	}
	writeReceived(w)
	return true
}

// reject answers a client error. It logs at warn, with the reason, so a
// misconfigured secret or a clock out of step is seen before Stripe gives
// up; never the signature header or the body, which may carry personal
// data and are the sender's to keep.
func (h *Handler) reject(w http.ResponseWriter, status int, code, message string) {
	h.stats.rejected.Add(1)
	h.log.Warn("webhook rejected", zap.String("code", code), zap.String("reason", message))
	writeError(w, status, code, message)
}
