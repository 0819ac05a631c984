// Package webhooks receives Stripe webhooks: it verifies the signature,
// stores the raw event durably, answers, and only then has the event's
// processing enqueued. Turning an event into a ledger change is the
// worker's job.
package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
}

// Defaults of Config.
const (
	DefaultTolerance = 300 * time.Second
	DefaultMaxBody   = 1 << 20
	DefaultBatchWait = 2 * time.Millisecond
	DefaultBatchMax  = 256
)

// Handler serves POST /webhooks/stripe.
type Handler struct {
	verifier verifier
	maxBody  int64
	log      *zap.Logger
	stats    counters
	batch    *batcher
	relay    *relay
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
	h.relay = newRelay(enq, log, &h.stats)
	h.batch = newBatcher(store, h.relay, log, &h.stats, orDefault(cfg.BatchWait, DefaultBatchWait), orDefault(cfg.BatchMax, DefaultBatchMax))
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
		h.relay.close()
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
	payload, ok := h.readBody(w, r)
	if !ok {
		return
	}
	if err := h.verifier.verify(payload, r.Header.Get("Stripe-Signature"), time.Now()); err != nil {
		h.reject(w, http.StatusBadRequest, CodeInvalidSignature, err.Error())
		return
	}
	// Only the envelope is read here: the object is the worker's to judge.
	// A signed event whose object is malformed is still Stripe's: it is
	// kept, and the worker marks it failed where an operator sees it,
	// rather than Stripe retrying it for three days.
	ev, err := stripe.DecodeEnvelope(payload)
	if err != nil {
		h.reject(w, http.StatusBadRequest, CodeNotAnEvent, err.Error())
		return
	}

	isNew, err := h.batch.submit(r.Context(), reconcile.InboxEvent{
		ID: ev.ID, Type: ev.Type, Created: ev.Created, Payload: payload, Source: reconcile.SourceWebhook,
	})
	switch {
	case errors.Is(err, errClosed):
		writeError(w, http.StatusServiceUnavailable, CodeShuttingDown, "the server is shutting down; retry")
		return
	case err != nil && r.Context().Err() != nil:
		// The sender is gone; the event may still be committed, and a
		// retry finds it stored.
		reqlog.Logger(r.Context(), h.log).Debug("webhook request ended before its commit", zap.String("event_id", ev.ID), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, CodeDatabaseUnavailable, "the request ended before the event was stored")
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, CodeDatabaseUnavailable, "the event could not be stored; retry")
		return
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
}

// readBody reads the whole body within MaxBody, answering the error itself
// when it cannot.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= h.maxBody {
		buf.Grow(int(n)) // one allocation for the usual, sized request
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.reject(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("body over %d bytes", h.maxBody))
		return nil, false
	case err != nil:
		h.reject(w, http.StatusBadRequest, CodeUnreadableBody, "the body could not be read")
		return nil, false
	}
	return buf.Bytes(), true
}

// reject answers a client error. It logs at debug only, since anyone can
// send these, and never the header or the body.
func (h *Handler) reject(w http.ResponseWriter, status int, code, message string) {
	h.stats.rejected.Add(1)
	h.log.Debug("webhook rejected", zap.String("code", code), zap.String("reason", message))
	writeError(w, status, code, message)
}
