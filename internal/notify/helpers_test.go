package notify_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap/zaptest"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// env is a fresh database with the ledger and the notification store on it.
type env struct {
	ledger *reconcile.Store
	store  *notify.Store
	pool   *pgxpool.Pool
}

func newEnv(t *testing.T) env {
	t.Helper()
	ledger, pool := testenv.Store(t)
	return env{ledger: ledger, store: notify.NewStore(pool), pool: pool}
}

// deliverer sends through a client allowed to reach loopback, where the
// test receivers listen.
func (e env) deliverer(t *testing.T, cfg notify.DelivererConfig) *notify.Deliverer {
	return notify.NewDeliverer(e.store, notify.NewHTTPClient(true, nil), cfg, zaptest.NewLogger(t))
}

// endpoint subscribes url and returns it with its secret.
func (e env) endpoint(t *testing.T, url string, events ...string) (notify.Endpoint, string) {
	t.Helper()
	ep, secret, err := e.store.CreateEndpoint(t.Context(), url, events, "test receiver")
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	return ep, secret
}

// recordPayment makes a real ledger change: a sent invoice of 100.00 usd
// and a payment of amount on it. It returns the invoice.
func (e env) recordPayment(t *testing.T, amount reconcile.Amount) (reconcile.Invoice, error) {
	t.Helper()
	ctx := t.Context()
	inv, err := e.ledger.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: "F-1", Client: "acme", Currency: "usd", Amount: 10000})
	if err != nil {
		t.Fatalf("create invoice: %v", err)
	}
	if inv, err = e.ledger.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID); err != nil {
		t.Fatalf("send invoice: %v", err)
	}
	_, _, err = e.ledger.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: ids.New("key"), InvoiceID: inv.ID,
		Amount: amount, PaidDate: reconcile.DateOf(time.Now()), Method: "bank_transfer"})
	return inv, err
}

// deliveries lists an endpoint's deliveries, newest first.
func (e env) deliveries(t *testing.T, endpointID string) []notify.Delivery {
	t.Helper()
	ds, err := e.store.ListDeliveries(t.Context(), endpointID, "", 0)
	if err != nil {
		t.Fatalf("list deliveries: %v", err)
	}
	return ds
}

// onlyDelivery is the one delivery of an endpoint.
func (e env) onlyDelivery(t *testing.T, endpointID string) notify.Delivery {
	t.Helper()
	ds := e.deliveries(t, endpointID)
	if len(ds) != 1 {
		t.Fatalf("endpoint %s has %d deliveries, want 1", endpointID, len(ds))
	}
	return ds[0]
}

// receiver is a business's endpoint: it verifies every request's signature
// and answers with the status answer gives the n-th request (from 1).
type receiver struct {
	*httptest.Server
	answer func(n int) int

	mu       sync.Mutex
	secret   string
	requests []request
}

type request struct {
	body   []byte
	header http.Header
	err    error // from Verify
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	err := notify.Verify(body, req.Header.Get(notify.SignatureHeader), r.secret, time.Minute)
	r.requests = append(r.requests, request{body: body, header: req.Header.Clone(), err: err})
	code := r.answer(len(r.requests))
	r.mu.Unlock()
	if err != nil {
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	w.WriteHeader(code)
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) setAnswer(answer func(n int) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = answer
}

func (r *receiver) got() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

func always(code int) func(int) int { return func(int) int { return code } }

// fakeResolver answers from a map and never asks real DNS.
type fakeResolver map[string][]net.IPAddr

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if ips, ok := f[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host in the fake resolver", Name: host, IsNotFound: true}
}

func ipAddrs(ips ...string) []net.IPAddr {
	var out []net.IPAddr
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(ip)})
	}
	return out
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds, failing after a generous deadline:
// it waits for something to happen, it does not time it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
