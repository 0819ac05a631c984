package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/admin/ui"
	"github.com/payrecon/reconciler/internal/config"
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/reqlog"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/webhooks"
	"github.com/payrecon/reconciler/worker"
)

// deps are the connections and services one process holds.
type deps struct {
	cfg      config.Config
	log      *zap.Logger
	pool     *pgxpool.Pool
	redis    redis.UniversalClient
	store    *reconcile.Store
	notify   *notify.Store
	client   *worker.Client
	runner   *reconcile.Runner
	webhooks *webhooks.Handler
	server   *worker.Server
	// metrics is the process's own registry: /metrics shows what this
	// process's roles record, Go and process figures, and queue depth.
	metrics *prometheus.Registry
	workerM *worker.Metrics
	queues  *asynq.Inspector
}

// poolSize is the PostgreSQL connection budget of a process: PostgreSQL
// allows 100 by default, shared by every web and worker process.
func poolSize(cfg config.Config, roles role) int32 {
	n := int32(0)
	if roles&roleWeb != 0 {
		n += 10
	}
	if roles&roleWorker != 0 {
		// + the notification dispatcher's LISTEN connection. Deliveries
		// (NOTIFY_CONCURRENCY) hold a connection only for their short
		// queries, never while they wait on a receiver: they share the rest.
		n += int32(cfg.WorkerConcurrency) + 3
	}
	if roles&roleScheduler != 0 {
		n += 2
	}
	return n
}

func connect(ctx context.Context, cfg config.Config, log *zap.Logger, roles role) (*deps, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns=") { // an explicit budget in the URL wins
		pcfg.MaxConns = poolSize(cfg, roles)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	rc, ok := cfg.Redis.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		pool.Close()
		return nil, fmt.Errorf("REDIS_URL: not a Redis client option")
	}
	d := &deps{cfg: cfg, log: log, pool: pool, redis: rc, store: reconcile.NewStore(pool), notify: notify.NewStore(pool)}
	d.client = worker.NewClient(cfg.Redis, d.store, log)
	d.metrics = prometheus.NewRegistry()
	d.queues = asynq.NewInspector(cfg.Redis)
	d.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		worker.NewQueueCollector(d.queues))
	if roles&roleWorker != 0 {
		d.workerM = worker.NewMetrics(d.metrics)
	}
	var stripe reconcile.StripeEvents
	if cfg.StripeAPIKey != "" {
		stripe = reconcile.NewStripeEvents(cfg.StripeAPIKey, cfg.StripeAPIBase)
	}
	d.runner = reconcile.NewRunner(d.store, d.client, reconcile.RunnerConfig{
		RelayAfter: cfg.RelayAfter, Stripe: stripe, Log: log.Named("reconcile")})
	return d, nil
}

func (d *deps) workerServer() *worker.Server {
	if d.server == nil {
		// One endpoint may take at most half the delivery slots (at least
		// one), so a receiver that hangs leaves the others theirs.
		deliverer := notify.NewDeliverer(d.notify, notify.NewHTTPClient(d.cfg.NotifyAllowPrivate, nil),
			notify.DelivererConfig{PerEndpoint: max(1, d.cfg.NotifyConcurrency/2)}, d.log.Named("notify"))
		h := worker.NewHandlers(d.store, d.client, d.runner, d.cfg.RelayAfter, d.log.Named("worker")).
			WithDeliverer(deliverer).WithRetention(d.cfg.Retention, d.notify).WithMetrics(d.workerM)
		d.server = worker.NewServer(d.cfg.Redis, d.cfg.WorkerConcurrency, h, d.log,
			worker.WithNotifyConcurrency(d.cfg.NotifyConcurrency))
	}
	return d.server
}

// dispatch queues notification deliveries as the ledger commits them, until
// ctx ends.
func (d *deps) dispatch(ctx context.Context) error {
	return notify.Dispatch(ctx, d.pool, d.notify, d.client, d.log.Named("notify"))
}

func (d *deps) scheduler() *worker.Scheduler {
	return worker.NewScheduler(d.client, d.cfg.ReconcileEvery, d.cfg.RelayAfter, d.log.Named("scheduler"))
}

// closeWeb stops the webhook batch writer after the server has drained.
func (d *deps) closeWeb() {
	if d.webhooks != nil {
		d.webhooks.Close()
	}
}

// Close releases the connections.
func (d *deps) Close() {
	_ = d.client.Close()
	_ = d.queues.Close()
	_ = d.redis.Close()
	d.pool.Close()
}

// newHTTPServer serves the web role. Its timeouts bound what a slow client
// can hold: a slowloris connection is dropped after ReadHeaderTimeout.
func newHTTPServer(cfg config.Config, d *deps, log *zap.Logger) *http.Server {
	d.webhooks = webhooks.New(webhooks.Config{Secrets: cfg.WebhookSecrets}, d.store, d.client, log.Named("webhooks"))
	d.metrics.MustRegister(d.webhooks.Collector())
	api := admin.New(admin.Config{Token: cfg.AdminToken, Store: d.store, Jobs: d.client, Log: log.Named("admin"), Now: time.Now})
	api.MountNotifications(d.notify)
	console := ui.New(ui.Config{Token: cfg.AdminToken, API: api, Store: d.store, Log: log.Named("ui")})
	// Asynq's dashboard, for a browser logged in to the console or a
	// caller with the bearer token.
	queues := asynqmon.New(asynqmon.Options{RootPath: strings.TrimSuffix(ui.QueuesPrefix, "/"), RedisConnOpt: cfg.Redis})
	api.Handle(ui.QueuesPrefix, queues.ServeHTTP)
	dashboard := console.Protect(queues)

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reconciler_http_requests_total", Help: "HTTP requests by handler and status code.",
	}, []string{"handler", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "reconciler_http_request_duration_seconds", Help: "Time to answer HTTP requests, by handler.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"handler"})
	d.metrics.MustRegister(requests, latency)
	instrument := func(name string, h http.Handler) http.Handler {
		labels := prometheus.Labels{"handler": name}
		return promhttp.InstrumentHandlerCounter(requests.MustCurryWith(labels),
			promhttp.InstrumentHandlerDuration(latency.MustCurryWith(labels), h))
	}

	mux := http.NewServeMux()
	mux.Handle("/webhooks/stripe", instrument("webhooks", d.webhooks))
	mux.Handle("/admin/", instrument("admin", api))
	mux.Handle(ui.Prefix, instrument("console", console))
	mux.Handle(ui.QueuesPrefix, instrument("queues", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			api.ServeHTTP(w, r)
			return
		}
		dashboard.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", d.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics, promhttp.HandlerOpts{}))
	return &http.Server{
		Handler:           reqlog.Middleware(log, mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// ready answers 200 only when PostgreSQL and Redis both answer.
func (d *deps) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := map[string]string{"postgres": "ok", "redis": "ok"}
	code := http.StatusOK
	if err := d.store.Ping(ctx); err != nil {
		status["postgres"], code = "unavailable", http.StatusServiceUnavailable
	}
	if err := d.redis.Ping(ctx).Err(); err != nil {
		status["redis"], code = "unavailable", http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(status)
}
