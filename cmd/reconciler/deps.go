package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/admin/ui"
	"github.com/payrecon/reconciler/internal/config"
	"github.com/payrecon/reconciler/internal/httpserver"
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/internal/reqlog"
	"github.com/payrecon/reconciler/internal/stripe"
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
		worker.NewQueueCollector(d.queues), worker.NewDiscrepancyCollector(d.store))
	if roles&roleWorker != 0 {
		d.workerM = worker.NewMetrics(d.metrics)
		warnWithoutAutovacuum(ctx, pool, log)
	}
	var events reconcile.StripeEvents
	var provider reconcile.ProviderRecords
	if cfg.StripeAPIKey != "" {
		events = worker.StripeEvents(stripe.NewEventLister(cfg.StripeAPIKey, cfg.StripeAPIBase))
		provider = worker.ProviderRecords(stripe.NewPaymentLister(cfg.StripeAPIKey, cfg.StripeAPIBase))
	}
	d.runner = reconcile.NewRunner(d.store, d.client, reconcile.RunnerConfig{
		RelayAfter: cfg.RelayAfter, Stripe: events, Provider: provider, Log: log.Named("reconcile").Sugar()})
	return d, nil
}

// warnWithoutAutovacuum says at start when PostgreSQL runs without
// autovacuum. The ledger's statements reach rows through indexes on plans
// made with the statistics ANALYZE keeps; on a table that grew from empty
// and was never analyzed since, each change scans the table whole
// (docs/performance.md). A server it cannot ask is not warned about.
func warnWithoutAutovacuum(ctx context.Context, pool *pgxpool.Pool, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var on string
	if err := pool.QueryRow(ctx, `SHOW autovacuum`).Scan(&on); err == nil && on == "off" {
		log.Warn("PostgreSQL runs with autovacuum off: analyze the database regularly, or the ledger slows down as its tables grow (docs/performance.md)")
	}
}

func (d *deps) workerServer() *worker.Server {
	if d.server == nil {
		// One endpoint may take at most half the delivery slots (at least
		// one), so a receiver that hangs leaves the others theirs.
		deliverer := notify.NewDeliverer(d.notify, notify.NewHTTPClient(d.cfg.NotifyAllowPrivate, nil),
			notify.DelivererConfig{PerEndpoint: max(1, d.cfg.NotifyConcurrency/2)}, d.log.Named("notify"))
		h := worker.NewHandlers(d.store, d.client, d.runner, d.cfg.RelayAfter, d.log.Named("worker")).
			WithLivemode(d.cfg.StripeLivemode).WithDeliverer(deliverer).WithRetention(d.cfg.Retention, d.notify).WithMetrics(d.workerM)
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

// bearerOrSession serves a request with a bearer key through the admin API
// (its authentication and roles), and any other through the console's
// session check.
func bearerOrSession(api, console http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			api.ServeHTTP(w, r)
			return
		}
		console.ServeHTTP(w, r)
	})
}

// newHTTPServer serves the web role's routes.
func newHTTPServer(cfg config.Config, d *deps, log *zap.Logger) *http.Server {
	d.webhooks = webhooks.New(webhooks.Config{Secrets: cfg.WebhookSecrets}, d.store, d.client, log.Named("webhooks"))
	d.metrics.MustRegister(d.webhooks.Collector())
	ops := operators.NewStore(d.pool)
	api := admin.New(admin.Config{Token: cfg.AdminToken, Store: d.store, Jobs: d.client, Keys: d.client, Operators: ops,
		Log: log.Named("admin"), Now: time.Now})
	api.MountNotifications(d.notify)
	console := ui.New(ui.Config{Token: cfg.AdminToken, API: api, Store: d.store, Operators: ops, Log: log.Named("ui")})
	// Asynq's dashboard, for a browser logged in to the console or a
	// caller with a bearer key, kept out of frames either way.
	queues := asynqmon.New(asynqmon.Options{RootPath: strings.TrimSuffix(ui.QueuesPrefix, "/"), RedisConnOpt: cfg.Redis})
	api.Handle(ui.QueuesPrefix, queues.ServeHTTP)
	dashboard := console.Protect(queues)
	openapiDoc := console.Protect(http.HandlerFunc(admin.ServeOpenAPI))

	m := httpserver.NewMetrics(d.metrics)
	instrument := m.Instrument

	mux := http.NewServeMux()
	mux.Handle("/webhooks/stripe", instrument("webhooks", d.webhooks))
	mux.Handle("/admin/", instrument("admin", api))
	mux.Handle(ui.Prefix, instrument("console", console))
	mux.Handle(ui.QueuesPrefix, instrument("queues", ui.DenyFraming(bearerOrSession(api, dashboard))))
	// A browser with a console session may read the API's description.
	mux.Handle("GET "+ui.OpenAPIPath, instrument("admin", bearerOrSession(api, openapiDoc)))
	mux.HandleFunc("GET /healthz", httpserver.Health)
	mux.Handle("GET /readyz", httpserver.Ready(map[string]httpserver.Check{
		"postgres": d.store.Ping,
		"redis":    func(ctx context.Context) error { return d.redis.Ping(ctx).Err() },
	}))
	mux.Handle("GET /metrics", httpserver.MetricsHandler(d.metrics))
	return httpserver.New(reqlog.Middleware(log, mux))
}
