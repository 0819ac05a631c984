package worker

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/payrecon/reconciler/reconcile"
)

// Metrics are the worker's Prometheus figures. A nil *Metrics records
// nothing, so tests need none.
type Metrics struct {
	events      *prometheus.CounterVec
	eventDelay  *prometheus.HistogramVec
	eventGroups prometheus.Histogram
	jobs        *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	jobDelay    *prometheus.HistogramVec
	deliveries  *prometheus.CounterVec
	runs        *prometheus.CounterVec
	runFigures  *prometheus.CounterVec
	pruned      *prometheus.CounterVec
}

// NewMetrics makes the worker's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	// delays run from a few milliseconds (the worker keeping up) to the
	// relay sweep's and the retries' minutes.
	delays := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800}
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconciler_events_processed_total",
			Help: "Stripe events processed, by type and the status they ended in.",
		}, []string{"type", "status"}),
		eventDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "reconciler_event_apply_delay_seconds",
			Help: "Time from a Stripe event's receipt to the commit of a status the worker's processing gave it, by that status: " +
				"for status processed, how long a payment takes to show on its invoice.",
			Buckets: delays,
		}, []string{"status"}),
		eventGroups: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "reconciler_event_group_events",
			Help:    "Events per group commit of the worker: one task's, or those of several tasks waiting together.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 to 256
		}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconciler_jobs_total",
			Help: "Operators' jobs run, by type and outcome (succeeded, failed, retried).",
		}, []string{"type", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "reconciler_job_duration_seconds",
			Help:    "Time to run an operator's job, by type.",
			Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 120, 600},
		}, []string{"type"}),
		jobDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "reconciler_job_delay_seconds",
			Help:    "Time from an operator's job being queued (its 202) to its end, succeeded or failed, by type.",
			Buckets: delays,
		}, []string{"type"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconciler_notification_attempts_total",
			Help: "Notification delivery attempts, by outcome (delivered, retry, busy, error, done).",
		}, []string{"outcome"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconciler_reconcile_runs_total",
			Help: "Reconciliation runs, by status.",
		}, []string{"status"}),
		runFigures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconciler_reconcile_items_total",
			Help: "What reconciliation runs found and did: checked, drift_found, repaired, events_relayed, unmatched_retried, events_pulled, " +
				"stripe_compared, payments_pulled, discrepancies_opened, discrepancies_closed.",
		}, []string{"figure"}),
	}
	m.pruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reconciler_retention_pruned_total",
		Help: "Rows the daily RETENTION prune let go, by kind (event_payloads, jobs, deliveries, notifications).",
	}, []string{"kind"})
	reg.MustRegister(m.events, m.eventDelay, m.eventGroups, m.jobs, m.jobDuration, m.jobDelay, m.deliveries, m.runs, m.runFigures, m.pruned)
	return m
}

// event counts an event's committed outcome and, when the event was read
// with another status (an unmatched event matched again by a later task
// stays unmatched), the time since the event was received, by the
// database's clock: a worker's clock behind it counts no time.
func (m *Metrics) event(ev reconcile.Event, status reconcile.EventStatus) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(ev.Type, string(status)).Inc()
	if status != ev.Status {
		m.eventDelay.WithLabelValues(string(status)).Observe(max(time.Since(ev.ReceivedAt), 0).Seconds())
	}
}

func (m *Metrics) eventGroup(events int) {
	if m != nil {
		m.eventGroups.Observe(float64(events))
	}
}

// job counts a run of a job that took took, and for a job that ended
// (outcome succeeded or failed) the time since it was queued, by the
// database's clock as event's delay is.
func (m *Metrics) job(job reconcile.Job, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(string(job.Type), outcome).Inc()
	m.jobDuration.WithLabelValues(string(job.Type)).Observe(took.Seconds())
	if outcome != "retried" {
		m.jobDelay.WithLabelValues(string(job.Type)).Observe(max(time.Since(job.CreatedAt), 0).Seconds())
	}
}

func (m *Metrics) delivery(outcome string) {
	if m != nil {
		m.deliveries.WithLabelValues(outcome).Inc()
	}
}

// run adds a finished run's figures.
func (m *Metrics) run(r reconcile.Run) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(string(r.Status)).Inc()
	var steps reconcile.RunSteps
	if json.Unmarshal(r.Steps, &steps) != nil {
		return
	}
	add := func(figure string, n int) { m.runFigures.WithLabelValues(figure).Add(float64(n)) }
	if s := steps.Relay; s != nil {
		add("events_relayed", s.EventsRelayed)
		add("unmatched_retried", s.UnmatchedRetried)
	}
	if s := steps.StripePull; s != nil {
		add("events_pulled", s.Stored)
	}
	if s := steps.Ledger; s != nil {
		add("checked", s.Checked)
		add("drift_found", s.DriftFound)
		add("repaired", s.Repaired)
	}
	if s := steps.StripeCompare; s != nil && s.Skipped == "" {
		add("stripe_compared", s.Compared)
		add("payments_pulled", s.Pulled)
		add("discrepancies_opened", s.Opened)
		add("discrepancies_closed", s.Closed)
	}
}

// QueueCollector reports how many tasks each queue holds, by state, asked
// of Redis at each scrape (the figures asynq's own exporter gives, without
// its older go-redis).
type QueueCollector struct {
	inspector *asynq.Inspector
	tasks     *prometheus.Desc
	latency   *prometheus.Desc
}

// NewQueueCollector reads the queues through inspector.
func NewQueueCollector(inspector *asynq.Inspector) *QueueCollector {
	return &QueueCollector{inspector: inspector,
		tasks: prometheus.NewDesc("reconciler_queue_tasks",
			"Tasks in each Asynq queue, by state.", []string{"queue", "state"}, nil),
		latency: prometheus.NewDesc("reconciler_queue_latency_seconds",
			"Age of the oldest pending task of each Asynq queue.", []string{"queue"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.tasks; ch <- c.latency }

// Collect implements prometheus.Collector. A queue that does not exist yet
// (nothing ever queued on it) reports nothing.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	for q := range queueWeights {
		info, err := c.inspector.GetQueueInfo(q)
		if err != nil {
			continue
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, info.Latency.Seconds(), q)
	}
}

// observeRun records the figures of the run a reconcile job made.
func (h *Handlers) observeRun(ctx context.Context, runID string) {
	if h.metrics == nil || runID == "" {
		return
	}
	if r, err := h.store.GetRun(ctx, runID); err == nil {
		h.metrics.run(r)
	}
}
