// Command loadgen drives the reconciler for `make bench` (scripts/bench.sh):
// it prepares the bench database and Redis, seeds invoices and payments with
// COPY, posts signed webhooks and admin requests to a running service,
// measures what comes back, and runs reconciliation in its own process so
// that its peak memory is its own.
//
// Every figure is one "name value unit" line on stdout; progress and
// diagnostics go to stderr. Each subcommand does one step, so the script can
// start and stop the service between them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: what it does, and the function that does it.
type command struct {
	help string
	run  func(ctx context.Context, args []string) error
}

var commands = map[string]command{
	"freeport":      {"print a free TCP port on localhost", cmdFreePort},
	"createdb":      {"drop and create the bench database, print its URL", cmdCreateDB},
	"redis-lease":   {"lease an empty Redis database (as the tests do), print its URL and the lease token", cmdRedisLease},
	"redis-release": {"empty and release a leased Redis database", cmdRedisRelease},
	"ready":         {"exit 0 when the service answers /readyz with 200", cmdReady},
	"sample-event":  {"print one payment_intent.succeeded body as the load posts them", cmdSampleEvent},
	"seed-pools":    {"COPY the sent invoices the ingest, e2e and jobs phases pay", cmdSeedPools},
	"ingest":        {"post signed events from concurrent senders for a fixed time", cmdIngest},
	"drain":         {"wait until every stored event is processed", cmdDrain},
	"settle":        {"wait for the reconciliation run the service queues at start", cmdSettle},
	"e2e":           {"post events at a fixed rate and time each until its invoice reads paid", cmdE2E},
	"jobs":          {"queue manual payments through the admin API and time the worker", cmdJobs},
	"seed-scale":    {"COPY invoices and three payments each with consistent totals", cmdSeedScale},
	"sqlfloor":      {"time one SQL statement checking every invoice against its rows", cmdSQLFloor},
	"reconcile":     {"run one reconciliation in this process, report its time and peak RSS", cmdReconcile},
	"seed-provider": {"empty the ledger and COPY the provider comparison's Stripe payments into it", cmdSeedProvider},
	"fake-stripe":   {"serve the provider comparison's PaymentIntents from the fake Stripe until stopped", cmdFakeStripe},
	"compare":       {"run one full reconciliation against the fake Stripe, report its comparison's time and peak RSS", cmdCompare},
}

func main() {
	// The load generator shares the cores with what it measures: it
	// collects garbage as seldom as the service does (cmd/reconciler),
	// unless GOGC is set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		return 2
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "loadgen: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "loadgen %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Usage: loadgen COMMAND [flags]   (loadgen COMMAND -h lists its flags)\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-14s %s\n", n, commands[n].help)
	}
	b.WriteString("\nEnvironment: DATABASE_URL (the bench database), REDIS_URL, BENCH_URL (the service),\n" +
		"ADMIN_TOKEN, STRIPE_WEBHOOK_SECRET.\n")
	fmt.Fprint(w, b.String())
}

// flags makes a flag set for a subcommand that reports its errors itself.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("loadgen "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

// env reads a variable, or def when it is unset or blank.
func env(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

// need reads a variable that must be set.
func need(name string) (string, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	return v, nil
}

// progress writes a line for the human watching, on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
