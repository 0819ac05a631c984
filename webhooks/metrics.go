package webhooks

import "github.com/prometheus/client_golang/prometheus"

// collector exports the handler's Stats at each scrape, so the ingest path
// only bumps its atomic counters.
type collector struct {
	h       *Handler
	events  *prometheus.Desc
	batches *prometheus.Desc
	enqueue *prometheus.Desc
}

// Collector exports the handler's figures to Prometheus: events by outcome
// (new, duplicate, rejected, store_error, shed), group-commit
// transactions, and enqueue failures left for the relay sweep.
func (h *Handler) Collector() prometheus.Collector {
	return &collector{h: h,
		events: prometheus.NewDesc("reconciler_webhook_events_total",
			"Webhook deliveries by outcome.", []string{"outcome"}, nil),
		batches: prometheus.NewDesc("reconciler_webhook_batches_total",
			"Inbox transactions (group commits); events over batches is the batch size.", nil, nil),
		enqueue: prometheus.NewDesc("reconciler_webhook_enqueue_failures_total",
			"Stored events not queued at once (Redis down or the queue full); the relay sweep queues them.",
			[]string{"reason"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.batches
	ch <- c.enqueue
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.events, s.New, "new")
	counter(c.events, s.Duplicate, "duplicate")
	counter(c.events, s.Rejected, "rejected")
	counter(c.events, s.StoreErrors, "store_error")
	counter(c.events, s.Shed, "shed")
	counter(c.batches, s.Batches)
	counter(c.enqueue, s.EnqueueErrors, "error")
	counter(c.enqueue, s.EnqueueDropped, "queue_full")
}
