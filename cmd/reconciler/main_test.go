package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	t.Parallel()
	run := func(env map[string]string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	t.Run("help lists every command and variable with its default", func(t *testing.T) {
		code, out, _ := run(nil, "--help")
		for _, want := range []string{"migrate", "web", "worker", "scheduler", "all", "admin",
			"DATABASE_URL", "REDIS_URL", "PORT", "ADMIN_TOKEN", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY",
			"STRIPE_API_BASE", "RECONCILE_EVERY", "15m", "RELAY_AFTER", "2m", "WORKER_CONCURRENCY",
			"NOTIFY_ALLOW_PRIVATE", "LOG_LEVEL"} {
			if !strings.Contains(out, want) {
				t.Errorf("help lacks %q", want)
			}
		}
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		if code, out, _ := run(nil, "web", "--help"); code != 0 || !strings.Contains(out, "RELAY_AFTER") {
			t.Fatalf("web --help: exit %d", code)
		}
	})
	t.Run("a bad variable is refused at start with one line naming it", func(t *testing.T) {
		code, _, errOut := run(map[string]string{"RELAY_AFTER": "2x"}, "worker")
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "RELAY_AFTER") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("an unknown command is a usage error", func(t *testing.T) {
		if code, _, errOut := run(nil, "serve"); code != 2 || !strings.Contains(errOut, "unknown command") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
}
