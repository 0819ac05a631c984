package worker

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"
)

// shutdownTimeout is how long a stopping worker lets running tasks finish
// before handing them back to Redis for another worker.
const shutdownTimeout = 25 * time.Second

// taskCheckInterval is how often an idle worker polls Redis.
const taskCheckInterval = 5 * time.Millisecond

// notifyCheckInterval is how often idle delivery slots poll Redis: a
// notification a few tens of milliseconds later is not worth more polling.
const notifyCheckInterval = 50 * time.Millisecond

// DefaultNotifyConcurrency is how many notification deliveries a worker
// process has in flight at most, unless WithNotifyConcurrency says
// otherwise (NOTIFY_CONCURRENCY).
const DefaultNotifyConcurrency = 4

// ServerOption tunes a Server.
type ServerOption func(*serverOptions)

type serverOptions struct {
	notifyConcurrency int
}

// WithNotifyConcurrency sets how many notification deliveries run at once,
// on slots of their own (DefaultNotifyConcurrency when n < 1).
func WithNotifyConcurrency(n int) ServerOption {
	return func(o *serverOptions) {
		if n >= 1 {
			o.notifyConcurrency = n
		}
	}
}

// Server runs tasks with Asynq: ledger work (events, jobs, upkeep) on one
// Asynq server of the given concurrency, and notification deliveries on
// another of their own. A delivery can wait up to its request's timeout on
// a receiver that accepts and never answers; on a budget of their own, any
// number of such receivers never hold a slot a payment needs.
type Server struct {
	ledger *asynq.Server
	notify *asynq.Server
	mux    *asynq.ServeMux
}

// NewServer makes a worker of the given concurrency for ledger work, and
// of DefaultNotifyConcurrency (or WithNotifyConcurrency) for deliveries.
// It tells h the concurrency (Handlers.WithConcurrency), so the events'
// group commits share the slots it runs.
func NewServer(redis asynq.RedisConnOpt, concurrency int, h *Handlers, log *zap.Logger, opts ...ServerOption) *Server {
	h.WithConcurrency(concurrency)
	o := serverOptions{notifyConcurrency: DefaultNotifyConcurrency}
	for _, opt := range opts {
		opt(&o)
	}
	ledgerQueues := maps.Clone(queueWeights)
	delete(ledgerQueues, QueueNotifications)
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeProcessEvent, h.ProcessEvent)
	mux.HandleFunc(TypeRunJob, h.RunJob)
	mux.HandleFunc(TypeRelay, h.Relay)
	mux.HandleFunc(TypeRetention, h.Prune)
	mux.HandleFunc(TypeDeliver, h.Deliver)
	return &Server{
		// An idle worker looks for new tasks every taskCheckInterval
		// (Asynq's default is 1 s): a payment should read paid within
		// milliseconds of its webhook, and about 200 cheap Redis calls a
		// second per idle worker buy that.
		ledger: newAsynqServer(redis, concurrency, ledgerQueues, taskCheckInterval, log),
		notify: newAsynqServer(redis, o.notifyConcurrency, map[string]int{QueueNotifications: 1}, notifyCheckInterval, log),
		mux:    mux,
	}
}

func newAsynqServer(redis asynq.RedisConnOpt, concurrency int, queues map[string]int, check time.Duration, log *zap.Logger) *asynq.Server {
	return asynq.NewServer(redis, asynq.Config{
		Concurrency:       concurrency,
		Queues:            queues,
		ShutdownTimeout:   shutdownTimeout,
		TaskCheckInterval: check,
		Logger:            asynqLogger{log.Sugar().Named("asynq")},
		// A refusal (SkipRetry) is an answer, not a failure worth an error log.
		IsFailure: func(err error) bool { return !errors.Is(err, asynq.SkipRetry) },
	})
}

// Start runs the worker in the background.
func (s *Server) Start() error {
	if err := s.ledger.Start(s.mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if err := s.notify.Start(s.mux); err != nil {
		s.ledger.Shutdown()
		return fmt.Errorf("start notification worker: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks and waits for running ones, up to a timeout.
func (s *Server) Shutdown() {
	var wg sync.WaitGroup
	wg.Go(s.ledger.Shutdown)
	wg.Go(s.notify.Shutdown)
	wg.Wait()
}

// asynqLogger sends Asynq's own logs to zap.
type asynqLogger struct{ *zap.SugaredLogger }

func (l asynqLogger) Debug(args ...any) { l.SugaredLogger.Debug(args...) }
func (l asynqLogger) Info(args ...any)  { l.SugaredLogger.Info(args...) }
func (l asynqLogger) Warn(args ...any)  { l.SugaredLogger.Warn(args...) }
func (l asynqLogger) Error(args ...any) { l.SugaredLogger.Error(args...) }
func (l asynqLogger) Fatal(args ...any) { l.SugaredLogger.Fatal(args...) }
