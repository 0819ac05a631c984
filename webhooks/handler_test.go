package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/webhooks"
)

func TestReceive(t *testing.T) {
	ctx := context.Background()
	event := fixture(t, "payment_intent.succeeded.json")
	const eventID = "evt_3OrTestPaySucc01"

	t.Run("every testdata event is stored received with its type and time", func(t *testing.T) {
		store, _ := testenv.Store(t)
		h := newHandler(t, webhooks.Config{}, store, &recordingEnqueuer{})
		files, err := filepath.Glob(filepath.Join("..", "internal", "stripe", "testdata", "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no testdata: %v", err)
		}
		for _, f := range files {
			payload := fixture(t, filepath.Base(f))
			want, err := stripe.Decode(payload)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			assertReceived(t, post(h, payload, sign(payload, secret, time.Now())))
			got, err := store.GetEvent(ctx, want.ID)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if got.Type != want.Type || got.Status != reconcile.EventReceived || !bytes.Equal(got.Payload, payload) {
				t.Errorf("%s: stored %s %s, payload equal %v; want %s received with the body as sent",
					f, got.Type, got.Status, bytes.Equal(got.Payload, payload), want.Type)
			}
		}
	})

	t.Run("the same event posted twice is stored once and enqueued once", func(t *testing.T) {
		store, db := testenv.Store(t)
		enq := &recordingEnqueuer{}
		h := newHandler(t, webhooks.Config{}, store, enq)
		assertReceived(t, post(h, event, sign(event, secret, time.Now())))
		assertReceived(t, post(h, event, sign(event, secret, time.Now())))
		h.Close()
		if n := countEvents(t, db); n != 1 {
			t.Errorf("%d events stored, want 1", n)
		}
		if got := enq.enqueued(); len(got) != 1 || got[eventID] != 1 {
			t.Errorf("enqueued %v, want %s once", got, eventID)
		}
		if s := h.Stats(); s.New != 1 || s.Duplicate != 1 {
			t.Errorf("stats %+v, want 1 new and 1 duplicate", s)
		}
	})

	t.Run("the same event posted ten times at once is stored once and enqueued once", func(t *testing.T) {
		store, db := testenv.Store(t)
		enq := &recordingEnqueuer{}
		h := newHandler(t, webhooks.Config{}, store, enq)
		header := sign(event, secret, time.Now())
		var wg sync.WaitGroup
		codes := make([]int, 10)
		for i := range codes {
			wg.Go(func() { codes[i] = post(h, event, header).Code })
		}
		wg.Wait()
		h.Close()
		for i, c := range codes {
			if c != http.StatusOK {
				t.Errorf("request %d answered %d, want 200", i, c)
			}
		}
		if n := countEvents(t, db); n != 1 {
			t.Errorf("%d events stored, want 1", n)
		}
		if got := enq.enqueued(); len(got) != 1 || got[eventID] != 1 {
			t.Errorf("enqueued %v, want %s once", got, eventID)
		}
	})

	t.Run("a hundred events posted by sixteen senders are each stored and enqueued once", func(t *testing.T) {
		store, db := testenv.Store(t)
		enq := &recordingEnqueuer{}
		h := newHandler(t, webhooks.Config{}, store, enq)
		const events, senders = 100, 16
		bodies := make(chan []byte, events)
		for i := range events {
			bodies <- withID(t, event, fmt.Sprintf("evt_test_%03d", i))
		}
		close(bodies)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []string
		for range senders {
			wg.Go(func() {
				for b := range bodies {
					if w := post(h, b, sign(b, secret, time.Now())); w.Code != http.StatusOK {
						mu.Lock()
						failed = append(failed, fmt.Sprintf("%d %s", w.Code, w.Body))
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		h.Close()
		if len(failed) > 0 {
			t.Fatalf("%d requests failed, first: %s", len(failed), failed[0])
		}
		if n := countEvents(t, db); n != events {
			t.Errorf("%d events stored, want %d", n, events)
		}
		got := enq.enqueued()
		for i := range events {
			if id := fmt.Sprintf("evt_test_%03d", i); got[id] != 1 {
				t.Errorf("%s enqueued %d times, want 1", id, got[id])
			}
		}
		if len(got) != events {
			t.Errorf("%d ids enqueued, want %d", len(got), events)
		}
		s := h.Stats()
		t.Logf("%d events in %d transactions, %d EnqueueEvents calls", s.New, s.Batches, len(enq.calls))
	})

	t.Run("a signed malformed event is stored and acknowledged for the worker to fail", func(t *testing.T) {
		var ev map[string]any
		if err := json.Unmarshal(event, &ev); err != nil {
			t.Fatal(err)
		}
		ev["data"].(map[string]any)["object"].(map[string]any)["amount_received"] = 0
		malformed, _ := json.Marshal(ev)
		if _, err := stripe.Decode(malformed); !errors.Is(err, stripe.ErrMalformed) {
			t.Fatalf("Decode: %v, want ErrMalformed: the test event is not malformed", err)
		}
		store, _ := testenv.Store(t)
		enq := &recordingEnqueuer{}
		h := newHandler(t, webhooks.Config{}, store, enq)
		assertReceived(t, post(h, malformed, sign(malformed, secret, time.Now())))
		h.Close()
		got, err := store.GetEvent(ctx, eventID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != reconcile.EventReceived {
			t.Errorf("status %s, want received", got.Status)
		}
		if enq.enqueued()[eventID] != 1 {
			t.Errorf("enqueued %v, want %s once", enq.enqueued(), eventID)
		}
		if s := h.Stats(); s.New != 1 || s.Rejected != 0 {
			t.Errorf("stats %+v, want 1 new, none rejected", s)
		}
	})

	t.Run("a body over MaxBody is refused with 413 and nothing stored", func(t *testing.T) {
		store, db := testenv.Store(t)
		h := newHandler(t, webhooks.Config{MaxBody: 1024}, store, &recordingEnqueuer{})
		assertError(t, post(h, event, sign(event, secret, time.Now())), http.StatusRequestEntityTooLarge, webhooks.CodeBodyTooLarge, "1024")
		h.Close()
		if n := countEvents(t, db); n != 0 {
			t.Errorf("%d events stored, want none", n)
		}
	})

	t.Run("without a secret the endpoint answers 503 not configured", func(t *testing.T) {
		store, db := testenv.Store(t)
		for _, secrets := range [][]string{nil, {""}, {" ", ""}} {
			h := webhooks.New(webhooks.Config{Secrets: secrets}, store, &recordingEnqueuer{}, nil)
			// An empty secret must not verify an HMAC made with the empty key.
			assertError(t, post(h, event, sign(event, "", time.Now())), http.StatusServiceUnavailable, webhooks.CodeNotConfigured, "secret")
			h.Close()
		}
		if n := countEvents(t, db); n != 0 {
			t.Errorf("%d events stored, want none", n)
		}
	})

	t.Run("a method other than POST answers 405 naming POST", func(t *testing.T) {
		store, _ := testenv.Store(t)
		h := newHandler(t, webhooks.Config{}, store, &recordingEnqueuer{})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/webhooks/stripe", nil))
		assertError(t, w, http.StatusMethodNotAllowed, webhooks.CodeMethodNotAllowed, "POST")
		if got := w.Header().Get("Allow"); got != "POST" {
			t.Errorf("Allow %q, want POST", got)
		}
	})

	t.Run("a failing enqueue still answers 200 and leaves the event received", func(t *testing.T) {
		store, _ := testenv.Store(t)
		enq := &recordingEnqueuer{err: errors.New("redis: connection refused")}
		h := newHandler(t, webhooks.Config{}, store, enq)
		assertReceived(t, post(h, event, sign(event, secret, time.Now())))
		h.Close()
		got, err := store.GetEvent(ctx, eventID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != reconcile.EventReceived {
			t.Errorf("status %s, want received", got.Status)
		}
		if s := h.Stats(); s.EnqueueErrors != 1 {
			t.Errorf("stats %+v, want 1 enqueue error", s)
		}
	})

	t.Run("a sender that gives up before the commit is answered and its event still committed", func(t *testing.T) {
		store, db := testenv.Store(t)
		// A batch that would wait an hour: only Close ends it.
		h := newHandler(t, webhooks.Config{BatchWait: time.Hour}, store, &recordingEnqueuer{})
		rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		r := httptest.NewRequestWithContext(rctx, http.MethodPost, "/webhooks/stripe", bytes.NewReader(event))
		r.Header.Set("Stripe-Signature", sign(event, secret, time.Now()))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", w.Code)
		}
		h.Close()
		if n := countEvents(t, db); n != 1 {
			t.Errorf("%d events stored, want the queued one committed by Close", n)
		}
	})

	t.Run("after Close a request answers 503", func(t *testing.T) {
		store, db := testenv.Store(t)
		h := newHandler(t, webhooks.Config{}, store, &recordingEnqueuer{})
		h.Close()
		assertError(t, post(h, event, sign(event, secret, time.Now())), http.StatusServiceUnavailable, webhooks.CodeShuttingDown, "")
		if n := countEvents(t, db); n != 0 {
			t.Errorf("%d events stored, want none", n)
		}
	})
}

func TestDatabaseDown(t *testing.T) {
	event := fixture(t, "payment_intent.succeeded.json")
	stores := []struct {
		name string
		pool func(t *testing.T) *pgxpool.Pool
	}{
		{"with nothing listening on the database port the answer is 503", func(t *testing.T) *pgxpool.Pool {
			pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/reconciler?sslmode=disable&connect_timeout=2")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return pool
		}},
		{"with the pool closed the answer is 503", func(t *testing.T) *pgxpool.Pool {
			pool := testenv.PoolOn(t, testenv.DatabaseURL(t), 2)
			pool.Close()
			return pool
		}},
	}
	for _, tt := range stores {
		t.Run(tt.name, func(t *testing.T) {
			enq := &recordingEnqueuer{}
			h := newHandler(t, webhooks.Config{}, reconcile.NewStore(tt.pool(t)), enq)
			assertError(t, post(h, event, sign(event, secret, time.Now())), http.StatusServiceUnavailable, webhooks.CodeDatabaseUnavailable, "retry")
			h.Close()
			if got := enq.enqueued(); len(got) != 0 {
				t.Errorf("enqueued %v without a commit", got)
			}
			if s := h.Stats(); s.StoreErrors != 1 {
				t.Errorf("stats %+v, want 1 store error", s)
			}
		})
	}
}
