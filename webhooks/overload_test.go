package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/webhooks"
)

// TestOverloadSheds sends far more events than the service can commit (its
// commits are stuck behind a lock on the inbox: it commits none) and checks
// that the webhook sheds rather than swells: every request past what its
// group-commit queue holds is answered 503 at once, while the first commit
// is still stuck, and the memory held does not grow with what is sent. Once
// the database commits again, the events it held are stored and answered
// 200; Stripe retries the rest.
func TestOverloadSheds(t *testing.T) {
	const (
		sent      = 200
		eventSize = 16 << 10 // a large event, so that held memory shows
		batchMax  = 16
	)
	for _, tc := range []struct {
		name string
		cfg  webhooks.Config
		held int // the most requests the handler may hold
	}{
		{"a queue full of events sheds", webhooks.Config{BatchMax: batchMax, QueueMax: 64}, batchMax + 64},
		{"a queue full of bytes sheds", webhooks.Config{BatchMax: batchMax, QueueMax: 1024, QueueBytes: 20 * eventSize}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, db := testenv.Store(t)
			ctx := context.Background()
			lock, err := db.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Inserts wait for this lock: the service commits nothing until
			// it is released.
			if _, err := lock.Exec(ctx, `LOCK TABLE events IN SHARE MODE`); err != nil {
				t.Fatal(err)
			}
			released := false
			release := func() {
				if !released {
					released = true
					_ = lock.Rollback(ctx)
				}
			}

			tc.cfg.Secrets = []string{secret}
			h := webhooks.New(tc.cfg, store, &recordingEnqueuer{}, zap.NewNop())
			t.Cleanup(h.Close)
			t.Cleanup(release) // first: Close waits for the stuck commit

			// Made before the flood, so that the flood measures the handler.
			payloads, headers := make([][]byte, sent), make([]string, sent)
			for i := range sent {
				payloads[i] = largeEvent(fmt.Sprintf("evt_overload_%04d", i), eventSize)
				headers[i] = sign(payloads[i], secret, time.Now())
			}
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			start := time.Now()
			var answered, shed, ok atomic.Int64
			var wg sync.WaitGroup
			for i := range sent {
				wg.Go(func() {
					w := post(h, payloads[i], headers[i])
					switch w.Code {
					case http.StatusServiceUnavailable:
						assertError(t, w, http.StatusServiceUnavailable, webhooks.CodeOverloaded, "retry")
						shed.Add(1)
					case http.StatusOK:
						ok.Add(1)
					default:
						t.Errorf("status %d: %s", w.Code, w.Body)
					}
					answered.Add(1)
				})
			}

			// Generous: the answers that matter come while nothing commits.
			deadline := time.Now().Add(60 * time.Second)
			for answered.Load() < sent-int64(tc.held) {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d requests answered while the database committed nothing; the handler may hold at most %d",
						answered.Load(), sent, tc.held)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if s := h.Stats(); s.Batches != 0 || s.StoreErrors != 0 {
				t.Fatalf("stats %+v: the answers came from a finished commit, not from shedding", s)
			}
			var during runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&during)
			grown := int64(during.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%d shed in %v while nothing committed; heap grew %d KiB holding at most %d events of %d KiB",
				shed.Load(), time.Since(start).Round(time.Millisecond), grown>>10, tc.held, eventSize>>10)
			// A held request keeps its body (a buffer up to twice its size)
			// and its request; everything past them must have been let go.
			if limit := int64(4 * tc.held * eventSize); grown > limit {
				t.Errorf("heap grew %d KiB while overloaded, want under %d KiB", grown>>10, limit>>10)
			}

			release()
			wg.Wait()
			if n := int64(countEvents(t, db)); n != ok.Load() || n == 0 || n > int64(tc.held) {
				t.Errorf("%d events stored, %d answered 200; want the same, between 1 and %d", n, ok.Load(), tc.held)
			}
			if shed.Load()+ok.Load() != sent {
				t.Errorf("%d shed + %d stored, want %d", shed.Load(), ok.Load(), sent)
			}
		})
	}
}

// largeEvent is an event of about size bytes.
func largeEvent(id string, size int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"customer.created","created":%d,`+
		`"data":{"object":{"id":"cus_1","metadata":{"padding":"%s"}}}}`, id, time.Now().Unix(), strings.Repeat("p", size))
}
