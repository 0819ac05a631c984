// Package chaos is the fault suite. It runs the whole service (two web
// processes, two workers and a scheduler) on a private PostgreSQL and Redis,
// drives Stripe webhooks and operators' requests at it while it kills and
// restarts its parts, lets it settle, and then holds the ledger to what was
// acknowledged: every event answered 200 applied exactly once, every job
// reported succeeded applied once and every failed one not at all, the
// stored totals equal to invoice_truth, and no secret or body in any log.
//
// Faults are kills (kill -9 of a worker or a web process), restarts (Redis
// started empty, PostgreSQL fast and immediate) and stalls (PostgreSQL or
// Redis stopped with SIGSTOP, then resumed). Throughout the run a
// notification receiver that never answers is subscribed to every change,
// and events of types the service ignores are mixed into the payments'.
//
// internal/testing/cmd/chaos runs it for minutes (make chaos); TestChaosShort for twenty
// seconds with one kill or restart of each kind, inside make test.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config tunes a run. Zero values take the defaults of the full suite.
type Config struct {
	// Binary is the reconciler binary to run (required).
	Binary string
	// Duration is how long load and faults go on (default 2m).
	Duration time.Duration
	// SettleTimeout bounds the wait, after the load, for every event to be
	// acknowledged and processed and every job to finish (default 5m: a
	// task held by a killed worker waits for Asynq's lease to expire).
	SettleTimeout time.Duration
	// Dir is where the run's working directory (PostgreSQL, Redis, logs) is
	// made, default the temporary directory; the working directory is
	// removed after a clean run.
	Dir string
	// Keep keeps the working directory even after a clean run.
	Keep bool
	// ScenarioEvery is how often a new invoice and its payments start
	// (default 120ms).
	ScenarioEvery time.Duration
	// Senders is how many webhook deliveries go on at once (default 8).
	Senders int
	// Operators is how many operators use the admin API at once (default
	// 3), each about once every OperatorEvery (default 200ms).
	Operators     int
	OperatorEvery time.Duration
	// WorkerConcurrency is each worker's WORKER_CONCURRENCY (default 10).
	WorkerConcurrency int
	// Faults, when set, are injected once each, in this order, spread over
	// Duration. Otherwise rounds of every fault in random order are
	// injected, one every FaultEvery (default 10s).
	Faults     []Fault
	FaultEvery time.Duration
	// StallFor is how long a stall fault holds PostgreSQL or Redis stopped
	// (default 15s).
	StallFor time.Duration
	// HangingEndpoints is how many notification endpoints, all on the
	// suite's receiver that never answers, are subscribed to every change
	// (default 1). A worker sends to one endpoint at most 4 requests at
	// once, in its own ledger slots today: with 3 endpoints against 10
	// slots the payments starve, which the payment_to_paid figures show.
	HangingEndpoints int
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Short is the configuration of the short variant: twenty seconds of light
// load, one kill or restart of each kind. The stalls are left out: at
// fifteen seconds each they would double the run, and make test must stay
// well under a minute. Redis restarts last, so tasks stranded by the other
// faults (a lease held by a killed worker, a retry backing off) are relayed
// at once rather than after Asynq's own delays.
//
// One hanging endpoint, and four worker slots: deliveries run on a budget
// of their own (NOTIFY_CONCURRENCY), so the endpoint holds none of the
// ledger's slots and payments do not wait for it.
func Short(binary string) Config {
	return Config{Binary: binary, Duration: 20 * time.Second, SettleTimeout: 90 * time.Second,
		ScenarioEvery: 400 * time.Millisecond, Senders: 3, Operators: 1, OperatorEvery: 300 * time.Millisecond,
		WorkerConcurrency: 4, HangingEndpoints: 1,
		Faults: []Fault{FaultWorkerKill, FaultWebKill, FaultPostgresFast, FaultPostgresImmediate, FaultRedisRestart}}
}

func (c Config) withDefaults() Config {
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setN := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.Duration, 2*time.Minute)
	set(&c.SettleTimeout, 5*time.Minute)
	set(&c.ScenarioEvery, 120*time.Millisecond)
	set(&c.OperatorEvery, 200*time.Millisecond)
	set(&c.FaultEvery, 10*time.Second)
	set(&c.StallFor, 15*time.Second)
	setN(&c.Senders, 8)
	setN(&c.Operators, 3)
	setN(&c.WorkerConcurrency, 10)
	setN(&c.HangingEndpoints, 1)
	return c
}

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "chaos: "+format+"\n", args...)
	}
}

