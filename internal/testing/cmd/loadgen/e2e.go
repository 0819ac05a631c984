package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// e2eSend is one scheduled event: its invoice and when it is due.
type e2eSend struct {
	n  int
	at time.Time
}

// paidWatch is the set of invoices waiting to read paid, each with the time
// its event was due.
type paidWatch struct {
	mu      sync.Mutex
	pending map[string]time.Time
	lat     latencies
}

func (w *paidWatch) add(id string, at time.Time) {
	w.mu.Lock()
	w.pending[id] = at
	w.mu.Unlock()
}

func (w *paidWatch) drop(id string) {
	w.mu.Lock()
	delete(w.pending, id)
	w.mu.Unlock()
}

func (w *paidWatch) ids() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.pending))
	for id := range w.pending {
		ids = append(ids, id)
	}
	return ids
}

// paid records the invoices seen paid at seen.
func (w *paidWatch) paid(ids []string, seen time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if at, ok := w.pending[id]; ok {
			w.lat = append(w.lat, seen.Sub(at))
			delete(w.pending, id)
		}
	}
}

// cmdE2E posts events at a fixed rate whatever the answers (an open loop,
// so a slow service cannot slow the load down and hide its own latency),
// each paying a fresh invoice in full, and times each from when it was due
// to when its invoice reads paid in PostgreSQL, polled every few
// milliseconds with one light query for every invoice still waiting.
func cmdE2E(ctx context.Context, args []string) error {
	fs := flags("e2e")
	rate := fs.Float64("rate", 0, "events per second (required)")
	seconds := fs.Int("seconds", envInt("BENCH_E2E_SECONDS", 10), "seconds of sending")
	senders := fs.Int("senders", 64, "concurrent senders")
	invoices := fs.Int("invoices", 160000, "size of the e2e invoice pool (seed-pools -e2e)")
	first := fs.Int("first", 1, "first invoice of the pool to pay (a second run pays others)")
	name := fs.String("name", "e2e", "prefix of the figures")
	poll := fs.Duration("poll", 2*time.Millisecond, "how often the invoices are polled")
	wait := fs.Duration("wait", 60*time.Second, "how long to wait after the last send")
	servicePID := fs.Int("service-pid", 0, "the service's pid, for the CPU note")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rate <= 0 {
		return fmt.Errorf("-rate must be positive")
	}
	t, err := target()
	if err != nil {
		return err
	}
	db, err := connectPool(ctx, 3)
	if err != nil {
		return err
	}
	defer db.Close()
	total := int(*rate * float64(*seconds))
	if left := *invoices - *first + 1; total > left {
		progress("%s: %d events wanted, the pool has %d invoices left: sending %d", *name, total, left, max(left, 0))
		total = max(left, 0)
	}
	if total == 0 {
		return fmt.Errorf("no invoice left in the pool from %d", *first)
	}
	url := t.base + "/webhooks/stripe"
	watch := &paidWatch{pending: make(map[string]time.Time, total)}
	progress("%s: %d events at %.0f/s for %ds, open loop, polling every %v...", *name, total, *rate, *seconds, *poll)

	sends := make(chan e2eSend, 4096)
	var failed int
	var lastErr string
	var ackLat latencies
	var mu sync.Mutex
	var senderWG sync.WaitGroup
	conns, err := newConns(t.base, *senders)
	if err != nil {
		return err
	}
	defer closeConns(conns)
	for _, c := range conns {
		senderWG.Go(func() {
			for s := range sends {
				inv := poolID(e2ePrefix, s.n)
				watch.add(inv, s.at)
				now := time.Now()
				body := newEvent(inv, poolAmount).body(now)
				code, err := postSigned(ctx, c, url, t.signer.header(body, now), body)
				acked := time.Since(s.at)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("status %d", code)
				}
				mu.Lock()
				if err != nil {
					failed++
					lastErr = err.Error()
				} else {
					ackLat = append(ackLat, acked)
				}
				mu.Unlock()
				if err != nil {
					watch.drop(inv)
				}
			}
		})
	}
	start := time.Now().Add(50 * time.Millisecond)
	go func() {
		defer close(sends)
		interval := time.Duration(float64(time.Second) / *rate)
		for i := range total {
			at := start.Add(time.Duration(i) * interval)
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
			select {
			case sends <- e2eSend{n: *first + i, at: at}:
			case <-ctx.Done():
				return
			}
		}
	}()
	sent := make(chan struct{})
	go func() { senderWG.Wait(); close(sent) }()

	cpu0, db0 := readPhaseCPU(ctx, db, *servicePID), readDBCounters(ctx, db)
	delays := watchDelays(ctx, t.base, "receipt to processed", processedDelay)
	waits := startWaitSampler(ctx, db, 10*time.Millisecond)
	if err := pollPaid(ctx, db, watch, *poll, sent); err != nil {
		return err
	}
	var sentAt time.Time
	select {
	case <-sent:
		sentAt = time.Now()
	case <-ctx.Done():
		return ctx.Err()
	}
	// Waiting stops early when Redis holds no event task for a while: what is
	// still unpaid then had its enqueue dropped by the service and waits for
	// the relay sweep (RELAY_AFTER), far past any useful wait.
	queue, err := newEventQueue()
	if err != nil {
		return err
	}
	defer queue.close()
	deadline := sentAt.Add(*wait)
	var idleSince time.Time
	for len(watch.ids()) > 0 && time.Now().Before(deadline) {
		if err := pollPaid(ctx, db, watch, *poll, nil); err != nil {
			return err
		}
		queued, err := queue.waiting()
		if err != nil {
			return err
		}
		switch {
		case queued > 0:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = time.Now()
		case time.Since(idleSince) > 2*time.Second:
			progress("%s: Redis holds no event task and %d invoices are unpaid: their events wait for the relay sweep", *name, len(watch.ids()))
			deadline = time.Now()
		}
	}
	cpu1, db1 := readPhaseCPU(ctx, db, *servicePID), readDBCounters(ctx, db)
	delayLine := delays.note(ctx)
	waitReport := waits.report(12)
	paidCount := len(watch.lat)
	if paidCount == 0 {
		return fmt.Errorf("no invoice read paid (%d posts failed, last: %s)", failed, lastErr)
	}
	// An event still unpaid counts with what it has waited so far, so the
	// percentiles are lower bounds when any is left, never flattered.
	gaveUp := time.Now()
	watch.mu.Lock()
	timedOut := len(watch.pending)
	for _, at := range watch.pending {
		watch.lat = append(watch.lat, gaveUp.Sub(at))
	}
	watch.mu.Unlock()
	lat := watch.lat
	progress("%s: %d paid, %d not paid %v after the last send, %d posts failed%s", *name, paidCount, timedOut,
		gaveUp.Sub(sentAt).Round(time.Millisecond), failed, errNote(lastErr))
	if timedOut > 0 {
		progress("%s: the percentiles count the unpaid with their wait so far: lower bounds", *name)
	}
	progress("%s: due to paid %s", *name, lat.summary())
	progress("%s: due to acknowledged %s", *name, ackLat.summary())
	progress("%s: %s", *name, delayLine)
	progress("%s: %s", *name, cpuNote(cpu0, cpu1, float64(paidCount), "event"))
	progress("%s: %s", *name, dbNote(db0, db1, float64(paidCount), "event"))
	progress("%s: %s", *name, waitReport)
	// The rate they were sent at: a pool too small shortens the sending,
	// not the rate.
	emit(*name+"_rate", *rate, "events/s")
	emit(*name+"_paid_p50_ms", ms(lat.percentile(0.50)), "ms")
	emit(*name+"_paid_p99_ms", ms(lat.percentile(0.99)), "ms")
	emit(*name+"_not_paid", float64(timedOut+failed), "events")
	return nil
}

