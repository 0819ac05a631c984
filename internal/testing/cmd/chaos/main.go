// Command chaos runs the fault suite (make chaos): the whole service on a
// private PostgreSQL and Redis, under webhooks and operators' requests,
// while workers, web processes, Redis and PostgreSQL are killed and
// restarted and PostgreSQL and Redis stalled (SIGSTOP), with a notification
// receiver that never answers; then it checks that nothing acknowledged was
// lost or doubled, that no invoice drifted from its rows, that no log holds
// a secret, and that every webhook was answered within 15 s.
//
// It prints its figures as "name value" lines on stdout, progress and
// evidence on stderr, and exits 1 when a check fails (2 on bad usage).
//
//	chaos [-bin bin/reconciler] [-duration 2m] [-settle-timeout 5m] [-hanging-endpoints 1] [-keep] [-dir DIR]
//
// CHAOS_DURATION gives the duration when -duration is not set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/payrecon/reconciler/internal/testing/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	def := 2 * time.Minute
	if v := getenv("CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "chaos: CHAOS_DURATION: %q is not a positive duration (e.g. 2m)\n", v)
			return 2
		}
		def = d
	}
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin/reconciler", "the reconciler binary to run")
	duration := fs.Duration("duration", def, "how long load and faults go on (CHAOS_DURATION)")
	settle := fs.Duration("settle-timeout", 5*time.Minute, "how long the system may take to finish its work afterwards")
	hanging := fs.Int("hanging-endpoints", 1, "notification endpoints on the receiver that never answers")
	keep := fs.Bool("keep", false, "keep the working directory (logs, database) after a clean run too")
	dir := fs.String("dir", "", "where to make the run's working directory (default $TMPDIR)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *hanging < 1 {
		fmt.Fprintf(stderr, "chaos: -hanging-endpoints: %d is not a positive number\n", *hanging)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chaos: unexpected arguments %q\n", fs.Args())
		return 2
	}
	binary, err := filepath.Abs(*bin)
	if err == nil {
		_, err = os.Stat(binary)
	}
	if err != nil {
		fmt.Fprintf(stderr, "chaos: reconciler binary: %v (make build)\n", err)
		return 2
	}

	rep, err := chaos.Run(ctx, chaos.Config{Binary: binary, Duration: *duration, SettleTimeout: *settle,
		HangingEndpoints: *hanging, Keep: *keep, Dir: *dir, Log: stderr})
	if rep != nil {
		rep.Print(stdout)
		for _, e := range rep.Evidence {
			fmt.Fprintf(stderr, "chaos: evidence: %s\n", e)
		}
		if rep.Dir != "" {
			fmt.Fprintf(stderr, "chaos: logs and data kept in %s\n", rep.Dir)
		}
	}
	failed := err != nil
	if err != nil {
		fmt.Fprintf(stderr, "chaos: %v\n", err)
	}
	if rep != nil {
		for _, p := range rep.Problems() {
			fmt.Fprintf(stderr, "chaos: FAIL: %s\n", p)
			failed = true
		}
	}
	if failed {
		return 1
	}
	fmt.Fprintln(stderr, "chaos: ok")
	return 0
}
