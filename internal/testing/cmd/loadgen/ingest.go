package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrecon/reconciler/worker"
)

// serviceTarget is where the service phases post, with what secret.
type serviceTarget struct {
	base   string
	signer signer
}

func target() (serviceTarget, error) {
	base, err := need("BENCH_URL")
	if err != nil {
		return serviceTarget{}, err
	}
	secret, err := need("STRIPE_WEBHOOK_SECRET")
	if err != nil {
		return serviceTarget{}, err
	}
	return serviceTarget{base: base, signer: signer{secret: secret}}, nil
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(env(name, "")); err == nil && n > 0 {
		return n
	}
	return def
}

// senderResult is one sender's count, kept apart so senders share nothing.
type senderResult struct {
	lat        latencies
	ok, failed int
	lastErr    string
}

// cmdIngest posts distinct signed payment_intent.succeeded events from
// concurrent senders, each waiting for its answer (a closed loop), for a
// fixed time after a short warm-up. An event counts when its 200 arrives
// inside the window; its latency is from its request's start.
func cmdIngest(ctx context.Context, args []string) error {
	fs := flags("ingest")
	seconds := fs.Int("seconds", envInt("BENCH_SECONDS", 15), "measured seconds")
	warmup := fs.Duration("warmup", time.Second, "unmeasured warm-up before the window")
	senders := fs.Int("senders", 64, "concurrent senders, one keep-alive connection each")
	invoices := fs.Int("invoices", 150000, "size of the ingest invoice pool (seed-pools -ingest)")
	servicePID := fs.Int("service-pid", 0, "the service's pid, for the CPU note")
	name := fs.String("name", "ingest", "figure name prefix")
	poolName := fs.String("pool", "ingest", "the invoices the events pay: ingest, or ingest-all (seed-pools -ingest-all)")
	pause := fs.Bool("pause-worker", false, "pause the service's events queue while posting: the figure is then the web tier's "+
		"alone, as when web and worker run on machines of their own; the worker drains the backlog after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prefix, known := map[string]string{"ingest": ingestPrefix, "ingest-all": ingestAllPrefix}[*poolName]
	if !known {
		return fmt.Errorf("-pool %q is not ingest or ingest-all", *poolName)
	}
	if *pause {
		q, err := newEventQueue()
		if err != nil {
			return err
		}
		defer q.close()
		if err := q.inspector.PauseQueue(worker.QueueEvents); err != nil {
			return fmt.Errorf("pause the events queue: %w", err)
		}
		// Resumed whatever happens: a paused queue would hold every later event.
		defer func() {
			if err := q.inspector.UnpauseQueue(worker.QueueEvents); err != nil {
				progress("ingest: could not resume the events queue: %v", err)
			}
		}()
	}
	t, err := target()
	if err != nil {
		return err
	}
	db, err := connectPool(ctx, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	url := t.base + "/webhooks/stripe"

	progress("%s: %d senders for %ds (after %v warm-up)...", *name, *senders, *seconds, *warmup)
	from := time.Now().Add(*warmup)
	end := from.Add(time.Duration(*seconds) * time.Second)
	var seq atomic.Int64
	results := make([]senderResult, *senders)
	var wg sync.WaitGroup
	conns, err := newConns(t.base, *senders)
	if err != nil {
		return err
	}
	defer closeConns(conns)
	for s, c := range conns {
		wg.Go(func() {
			r := &results[s]
			for ctx.Err() == nil && time.Now().Before(end) {
				n := int(seq.Add(1))
				ev := newEvent(poolID(prefix, (n-1)%*invoices+1), poolAmount)
				now := time.Now()
				body := ev.body(now)
				header := t.signer.header(body, now)
				t0 := time.Now()
				code, err := postSigned(ctx, c, url, header, body)
				t1 := time.Now()
				if t1.Before(from) || t1.After(end) {
					continue
				}
				switch {
				case err != nil:
					r.failed++
					r.lastErr = err.Error()
				case code != http.StatusOK:
					r.failed++
					r.lastErr = fmt.Sprintf("status %d", code)
				default:
					r.ok++
					r.lat = append(r.lat, t1.Sub(t0))
				}
			}
		})
	}
	sleepUntil(ctx, from)
	cpu0, db0 := readPhaseCPU(ctx, db, *servicePID), readDBCounters(ctx, db)
	waits := startWaitSampler(ctx, db, 10*time.Millisecond)
	sleepUntil(ctx, end)
	cpu1, db1 := readPhaseCPU(ctx, db, *servicePID), readDBCounters(ctx, db)
	waitReport := waits.report(12)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}

	var all latencies
	ok, failed, lastErr := 0, 0, ""
	for _, r := range results {
		all = append(all, r.lat...)
		ok += r.ok
		failed += r.failed
		if r.lastErr != "" {
			lastErr = r.lastErr
		}
	}
	if ok == 0 {
		return fmt.Errorf("no event was acknowledged (%d failed, last: %s)", failed, lastErr)
	}
	rate := float64(ok) / float64(*seconds)
	progress("%s: %d acknowledged, %d failed%s; ack %s", *name, ok, failed, errNote(lastErr), all.summary())
	progress("%s: %s", *name, cpuNote(cpu0, cpu1, float64(ok), "event"))
	progress("%s: %s", *name, dbNote(db0, db1, float64(ok), "event"))
	progress("%s: %s", *name, waitReport)
	if left, err := receivedEvents(ctx, db); err == nil {
		progress("%s: %d stored events wait for the worker", *name, left)
	}
	emit(*name+"_events_per_sec", rate, "events/s")
	emit(*name+"_ack_p50_ms", ms(all.percentile(0.50)), "ms")
	emit(*name+"_ack_p99_ms", ms(all.percentile(0.99)), "ms")
	emit(*name+"_errors", float64(failed), "requests")
	return nil
}

func errNote(lastErr string) string {
	if lastErr == "" {
		return ""
	}
	return " (last error: " + lastErr + ")"
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}