// pollGap is how far apart the polls of n waiting rows (invoices not yet
// paid, jobs not yet finished) start, given that the last took took. A
// poll costs PostgreSQL an index probe per row, a few µs each. For a
// backlog, polls start five times as far apart as the last one took (so
// the poller takes at most a fifth of a backend from the service it
// measures), but at most pollPerRow for each row polled: a poll slowed
// only by busy cores cost little, and a long wait after it is added to the
// latency of every invoice paid meanwhile (in one round a poll of 107 ms
// among some 50 invoices held the next for 430 ms: the payments' rows
// were written by a p99 of 62 ms after they were due, and the poll read a
// p99 of 455 ms). The backlog is about the rate times the latency, so the
// bound adds at most the rate times 20 µs to a latency: 4% of it at 2,000
// events/s.
func pollGap(interval, took time.Duration, n int) time.Duration {
	return max(interval, min(5*took, time.Duration(n)*pollPerRow))
}

// pollPerRow bounds the wait a poll of a backlog may add per row polled
// (pollGap).
const pollPerRow = 20 * time.Microsecond

// pollPaid polls the waiting invoices every pollGap until stop closes (or
// once, with stop nil).
func pollPaid(ctx context.Context, db *pgxpool.Pool, w *paidWatch, interval time.Duration, stop <-chan struct{}) error {
	for {
		began := time.Now()
		ids := w.ids()
		if len(ids) > 0 {
			rows, err := db.Query(ctx, `SELECT id FROM invoices WHERE id = ANY($1) AND state = 'paid'`, ids)
			if err != nil {
				return fmt.Errorf("poll invoices: %w", err)
			}
			var paid []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				paid = append(paid, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("poll invoices: %w", err)
			}
			w.paid(paid, time.Now())
		}
		if d := pollGap(interval, time.Since(began), len(ids)) - time.Since(began); d > 0 {
			time.Sleep(d)
		}
		if stop == nil {
			return nil
		}
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
	}
}
