package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"
)

// shutdownTimeout is how long a stopping worker lets running tasks finish
// before handing them back to Redis for another worker.
const shutdownTimeout = 25 * time.Second

// taskCheckInterval is how often an idle worker polls Redis.
const taskCheckInterval = 5 * time.Millisecond

// Server runs tasks with Asynq.
type Server struct {
	srv *asynq.Server
	mux *asynq.ServeMux
}

// NewServer makes a worker of the given concurrency.
func NewServer(redis asynq.RedisConnOpt, concurrency int, h *Handlers, log *zap.Logger) *Server {
	srv := asynq.NewServer(redis, asynq.Config{
		Concurrency:     concurrency,
		Queues:          queueWeights,
		ShutdownTimeout: shutdownTimeout,
		// An idle worker looks for new tasks this often (Asynq's default is
		// 1 s): a payment should read paid within milliseconds of its
		// webhook, and about 200 cheap Redis calls a second per idle worker
		// buy that.
		TaskCheckInterval: taskCheckInterval,
		Logger:            asynqLogger{log.Sugar().Named("asynq")},
		// A refusal (SkipRetry) is an answer, not a failure worth an error log.
		IsFailure: func(err error) bool { return !errors.Is(err, asynq.SkipRetry) },
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeProcessEvent, h.ProcessEvent)
	mux.HandleFunc(TypeRunJob, h.RunJob)
	mux.HandleFunc(TypeRelay, h.Relay)
	mux.HandleFunc(TypeDeliver, h.Deliver)
	return &Server{srv: srv, mux: mux}
}

// Start runs the worker in the background.
func (s *Server) Start() error {
	if err := s.srv.Start(s.mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks and waits for running ones, up to a timeout.
func (s *Server) Shutdown() { s.srv.Shutdown() }

// asynqLogger sends Asynq's own logs to zap.
type asynqLogger struct{ *zap.SugaredLogger }

func (l asynqLogger) Debug(args ...any) { l.SugaredLogger.Debug(args...) }
func (l asynqLogger) Info(args ...any)  { l.SugaredLogger.Info(args...) }
func (l asynqLogger) Warn(args ...any)  { l.SugaredLogger.Warn(args...) }
func (l asynqLogger) Error(args ...any) { l.SugaredLogger.Error(args...) }
func (l asynqLogger) Fatal(args ...any) { l.SugaredLogger.Fatal(args...) }
