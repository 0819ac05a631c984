package chaos

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestChaosShort is the fault suite in little: twenty seconds of load on
// two web processes, two workers and a scheduler, with one kill or restart
// of each kind (the stalls, fifteen seconds each, are make chaos's), the
// hanging notification receiver and events of ignored types throughout,
// then the same checks as make chaos.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite runs a whole cluster for a minute; skipped with -short")
	}
	if _, err := FindPostgres(); err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	bin := filepath.Join(t.TempDir(), "reconciler")
	build := exec.Command("go", "build", "-o", bin, "./cmd/reconciler")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/reconciler: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cfg := Short(bin)
	cfg.Log = testWriter{t}
	rep, err := Run(ctx, cfg) // stops everything it started before it returns
	if rep != nil {
		var b strings.Builder
		rep.Print(&b)
		t.Logf("figures:\n%s", b.String())
		for _, e := range rep.Evidence {
			t.Logf("evidence: %s", e)
		}
		if rep.Dir != "" {
			t.Logf("logs and data kept in %s", rep.Dir)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems() {
		t.Error(p)
	}
	for _, f := range cfg.Faults {
		if rep.Faults[f] != 1 {
			t.Errorf("fault %s injected %d times, want once", f, rep.Faults[f])
		}
	}
	if rep.EventsAcked == 0 || rep.JobsSubmitted == 0 {
		t.Errorf("no load got through: %d events acknowledged, %d jobs", rep.EventsAcked, rep.JobsSubmitted)
	}
}

// moduleRoot finds the directory of go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
