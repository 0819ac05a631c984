// Package httpserver is what every HTTP route of the web role shares: the
// server's timeouts, the health and readiness answers, and per-handler
// request metrics. The routes themselves live with their packages
// (webhooks, admin, admin/ui).
package httpserver

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// New wraps handler in a server whose timeouts bound what a slow client can
// hold: a slowloris connection is dropped after ReadHeaderTimeout.
func New(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// Health answers GET /healthz: the process is up.
func Health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// Check reports whether one dependency answers.
type Check func(ctx context.Context) error

// Ready answers GET /readyz: 200 only when every check passes within two
// seconds, with each dependency's state by name.
func Ready(checks map[string]Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status := make(map[string]string, len(checks))
		code := http.StatusOK
		for name, check := range checks {
			status[name] = "ok"
			if err := check(ctx); err != nil {
				status[name], code = "unavailable", http.StatusServiceUnavailable
			}
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(status)
	}
}

// Metrics counts and times requests per named handler.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the request metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconciler_http_requests_total", Help: "HTTP requests by handler and status code.",
		}, []string{"handler", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "reconciler_http_request_duration_seconds", Help: "Time to answer HTTP requests, by handler.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"handler"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// Instrument records h's requests under name.
func (m *Metrics) Instrument(name string, h http.Handler) http.Handler {
	labels := prometheus.Labels{"handler": name}
	return promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(labels),
		promhttp.InstrumentHandlerDuration(m.latency.MustCurryWith(labels), h))
}

// MetricsHandler serves reg's metrics at GET /metrics.
func MetricsHandler(reg prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
