package worker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestOperatorKeyCannotTakeASchedulerSlot: an operator who posts a
// reconciliation with the Idempotency-Key the scheduler would use for a
// future slot gets a job of their own, and when that slot comes the
// scheduler's run is queued all the same: the scheduler's keys live in a
// space operators cannot write.
func TestOperatorKeyCannotTakeASchedulerSlot(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	redis := testenv.Redis(t)
	ctx := context.Background()
	client := worker.NewClient(redis, s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	const token = "s3cret-admin-token"
	web := httptest.NewServer(admin.New(admin.Config{Token: token, Store: s, Jobs: client, Log: zap.NewNop()}))
	t.Cleanup(web.Close)

	slot := time.Date(2026, 11, 24, 10, 15, 0, 0, time.UTC)
	key := "reconcile-slot:" + slot.Format(time.RFC3339)
	post := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, web.URL+"/admin/reconcile", strings.NewReader(""))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return res.StatusCode, res.Header.Get("Location")
	}
	code, operatorJob := post()
	if code != http.StatusAccepted {
		t.Fatalf("operator's request answered %d, want 202", code)
	}

	sched := worker.NewScheduler(client, 15*time.Minute, 2*time.Minute, zap.NewNop())
	if err := sched.QueueSlots(ctx, slot.Add(time.Minute)); err != nil {
		t.Fatalf("the scheduler's run of the slot: %v", err)
	}
	var runs int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE type = $1`, reconcile.JobReconcile).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Fatalf("%d reconciliation jobs, want the operator's and the scheduler's", runs)
	}
	// The operator's key still means what it meant to the operator.
	if code, again := post(); code != http.StatusAccepted || again != operatorJob {
		t.Fatalf("the operator's replay answered %d %s, want 202 %s", code, again, operatorJob)
	}
	// And the scheduler's slot is still queued once, however often asked.
	if err := sched.QueueSlots(ctx, slot.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE type = $1`, reconcile.JobReconcile).Scan(&runs); err != nil || runs != 2 {
		t.Fatalf("%d reconciliation jobs (%v) after the slot was asked for again, want 2", runs, err)
	}
}
