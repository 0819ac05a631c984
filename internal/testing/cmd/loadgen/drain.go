package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// cmdDrain waits until no stored event is still received: the worker has
// caught up with everything posted so far. With -emit it reports the rate at
// which the worker processed the backlog, a figure the later phases are
// bounded by; with -cpu-figures, the CPU the service and PostgreSQL spent
// per event processed (cpuFigures).
//
// Events whose enqueue the service dropped (its queue to Redis was full)
// stay received with no task: the service's relay sweep queues them, 1000
// per RELAY_AFTER. Waiting for that would take the bench many minutes, so
// once Redis holds no event task and some are still received, drain queues
// them itself, as the sweep would, and says how many.
func cmdDrain(ctx context.Context, args []string) error {
	fs := flags("drain")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	name := fs.String("emit", "", "figure name for the rate the backlog was processed at (none when empty)")
	servicePID := fs.Int("service-pid", 0, "the service's pid, for the CPU note and figures")
	cpuPrefix := fs.String("cpu-figures", "", "figure name prefix for CPU per event processed (none when empty; needs -service-pid)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := connectPool(ctx, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	// The counter first: the worker may be applying events while they are
	// counted, and those must count as done.
	left := newBacklog(ctx, db)
	first, err := receivedEvents(ctx, db)
	if err != nil {
		return err
	}
	left.first, left.inboxAnswer = first, first
	if first == 0 {
		progress("drain: no event waits")
		return nil
	}
	progress("drain: %d events wait for the worker...", first)
	cpu0, db0 := readPhaseCPU(ctx, db, *servicePID), readDBCounters(ctx, db)
	waits := startWaitSampler(ctx, db, 20*time.Millisecond)
	queue, err := newEventQueue()
	if err != nil {
		return err
	}
	defer queue.close()
	last, lastChange, lastNote := first, start, start
	emptySince := time.Time{}
	// The rate counts only the time Redis held tasks: the worker was busy.
	prevAt, prevN, prevQueued := start, first, 1
	var busy time.Duration
	busyDone := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		n, err := left.count(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		if n != last {
			last, lastChange = n, now
		}
		if prevQueued > 0 {
			busy += now.Sub(prevAt)
			busyDone += prevN - n
		}
		if n == 0 {
			break
		}
		if now.Sub(lastNote) > 10*time.Second {
			lastNote = now
			progress("drain: %d left (%.0f events/s)", n, float64(first-n)/now.Sub(start).Seconds())
		}
		queued, err := queue.waiting()
		if err != nil {
			return err
		}
		prevAt, prevN, prevQueued = now, n, queued
		if queued > 0 {
			emptySince = time.Time{}
		} else if emptySince.IsZero() {
			emptySince = now
		} else if now.Sub(emptySince) > time.Second {
			relayed, err := queue.relayStranded(ctx, db)
			if err != nil {
				return err
			}
			progress("drain: %d received events had no task in Redis (their enqueue was dropped): queued them as the relay sweep would", relayed)
			emptySince = time.Time{}
		}
		if now.Sub(lastChange) > 30*time.Second {
			progress("drain: %d events have not moved for 30s", n)
			lastChange = now
		}
		if now.Sub(start) > *timeout {
			return fmt.Errorf("%d events still received after %v", n, *timeout)
		}
	}
	took := time.Since(start)
	cpu1, db1 := readPhaseCPU(ctx, db, *servicePID), readDBCounters(ctx, db)
	waitReport := waits.report(14)
	rate := float64(busyDone) / max(busy.Seconds(), 1e-3)
	statuses, _ := eventStatuses(ctx, db)
	progress("drain: %d events processed in %v (%.0f/s); inbox: %s", first, took.Round(time.Millisecond), rate, statuses)
	progress("drain: %s", cpuNote(cpu0, cpu1, float64(first), "event"))
	progress("drain: %s", dbNote(db0, db1, float64(first), "event"))
	progress("drain: %s", waitReport)
	if *name != "" {
		emit(*name, rate, "events/s")
	}
	if *servicePID > 0 {
		cpuFigures(*cpuPrefix, cpu0, cpu1, float64(first))
	}
	return nil
}

// backlog counts the events a drain still waits for. Counting the inbox's
// received events reads every index entry the drain has left behind, dead
// or not, and took a whole core for most of a drain; the service's own
// counter of processed events (/metrics, reconciler_events_processed_total)
// costs nothing. So the drain follows the counter, and asks the inbox, at
// most once a second, only when the counter says it is done (or when the
// service's metrics cannot be read).
type backlog struct {
	db          *pgxpool.Pool
	metrics     string // the service's /metrics, "" when unknown
	client      *http.Client
	first       int
	processed0  float64
	lastInbox   time.Time
	inboxAnswer int
}

// newBacklog reads the service's counter; the caller sets first, the count
// of the inbox's received events, next.
func newBacklog(ctx context.Context, db *pgxpool.Pool) *backlog {
	b := &backlog{db: db, client: &http.Client{Timeout: 5 * time.Second}}
	if base := os.Getenv("BENCH_URL"); base != "" {
		b.metrics = base + "/metrics"
		var err error
		if b.processed0, err = b.processed(ctx); err != nil {
			b.metrics = ""
		}
	}
	return b
}

// count is how many events still wait.
func (b *backlog) count(ctx context.Context) (int, error) {
	if b.metrics != "" {
		processed, err := b.processed(ctx)
		if err != nil {
			return 0, err
		}
		if n := b.first - int(processed-b.processed0); n > 0 {
			return n, nil
		}
	}
	if time.Since(b.lastInbox) >= time.Second {
		n, err := receivedEvents(ctx, b.db)
		if err != nil {
			return 0, err
		}
		b.lastInbox, b.inboxAnswer = time.Now(), n
	}
	return b.inboxAnswer, nil
}

// processed sums the service's counter of processed events.
func (b *backlog) processed(ctx context.Context) (float64, error) {
	body, err := getMetrics(ctx, b.client, b.metrics)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	var sum float64
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "reconciler_events_processed_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("read the service's metrics: %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

func receivedEvents(ctx context.Context, db *pgxpool.Pool) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM events WHERE status = 'received'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count received events: %w", err)
	}
	return n, nil
}