// driver is one run: the load it sent and what it was answered.
type driver struct {
	cfg    Config
	c      *cluster
	run    string // part of every id the run makes
	canary string // placed in bodies and notes; no log may show it
	http   *http.Client
	seq    atomic.Int64
	pool   pool
	// recv is the notification receiver that never answers, registered
	// before the load; recvSecrets its endpoints' secrets, which no log may
	// show.
	recv        *hangingReceiver
	recvSecrets []string
	answers     answers
	stats       struct {
		deliveries, webhookNon200, webhook4xx                   atomic.Int64
		adminRequests, adminAccepted, adminRefused, adminErrors atomic.Int64
		ambiguousKeyless, abandoned                             atomic.Int64
		replays, replayMismatch, replayRefused                  atomic.Int64
	}

	mu       sync.Mutex
	invoices []string // created and sent: the operators' to work on
	intents  []*paymentIntent
	ignored  []*stripeEvent // events of types the service ignores
	jobs     map[string]*jobRec
	keys     map[string]string // Idempotency-Key → the job it was answered
	faults   map[Fault]int
	windows  []faultWindow // every fault injected, in order
	evid     []string
}

// maxEvidence bounds the evidence kept; the counts are always complete.
const maxEvidence = 200

func (d *driver) evidence(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.evidenceLocked(format, args...)
}

func (d *driver) evidenceLocked(format string, args ...any) {
	if len(d.evid) < maxEvidence {
		d.evid = append(d.evid, fmt.Sprintf(format, args...))
	}
}

// Run runs the suite: it starts the cluster, drives load and faults for
// cfg.Duration, waits for the system to settle, runs a full reconciliation
// and checks the ledger and the logs. The error is for a run that could not
// be carried out (a process that would not start, a timeout); what the
// checks find is in the report (Report.Problems). Everything started is
// stopped before Run returns.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	cfg = cfg.withDefaults()
	if cfg.Binary == "" {
		return nil, errors.New("chaos: no reconciler binary given")
	}
	c, err := startCluster(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d := &driver{cfg: cfg, c: c, run: randomHex(3), canary: "chaos-canary-" + randomHex(8),
		http: &http.Client{Timeout: 2 * answerLimit, Transport: &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second}},
		jobs: map[string]*jobRec{}, keys: map[string]string{}, faults: map[Fault]int{}}
	rep = &Report{Faults: d.faults}
	if d.recv, err = startReceiver(); err != nil {
		c.close()
		return nil, err
	}
	defer func() {
		d.recv.close() // first: the workers' deliveries to it end at once
		c.close()
		rep.Evidence = d.evid
		if cfg.Keep || err != nil || len(rep.Problems()) > 0 {
			rep.Dir = c.dir
			_ = os.Remove(filepath.Join(c.dir, "driver.pid")) // kept on purpose: not leftovers to reap
		} else {
			_ = os.RemoveAll(c.dir)
		}
	}()
	cfg.logf("cluster up in %s: web %v, load for %s", c.dir, c.webURL, cfg.Duration)
	if err := d.registerReceiver(ctx); err != nil {
		return rep, err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchCtx, stopWatch := context.WithCancel(runCtx)
	sendCtx, stopSending := context.WithCancel(runCtx)
	var watcher, senders sync.WaitGroup
	watcher.Go(func() { d.watch(watchCtx) })
	for range cfg.Senders {
		senders.Go(func() { d.send(sendCtx) })
	}
	// Whatever way Run ends, these are done before the cluster stops.
	defer func() {
		stopSending()
		senders.Wait()
		stopWatch()
		watcher.Wait()
	}()
	if err := d.drive(runCtx); err != nil {
		return rep, err
	}

	db, err := pgxpool.New(runCtx, c.dbURL+"&pool_max_conns=4")
	if err != nil {
		return rep, err
	}
	defer db.Close()
	cfg.logf("load over; settling (at most %s)", cfg.SettleTimeout)
	began := time.Now()
	settleErr := d.settle(runCtx, db)
	rep.SettleSeconds = time.Since(began).Seconds()
	stopSending()
	senders.Wait()
	if settleErr == nil {
		cfg.logf("settled in %.1fs; full reconciliation", rep.SettleSeconds)
		if err := d.reconcile(runCtx, db, rep); err != nil {
			return rep, err
		}
	}
	if err := d.check(runCtx, db, rep); err != nil {
		return rep, errors.Join(settleErr, err)
	}
	stopWatch()
	watcher.Wait()
	d.stop(rep)
	return rep, errors.Join(settleErr, d.scanLogs(rep))
}

