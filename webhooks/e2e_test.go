package webhooks_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/webhooks"
	"github.com/payrecon/reconciler/worker"
)

// service is the web and worker roles of the service on one test database
// and one Redis database.
type service struct {
	store *reconcile.Store
	url   string
}

func startService(t *testing.T, redis asynq.RedisClientOpt) service {
	t.Helper()
	store, _ := testenv.Store(t)
	client := worker.NewClient(redis, store, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	srv := worker.NewServer(redis, 4, worker.NewHandlers(store, client, nil, time.Minute, zap.NewNop()).WithLivemode(false), zap.NewNop())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	h := webhooks.New(webhooks.Config{Secrets: []string{secret}}, store, client, zap.NewNop())
	t.Cleanup(h.Close)
	web := httptest.NewServer(h)
	t.Cleanup(web.Close)
	return service{store: store, url: web.URL}
}

func (s service) post(t *testing.T, payload []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(payload))
	req.Header.Set("Stripe-Signature", sign(payload, secret, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitPaid(t *testing.T, s *reconcile.Store, id string) reconcile.Invoice {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		inv, err := s.GetInvoice(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if inv.State == reconcile.StatePaid {
			return inv
		}
		if time.Now().After(deadline) {
			t.Fatalf("invoice %s still %s", id, inv.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPostedPaymentMarksInvoicePaid goes through the HTTP handler, Redis and
// the worker: an event posted marks its invoice paid, and the same event
// posted ten times at once makes one payment.
func TestPostedPaymentMarksInvoicePaid(t *testing.T) {
	t.Parallel()
	svc := startService(t, testenv.Redis(t))
	ctx := context.Background()
	// The fixture pays 2000 usd for metadata.invoice_id inv_test_1.
	if _, err := svc.store.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_test_1", Number: "F-1", Client: "acme", Currency: "usd", Amount: 2000}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.store.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, "inv_test_1"); err != nil {
		t.Fatal(err)
	}
	payload := fixture(t, "payment_intent.succeeded.json")
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if code := svc.post(t, payload); code != http.StatusOK {
				t.Errorf("answered %d, want 200", code)
			}
		})
	}
	wg.Wait()
	inv := waitPaid(t, svc.store, "inv_test_1")
	if inv.PaidAmount != 2000 || inv.Balance != 0 {
		t.Fatalf("paid %d balance %d, want 2000 and 0", inv.PaidAmount, inv.Balance)
	}
	d, err := svc.store.GetInvoiceDetail(ctx, "inv_test_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Payments) != 1 {
		t.Fatalf("%d payments, want 1", len(d.Payments))
	}
}

// TestRedisDownDuringPost answers 200 with the event safe in the inbox, and
// the relay sweep applies it once Redis is back.
func TestRedisDownDuringPost(t *testing.T) {
	t.Parallel()
	store, _ := testenv.Store(t)
	down := asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond}
	deadClient := worker.NewClient(down, store, zap.NewNop())
	t.Cleanup(func() { _ = deadClient.Close() })
	h := webhooks.New(webhooks.Config{Secrets: []string{secret}}, store, deadClient, zap.NewNop())
	t.Cleanup(h.Close)
	ctx := context.Background()
	if _, err := store.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_test_1", Number: "F-1", Client: "acme", Currency: "usd", Amount: 2000}); err != nil {
		t.Fatal(err)
	}
	payload := fixture(t, "payment_intent.succeeded.json")
	if w := post(h, payload, sign(payload, secret, time.Now())); w.Code != http.StatusOK {
		t.Fatalf("answered %d with Redis down, want 200", w.Code)
	}
	received, err := store.ListEvents(ctx, reconcile.EventFilter{Status: reconcile.EventReceived, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(received.Events) != 1 {
		t.Fatalf("%d received events in the inbox, want 1", len(received.Events))
	}

	// Redis is back: the sweep queues the event and the worker applies it.
	redis := testenv.Redis(t)
	client := worker.NewClient(redis, store, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.Relay(ctx, 0); err != nil {
		t.Fatal(err)
	}
	srv := worker.NewServer(redis, 2, worker.NewHandlers(store, client, nil, time.Minute, zap.NewNop()).WithLivemode(false), zap.NewNop())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	waitPaid(t, store, "inv_test_1")
}
