package webhooks_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/webhooks"
)

// TestHungDatabaseIsAnsweredWithinTheBound holds the inbox behind a lock,
// as a hung PostgreSQL would: the first request's commit is stuck, and a
// second request queued behind it must still be answered 503 at the bound
// counted from its own arrival, not when the stuck commit before its own
// gives up. Once the database answers again, Stripe's retry stores the
// event once.
func TestHungDatabaseIsAnsweredWithinTheBound(t *testing.T) {
	t.Parallel()
	store, db := testenv.Store(t)
	ctx := context.Background()
	lock, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `LOCK TABLE events IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	const bound = 300 * time.Millisecond
	h := newHandler(t, webhooks.Config{AnswerWithin: bound}, store, &recordingEnqueuer{})

	first := withID(t, fixture(t, "payment_intent.succeeded.json"), "evt_hung_first")
	second := withID(t, fixture(t, "payment_intent.succeeded.json"), "evt_hung_second")
	answers := make(chan int, 2)
	go func() { answers <- post(h, first, sign(first, secret, time.Now())).Code }()
	// The second arrives while the first's commit is stuck, so it waits for
	// the next commit, which cannot start before the first one ends.
	time.Sleep(bound / 2)
	go func() { answers <- post(h, second, sign(second, secret, time.Now())).Code }()
	for range 2 {
		if code := <-answers; code != http.StatusServiceUnavailable {
			t.Fatalf("a request behind a hung commit answered %d, want 503", code)
		}
	}

	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for _, payload := range [][]byte{first, second} {
		// Stripe retries: the event is stored once, whether the stuck
		// commit stored it meanwhile or the retry does now.
		assertReceived(t, post(h, payload, sign(payload, secret, time.Now())))
	}
	if n := countEvents(t, db); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
}
