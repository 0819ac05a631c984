// Command reconciler runs the payment reconciliation service: one binary,
// one subcommand per process (see usage). It only wires things together;
// the business lives in the packages it imports.
package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin/cli"
	"github.com/payrecon/reconciler/internal/config"
)

const usage = `Usage: reconciler COMMAND

Commands:
  migrate     apply the database migrations, then exit (safe twice, and concurrently)
  web         serve /webhooks/stripe, /admin, /healthz, /readyz, /metrics
  worker      run the Asynq worker that runs every job
  scheduler   queue the periodic reconciliation runs and relay sweeps
  all         migrate, then web + worker + scheduler in one process
  admin       the operator CLI over the admin API (reconciler admin -h)

Configuration (environment):
`

// The garbage collector's defaults, unless GOGC or GOMEMLIMIT set them.
// The service keeps a live heap of about 6 MB; at Go's default GOGC of 100
// it collected about eight times a second under load (gctrace over make
// bench), each collection marking the whole live heap again. At 400 a
// collection waits for four times the live heap to be allocated: a heap of
// a few tens of MB, for a quarter of the collections. The soft limit keeps
// the worst case where GOGC=100 left it: when a flood of large webhook
// bodies fills the commit queue (32 MiB held at most), collections come
// sooner instead of letting the heap grow to five times that.
const (
	gcPercent   = 400
	memoryLimit = 256 << 20
)

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage+config.Help())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	if cmd == "admin" {
		return cli.Run(ctx, rest, getenv, stdout, stderr)
	}
	if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
		fmt.Fprint(stdout, usage+config.Help())
		return 0
	}
	start, ok := commands[cmd]
	if !ok || len(rest) > 0 {
		fmt.Fprintf(stderr, "reconciler: unknown command %q (reconciler --help lists them)\n", strings.Join(args, " "))
		return 2
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "reconciler: %v\n", err)
		return 2
	}
	log, err := cfg.NewLogger()
	if err != nil {
		fmt.Fprintf(stderr, "reconciler: %v\n", err)
		return 2
	}
	defer log.Sync() //nolint:errcheck // nothing to do if stderr is gone
	logConfig(log, cmd, cfg)
	if err := start(ctx, cfg, log); err != nil {
		log.Error(cmd+" stopped", zap.Error(err))
		return 1
	}
	return 0
}

// logConfig writes the command a process starts and every variable it took,
// with its secrets redacted (config.Config.Redacted): which settings a
// running process has is then one line of its log away.
func logConfig(log *zap.Logger, cmd string, cfg config.Config) {
	shown := cfg.Redacted()
	fields := make([]zap.Field, 0, len(shown))
	for _, name := range slices.Sorted(maps.Keys(shown)) {
		fields = append(fields, zap.String(name, shown[name]))
	}
	log.Info("starting", zap.String("command", cmd), zap.Dict("config", fields...))
}
