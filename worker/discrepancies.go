package worker

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/payrecon/reconciler/reconcile"
)

// discrepancyScrapeTimeout bounds the count a scrape asks PostgreSQL for.
const discrepancyScrapeTimeout = 5 * time.Second

// DiscrepancyCollector reports the open discrepancies between the ledger
// and Stripe, by kind, counted in PostgreSQL at each scrape: every process
// shows the same figures, and they are right however many processes
// resolved what.
type DiscrepancyCollector struct {
	store *reconcile.Store
	open  *prometheus.Desc
	// up is 0 when the count could not be read at this scrape.
	up *prometheus.Desc
}

// NewDiscrepancyCollector reads the counts through store.
func NewDiscrepancyCollector(store *reconcile.Store) *DiscrepancyCollector {
	return &DiscrepancyCollector{store: store,
		open: prometheus.NewDesc("reconciler_discrepancies_open",
			"Open discrepancies between the ledger and Stripe, by kind.", []string{"kind"}, nil),
		up: prometheus.NewDesc("reconciler_discrepancies_up",
			"1 when the open discrepancies could be counted at this scrape, else 0.", nil, nil)}
}

// Describe implements prometheus.Collector.
func (c *DiscrepancyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.open; ch <- c.up }

// Collect implements prometheus.Collector. Every kind is reported, 0 when
// none is open, so an alert on a kind has a series from the start. When
// PostgreSQL does not answer only the up gauge (0) is reported.
func (c *DiscrepancyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), discrepancyScrapeTimeout)
	defer cancel()
	counts, err := c.store.OpenDiscrepancies(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, kind := range reconcile.DiscrepancyKinds() {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(counts[kind]), string(kind))
	}
}
