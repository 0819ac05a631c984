package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// ErrEndpointBusy says an endpoint already has as many requests in flight
// from this process as it may: queue the delivery again a little later
// rather than hold a worker waiting on a slow receiver.
var ErrEndpointBusy = errors.New("notify: endpoint busy")

// How long Deliver waits for a slot of a busy endpoint, and how far it puts
// off a delivery that did not get one.
const (
	busyWait  = 100 * time.Millisecond
	busyDelay = time.Second
)

// maxErrorText bounds the error stored with a failed attempt.
const maxErrorText = 500

// DelivererConfig tunes retries and concurrency; zero fields take the
// defaults named.
type DelivererConfig struct {
	// Budget is how long after its creation a delivery is retried (72h).
	Budget time.Duration
	// BaseBackoff is the wait after a first failure, doubled after each
	// further one (10s).
	BaseBackoff time.Duration
	// MaxBackoff caps the wait (1h).
	MaxBackoff time.Duration
	// PerEndpoint bounds the requests in flight to one endpoint from this
	// process (4), so one endpoint cannot take every worker.
	PerEndpoint int
}

func (c DelivererConfig) withDefaults() DelivererConfig {
	if c.Budget <= 0 {
		c.Budget = 72 * time.Hour
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 10 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	if c.PerEndpoint <= 0 {
		c.PerEndpoint = 4
	}
	return c
}

// Deliverer makes delivery attempts.
type Deliverer struct {
	store  *Store
	client *http.Client
	cfg    DelivererConfig
	log    *zap.Logger

	mu    sync.Mutex
	slots map[string]chan struct{} // by endpoint id; few, so never pruned
}

// NewDeliverer makes a deliverer sending through client (nil: a guarded
// client refusing private addresses) and logging to log (nil: nowhere).
func NewDeliverer(store *Store, client *http.Client, cfg DelivererConfig, log *zap.Logger) *Deliverer {
	if client == nil {
		client = NewHTTPClient(false, nil)
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Deliverer{store: store, client: client, cfg: cfg.withDefaults(), log: log, slots: map[string]chan struct{}{}}
}

// Result is what an attempt came to. Retry asks for another attempt at
// NextAt; neither Delivered nor Retry means there is nothing more to do
// (failed for good, or not this caller's to send).
type Result struct {
	Delivered bool
	Retry     bool
	NextAt    time.Time
}

// Deliver makes one attempt at a delivery, if it is pending and due, and
// records its outcome. A failed attempt is not an error: the result says
// when to try again. Errors are faults (the database) and ErrEndpointBusy,
// which comes with a Result saying when to try again.
func (d *Deliverer) Deliver(ctx context.Context, deliveryID string) (Result, error) {
	a, ok, err := d.store.Attempt(ctx, deliveryID)
	if err != nil || !ok {
		return Result{}, err
	}
	release, err := d.acquire(ctx, a.EndpointID)
	if err != nil {
		next := time.Now().Add(busyDelay)
		keep, cancel := bookkeeping(ctx)
		defer cancel()
		if relErr := d.store.Release(keep, a.DeliveryID, next); relErr != nil {
			return Result{}, errors.Join(err, relErr)
		}
		return Result{Retry: true, NextAt: next}, fmt.Errorf("delivery %s: %w", a.DeliveryID, err)
	}
	defer release()

	code, sendErr := d.send(ctx, a)
	// Its own deadline, from now: a request that ran to its timeout must
	// still be recorded.
	keep, cancel := bookkeeping(ctx)
	defer cancel()
	log := d.log.With(zap.String("delivery", a.DeliveryID), zap.String("endpoint", a.EndpointID),
		zap.String("notification", a.NotificationID), zap.Int("attempt", a.Attempts+1))
	if sendErr == nil && code >= 200 && code < 300 {
		if err := d.store.MarkDelivered(keep, a.DeliveryID, code); err != nil {
			return Result{}, err
		}
		log.Debug("notification delivered", zap.Int("status", code))
		return Result{Delivered: true}, nil
	}
	if ctx.Err() != nil {
		// Our shutdown, not the receiver's failure: the attempt does not count.
		if err := d.store.Release(keep, a.DeliveryID, time.Now()); err != nil {
			return Result{}, errors.Join(ctx.Err(), err)
		}
		return Result{}, ctx.Err()
	}
	now := time.Now()
	next := now.Add(d.backoff(a.Attempts))
	giveUp := next.After(a.CreatedAt.Add(d.cfg.Budget))
	errText := failureText(code, sendErr)
	if err := d.store.MarkFailedAttempt(keep, a.DeliveryID, code, errText, next, giveUp); err != nil {
		return Result{}, err
	}
	if giveUp {
		log.Warn("notification not delivered: retry budget spent", zap.Int("status", code), zap.String("error", errText))
		return Result{}, nil
	}
	log.Info("notification attempt failed", zap.Int("status", code), zap.String("error", errText), zap.Time("next", next))
	return Result{Retry: true, NextAt: next}, nil
}

// bookkeepingTimeout bounds recording an attempt's outcome.
const bookkeepingTimeout = 10 * time.Second

// bookkeeping is the context that records an attempt's outcome: it outlives
// ctx (the receiver may have the notification even if this process is
// stopping) and starts its own deadline when called, after the request.
func bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
}

// acquire takes one of the endpoint's slots, waiting at most busyWait.
func (d *Deliverer) acquire(ctx context.Context, endpointID string) (release func(), err error) {
	d.mu.Lock()
	slots, ok := d.slots[endpointID]
	if !ok {
		slots = make(chan struct{}, d.cfg.PerEndpoint)
		d.slots[endpointID] = slots
	}
	d.mu.Unlock()
	timer := time.NewTimer(busyWait)
	defer timer.Stop()
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-timer.C:
		return nil, ErrEndpointBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send posts the notification and returns the answer's status code.
func (d *Deliverer) send(ctx context.Context, a Attempt) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, bytes.NewReader(a.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "reconciler-notify/1")
	req.Header.Set(SignatureHeader, Sign(a.Body, a.Secret, time.Now()))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Read a little of the answer so the connection can be reused; its
	// content is not ours to keep.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// backoff is the wait after a failure following attempts earlier ones:
// doubling from BaseBackoff up to MaxBackoff, ±20% so that deliveries
// failing together do not come back together.
func (d *Deliverer) backoff(attempts int) time.Duration {
	wait := d.cfg.BaseBackoff
	for i := 0; i < attempts && wait < d.cfg.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, d.cfg.MaxBackoff)
	return time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
}

// failureText says why an attempt failed, for the admin API. A transport
// error drops the URL, which may carry a token in its query.
func failureText(code int, err error) string {
	var text string
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		text = err.Error()
	} else {
		text = fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	}
	if len(text) > maxErrorText {
		text = strings.ToValidUTF8(text[:maxErrorText], "")
	}
	return text
}
