package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/config"
	"github.com/payrecon/reconciler/internal/migrate"
)

// commands maps each subcommand to what it runs until ctx ends.
var commands = map[string]func(ctx context.Context, cfg config.Config, log *zap.Logger) error{
	"migrate": runMigrate,
	"web": func(ctx context.Context, cfg config.Config, log *zap.Logger) error {
		return runProcesses(ctx, cfg, log, roleWeb)
	},
	"worker": func(ctx context.Context, cfg config.Config, log *zap.Logger) error {
		return runProcesses(ctx, cfg, log, roleWorker)
	},
	"scheduler": func(ctx context.Context, cfg config.Config, log *zap.Logger) error {
		return runProcesses(ctx, cfg, log, roleScheduler)
	},
	"all": func(ctx context.Context, cfg config.Config, log *zap.Logger) error {
		if err := runMigrate(ctx, cfg, log); err != nil {
			return err
		}
		return runProcesses(ctx, cfg, log, roleWeb|roleWorker|roleScheduler)
	},
}

func runMigrate(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	v, err := migrate.Up(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	log.Info("database migrated", zap.Int32("version", v))
	return nil
}

// role is one part of the service a process runs.
type role int

const (
	roleWeb role = 1 << iota
	roleWorker
	roleScheduler
)

// runProcesses runs the given roles until ctx ends, then stops them in an
// order that loses nothing: stop taking requests, let running jobs finish,
// then close the connections.
func runProcesses(ctx context.Context, cfg config.Config, log *zap.Logger, roles role) error {
	deps, err := connect(ctx, cfg, log, roles)
	if err != nil {
		return err
	}
	defer deps.Close()

	errs := make(chan error, 3)
	var srv *http.Server
	if roles&roleWeb != 0 {
		srv = newHTTPServer(cfg, deps, log)
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
		if err != nil {
			return fmt.Errorf("listen on PORT %d: %w", cfg.Port, err)
		}
		log.Info("web listening", zap.String("addr", ln.Addr().String()))
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("web: %w", err)
			}
		}()
	}
	if roles&roleWorker != 0 {
		if err := deps.workerServer().Start(); err != nil {
			return err
		}
		log.Info("worker running", zap.Int("concurrency", cfg.WorkerConcurrency), zap.Int("notify_concurrency", cfg.NotifyConcurrency))
	}
	// The scheduler and the notification dispatcher stop first, before the
	// worker they feed.
	loopsCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	if roles&roleWorker != 0 {
		loops.Go(func() { _ = deps.dispatch(loopsCtx) })
	}
	if roles&roleScheduler != 0 {
		log.Info("scheduler running", zap.Duration("reconcile_every", cfg.ReconcileEvery), zap.Duration("relay_after", cfg.RelayAfter),
			zap.Duration("retention", cfg.Retention))
		loops.Go(func() { _ = deps.scheduler().Run(loopsCtx) })
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case runErr = <-errs:
	}
	stopLoops()
	loops.Wait()
	if srv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Warn("web did not drain in time", zap.Error(err))
		}
		cancel()
		deps.closeWeb()
	}
	if roles&roleWorker != 0 {
		deps.workerServer().Shutdown()
	}
	log.Info("stopped")
	return runErr
}
