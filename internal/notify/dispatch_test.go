package notify_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/payrecon/reconciler/internal/notify"
)

// recorder is an Enqueuer that remembers what it was given.
type recorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *recorder) EnqueueDelivery(_ context.Context, id string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
	return nil
}

func (r *recorder) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.ids, id)
}

// startDispatch runs the dispatcher with a periodic sweep of every, and
// stops it when the test ends.
func startDispatch(t *testing.T, e env, every time.Duration) *recorder {
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- notify.DispatchEvery(ctx, e.pool, e.store, rec, zaptest.NewLogger(t), every) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Dispatch returned %v when its context ended, want nil", err)
		}
	})
	return rec
}

// waitListening waits until the dispatcher's session has run LISTEN, its
// last statement while it waits for notifications.
func waitListening(t *testing.T, e env) {
	t.Helper()
	eventually(t, "the dispatcher to listen", func() bool {
		var n int
		noErr(t, e.pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query ILIKE 'LISTEN%'`).Scan(&n))
		return n == 1
	})
}

func TestDispatch(t *testing.T) {
	t.Run("a committed ledger change is enqueued on its notification, before any tick", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "https://hooks.example.com/")
		rec := startDispatch(t, e, time.Hour)
		// Commit only once the dispatcher listens: the point is the
		// notification, not the sweep it makes on starting.
		waitListening(t, e)
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)
		eventually(t, "the delivery to be enqueued", func() bool { return rec.has(d.ID) })
	})
	t.Run("deliveries already due when it starts are enqueued", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "https://hooks.example.com/")
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)
		rec := startDispatch(t, e, time.Hour)
		eventually(t, "the delivery to be enqueued", func() bool { return rec.has(d.ID) })
	})
	t.Run("a resend is enqueued on its notification", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "https://hooks.example.com/")
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)
		_, err = e.pool.Exec(t.Context(), `UPDATE deliveries SET status = 'failed' WHERE id = $1`, d.ID)
		noErr(t, err)
		rec := startDispatch(t, e, time.Hour)
		waitListening(t, e)
		if rec.has(d.ID) {
			t.Fatal("a failed delivery was enqueued")
		}
		_, err = e.store.Resend(t.Context(), d.ID)
		noErr(t, err)
		eventually(t, "the resent delivery to be enqueued", func() bool { return rec.has(d.ID) })
	})
	t.Run("it reconnects when its connection is killed", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "https://hooks.example.com/")
		rec := startDispatch(t, e, time.Hour)
		waitListening(t, e)
		_, err := e.pool.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND query ILIKE 'LISTEN%'`)
		noErr(t, err)
		_, err = e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)
		// Committed while it was away: the sweep on reconnecting finds it.
		eventually(t, "the delivery to be enqueued", func() bool { return rec.has(d.ID) })
	})
}
