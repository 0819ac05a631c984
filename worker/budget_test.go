package worker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestHangingReceiversNeverHoldUpPayments subscribes three endpoints that
// accept every notification and never answer, owes each of them more
// deliveries than the worker has slots (WORKER_CONCURRENCY 10; 4 in flight
// per endpoint x 3 would take 12), and then posts a payment: it is applied
// while every receiver still hangs, because deliveries run on a budget of
// their own (NOTIFY_CONCURRENCY) and never take a ledger slot.
func TestHangingReceiversNeverHoldUpPayments(t *testing.T) {
	t.Parallel()
	pool := testenv.PoolOn(t, testenv.DatabaseURL(t), 8)
	s := reconcile.NewStore(pool)
	notifications := notify.NewStore(pool)
	redis := testenv.Redis(t)
	ctx := context.Background()
	log := zap.NewNop()

	var inflight atomic.Int64
	release := make(chan struct{})
	for range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inflight.Add(1)
			defer inflight.Add(-1)
			select { // accept, and never answer
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		if _, _, err := notifications.CreateEndpoint(ctx, srv.URL+"/hook", nil, "hangs"); err != nil {
			t.Fatal(err)
		}
	}

	client := worker.NewClient(redis, s, log)
	t.Cleanup(func() { _ = client.Close() })
	// Counts the delivery requests that have ended, by answer or timeout,
	// as the worker sees them: a delivery's slot is free only after that.
	var ended atomic.Int64
	httpClient := notify.NewHTTPClient(true, nil)
	httpClient.Transport = countEnded{next: httpClient.Transport, ended: &ended}
	deliverer := notify.NewDeliverer(notifications, httpClient, notify.DelivererConfig{}, log)
	h := worker.NewHandlers(s, client, nil, time.Minute, log).WithLivemode(false).WithDeliverer(deliverer)
	srv := worker.NewServer(redis, 10, h, log) // NOTIFY_CONCURRENCY at its default
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	dispatchCtx, stopDispatch := context.WithCancel(ctx)
	var dispatching sync.WaitGroup
	dispatching.Go(func() { _ = notify.Dispatch(dispatchCtx, pool, notifications, client, log) })
	t.Cleanup(func() { stopDispatch(); dispatching.Wait() })
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // first: lets the receivers answer

	// Six payments owe each hanging endpoint six deliveries: eighteen.
	inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_owed", Number: "O", Client: "c", Currency: "usd", Amount: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if _, _, err := s.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: "owed-" + string(rune('a'+i)), InvoiceID: inv.ID,
			Amount: 100, PaidDate: reconcile.DateOf(time.Now())}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return inflight.Load() >= 4 })
	time.Sleep(500 * time.Millisecond) // every delivery that will hang now hangs
	t.Logf("%d notifications hang at the receivers", inflight.Load())

	// The payment, as the webhook hands it to the worker.
	if _, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_paid", Number: "P", Client: "c", Currency: "usd", Amount: 3000}); err != nil {
		t.Fatal(err)
	}
	storeEvents(t, s, map[string][]byte{"evt_during_hang": piSucceeded("evt_during_hang", "pi_during_hang", "inv_paid", 3000)})
	posted := time.Now()
	if err := client.EnqueueEvents(ctx, []string{"evt_during_hang"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		ev, err := s.GetEvent(ctx, "evt_during_hang")
		return err == nil && ev.Status == reconcile.EventProcessed
	})
	// No delivery request has ended, by answer or timeout: the payment did
	// not wait for a hanging receiver to give a slot back.
	t.Logf("applied %v after it was posted; %d delivery requests ended, %d hanging",
		time.Since(posted).Round(time.Millisecond), ended.Load(), inflight.Load())
	if ended.Load() != 0 {
		t.Fatalf("the payment was applied after %d delivery requests ended: it waited for a receiver", ended.Load())
	}
	if got, _ := s.GetInvoice(ctx, "inv_paid"); got.State != reconcile.StatePaid {
		t.Fatalf("invoice %+v, want paid", got)
	}
}

// countEnded counts the round trips that have returned.
type countEnded struct {
	next  http.RoundTripper
	ended *atomic.Int64
}

func (c countEnded) RoundTrip(r *http.Request) (*http.Response, error) {
	defer c.ended.Add(1)
	return c.next.RoundTrip(r)
}