// drive runs the load, the operators and the faults for cfg.Duration.
func (d *driver) drive(ctx context.Context) error {
	load, stop := context.WithTimeout(ctx, d.cfg.Duration)
	defer stop()
	var wg sync.WaitGroup
	var faultErr error
	wg.Go(func() {
		if faultErr = d.inject(load, ctx, schedule(d.cfg)); faultErr != nil {
			stop() // the cluster is broken: no point loading it
		}
	})
	wg.Go(func() { d.generate(load) })
	for range d.cfg.Operators {
		wg.Go(func() { d.operate(load, ctx) })
	}
	wg.Go(func() {
		for load.Err() == nil {
			sleep(load, 10*time.Second)
			d.mu.Lock()
			invoices, jobs := len(d.invoices), len(d.jobs)
			d.mu.Unlock()
			d.cfg.logf("%d invoices, %d deliveries (%d not 200), %d jobs accepted, %d deliveries pending",
				invoices, d.stats.deliveries.Load(), d.stats.webhookNon200.Load(), jobs, d.pool.pending())
		}
	})
	wg.Wait()
	if faultErr != nil {
		return faultErr
	}
	return ctx.Err()
}

// generate starts a scenario every cfg.ScenarioEvery until load ends: an
// invoice created and sent through the admin API, then its payments
// announced by webhooks. During an outage scenarios wait; a few at most.
func (d *driver) generate(load context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := make(chan struct{}, 16)
	tick := time.NewTicker(d.cfg.ScenarioEvery)
	defer tick.Stop()
	for {
		select {
		case <-load.Done():
			return
		case <-tick.C:
		}
		select {
		case busy <- struct{}{}:
			wg.Go(func() {
				defer func() { <-busy }()
				d.scenario(load)
			})
		default: // an outage holds them all: skip this one
		}
	}
}

func (d *driver) scenario(load context.Context) {
	// Stripe's other news about the account, unasked for, comes all along.
	d.queueIgnored(rand.IntN(4))
	n := d.seq.Add(1)
	id := fmt.Sprintf("inv_chaos%s_%d", d.run, n)
	amount := 2000 + rand.Int64N(48000)
	body := fmt.Appendf(nil, `{"id":%q,"number":"CH-%d","client":"client-%d","currency":"usd","amount":%d}`,
		id, n, n%17, amount)
	limit := time.Until(deadlineOf(load))
	if _, _, err := d.adminOK(load, limit, http.MethodPost, "/admin/invoices", body, http.StatusCreated, http.StatusConflict); err != nil {
		if load.Err() == nil {
			d.evidence("create invoice %s: %v", id, err)
		}
		return
	}
	if _, _, err := d.adminOK(load, limit, http.MethodPost, "/admin/invoices/"+id+"/send", nil, http.StatusOK); err != nil {
		if load.Err() == nil {
			d.evidence("send invoice %s: %v", id, err)
		}
		return
	}
	d.queue(d.paymentEvents(id, amount))
	d.mu.Lock()
	d.invoices = append(d.invoices, id)
	d.mu.Unlock()
}

func deadlineOf(ctx context.Context) time.Time {
	if t, ok := ctx.Deadline(); ok {
		return t
	}
	return time.Now().Add(time.Minute)
}

// stop stops the service processes with SIGTERM, as a deployment would,
// and counts those that do not exit 0, and those that exited by themselves
// during the run.
func (d *driver) stop(rep *Report) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range d.c.services() {
		wg.Go(func() {
			if err := p.stop(40 * time.Second); err != nil {
				mu.Lock()
				rep.UncleanStops++
				mu.Unlock()
				d.evidence("%s did not stop cleanly on SIGTERM: exit %d: %v", p.name, exitCode(err), err)
			}
		})
	}
	wg.Wait()
	for _, p := range d.c.services() {
		for _, e := range p.unexpectedExits() {
			rep.UnexpectedExits++
			d.evidence("%s", e)
		}
	}
}
