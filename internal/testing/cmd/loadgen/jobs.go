package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cmdJobs queues one manual payment per invoice of the jobs pool through
// the admin API, as fast as its senders get 202s, and times the worker from
// the first 202 until every job has succeeded. Run again on the same pool,
// it pays each invoice once more (a payment is a fraction of the balance).
func cmdJobs(ctx context.Context, args []string) error {
	fs := flags("jobs")
	name := fs.String("name", "jobs", "prefix of the figures")
	n := fs.Int("n", envInt("BENCH_JOBS", 10000), "manual payments to queue (at most the jobs pool)")
	senders := fs.Int("senders", 32, "concurrent senders")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up waiting for the jobs after this long")
	servicePID := fs.Int("service-pid", 0, "the service's pid, for the CPU note")
	if err := fs.Parse(args); err != nil {
		return err
	}
	base, err := need("BENCH_URL")
	if err != nil {
		return err
	}
	adminToken, err := need("ADMIN_TOKEN")
	if err != nil {
		return err
	}
	// The payments are posted as an operator posts them, with a key of
	// their own, not the bootstrap admin's token: each request then reads
	// its operator's row.
	token, err := operatorKey(ctx, base, adminToken, "bench-"+strings.ToLower(randomID(8)))
	if err != nil {
		return err
	}
	db, err := connectPool(ctx, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	keys := "bench-" + randomID(10) + "-"
	body := fmt.Appendf(nil, `{"amount":%d,"method":"bank_transfer","notes":"bench"}`, manualAmount)

	delays := watchDelays(ctx, base, "202 to applied", paymentJobDelay)
	progress(*name+": queueing %d manual payments from %d senders...", *n, *senders)
	start := time.Now()
	var first, last atomic.Int64 // unix nanos of the first and last 202
	var seq atomic.Int64
	var failed atomic.Int64
	var errMu sync.Mutex
	var lastErr string
	var wg sync.WaitGroup
	conns, err := newConns(base, *senders)
	if err != nil {
		return err
	}
	defer closeConns(conns)
	for _, c := range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(seq.Add(1))
				if i > *n {
					return
				}
				code, err := postPayment(ctx, c, base, token, poolID(jobsPrefix, i), keys+fmt.Sprint(i), body)
				if err == nil && code != http.StatusAccepted {
					err = fmt.Errorf("status %d", code)
				}
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					lastErr = err.Error()
					errMu.Unlock()
					continue
				}
				now := time.Now().UnixNano()
				first.CompareAndSwap(0, now)
				last.Store(now)
			}
		})
	}
	cpu0, db0 := readPhaseCPU(ctx, db, *servicePID), readDBCounters(ctx, db)
	waits := startWaitSampler(ctx, db, 10*time.Millisecond)
	wg.Wait()
	queued := *n - int(failed.Load())
	if queued == 0 {
		waits.report(0)
		return fmt.Errorf("no payment was queued (last error: %s)", lastErr)
	}
	enqueueRate := float64(queued) / time.Unix(0, last.Load()).Sub(start).Seconds()
	progress(*name+": %d queued at %.0f/s, %d refused%s; waiting for the worker...", queued, enqueueRate, failed.Load(), errNote(lastErr))

	// Waiting reads only the unfinished jobs (an index-only scan of the
	// small partial index jobs_waiting); the phase's jobs are counted by
	// their keys once, after: counting them at each poll scanned the whole
	// jobs table, and the watcher took a tenth of the two cores from what
	// it measured. Its polls are spaced as the e2e poller's are (pollGap):
	// a poll slowed only by busy cores must not end the phase late.
	for {
		began := time.Now()
		var unfinished int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE status IN ('queued', 'running', 'retrying')`).
			Scan(&unfinished); err != nil {
			return fmt.Errorf("count unfinished jobs: %w", err)
		}
		if unfinished == 0 {
			break
		}
		if time.Since(start) > *timeout {
			return fmt.Errorf("%d jobs unfinished after %v", unfinished, *timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollGap(5*time.Millisecond, time.Since(began), unfinished) - time.Since(began)):
		}
	}
	done := time.Now()
	cpu1, db1 := readPhaseCPU(ctx, db, *servicePID), readDBCounters(ctx, db)
	delayLine := delays.note(ctx)
	waitReport := waits.report(12)
	var succeeded, jobsFailed int
	if err := db.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed')
		FROM jobs WHERE idempotency_key LIKE $1`, keys+"%").Scan(&succeeded, &jobsFailed); err != nil {
		return fmt.Errorf("count jobs: %w", err)
	}
	if succeeded+jobsFailed < queued {
		return fmt.Errorf("%d of %d jobs finished", succeeded+jobsFailed, queued)
	}
	took := done.Sub(time.Unix(0, first.Load()))
	progress(*name+": %d succeeded, %d failed, %v from the first 202 to the last job", succeeded, jobsFailed, took.Round(time.Millisecond))
	progress(*name+": %s", delayLine)
	progress(*name+": %s", cpuNote(cpu0, cpu1, float64(queued), "job"))
	progress(*name+": %s", dbNote(db0, db1, float64(queued), "job"))
	progress(*name+": %s", waitReport)
	emit(*name+"_manual_payments_per_sec", float64(succeeded)/took.Seconds(), "payments/s")
	emit(*name+"_enqueue_per_sec", enqueueRate, "requests/s")
	emit(*name+"_failed", float64(jobsFailed+int(failed.Load())), "jobs")
	return nil
}

// operatorKey creates an operator of the role operator named name, and
// returns its key.
func operatorKey(ctx context.Context, base, adminToken, name string) (string, error) {
	body, err := json.Marshal(map[string]string{"name": name, "role": "operator"})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/operators", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("create operator %s: %w", name, err)
	}
	defer resp.Body.Close()
	var created struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated || created.Key == "" {
		return "", fmt.Errorf("create operator %s: status %d (%v)", name, resp.StatusCode, err)
	}
	return created.Key, nil
}

func postPayment(ctx context.Context, c *conn, base, token, invoiceID, key string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/invoices/"+invoiceID+"/payments", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	return c.do(req)
}