func eventStatuses(ctx context.Context, db *pgxpool.Pool) (string, error) {
	rows, err := db.Query(ctx, `SELECT status, count(*) FROM events GROUP BY status ORDER BY status`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%s %d", s, n))
	}
	return strings.Join(parts, ", "), rows.Err()
}

// eventQueue looks at the service's Asynq events queue.
type eventQueue struct {
	inspector *asynq.Inspector
	opt       asynq.RedisClientOpt
}

func newEventQueue() (*eventQueue, error) {
	raw, err := need("REDIS_URL")
	if err != nil {
		return nil, err
	}
	opt, err := redisOptions(raw)
	if err != nil {
		return nil, err
	}
	return &eventQueue{inspector: asynq.NewInspector(opt), opt: opt}, nil
}

func (q *eventQueue) close() { _ = q.inspector.Close() }

// waiting counts the event tasks Redis holds that will still run.
func (q *eventQueue) waiting() (int, error) {
	info, err := q.inspector.GetQueueInfo(worker.QueueEvents)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("inspect the events queue: %w", err)
	}
	return info.Pending + info.Active + info.Scheduled + info.Retry, nil
}

// relayStranded runs the service's relay sweep now, rather than waiting
// RELAY_AFTER for it (an event queued twice is processed once: the second
// task skips it).
func (q *eventQueue) relayStranded(ctx context.Context, db *pgxpool.Pool) (int, error) {
	c := worker.NewClient(q.opt, reconcile.NewStore(db), zap.NewNop())
	defer c.Close()
	n, err := c.RelayReceived(ctx, 0)
	if err != nil {
		return n, fmt.Errorf("queue stranded events: %w", err)
	}
	return n, nil
}

// cmdSettle waits until the reconciliation run the scheduler queues when the
// service starts has finished, so that it does not run under a measurement.
func cmdSettle(ctx context.Context, args []string) error {
	fs := flags("settle")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := connectPool(ctx, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(*timeout)
	for {
		var finished, running int
		if err := db.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')),
			       count(*) FILTER (WHERE status NOT IN ('succeeded', 'failed'))
			FROM jobs WHERE type = $1`, reconcile.JobReconcile).Scan(&finished, &running); err != nil {
			return fmt.Errorf("count reconciliation jobs: %w", err)
		}
		if finished > 0 && running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the scheduler's first reconciliation run did not finish within %v", *timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
