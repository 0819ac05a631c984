package webhooks_test

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/webhooks"
)

// FuzzReceiver posts random bodies with random Stripe-Signature headers. The
// fuzzer does not know the secret, so it cannot make a valid signature:
// every answer must be a refusal, and nothing may ever be stored.
func FuzzReceiver(f *testing.F) {
	event := fixture(f, "payment_intent.succeeded.json")
	now := time.Now()
	// Signed with the right secret, but at instants that stay outside the
	// tolerance whenever the corpus is replayed.
	f.Add(event, sign(event, secret, time.Unix(1709251200, 0)))
	f.Add(event, sign(event, secret, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)))
	f.Add(event, sign(event, otherSecret, now))
	f.Add(event, sign(event, otherSecret, now)+",v1=00,v0=ff,t=1")
	f.Add(fixture(f, "charge.refunded.json"), sign(event, secret, now.Add(-time.Hour)))
	f.Add([]byte(`{"id":"evt_1","object":"event","type":"x","data":{"object":{}}}`), "t=1,v1=00")
	f.Add([]byte(""), "")
	f.Add([]byte("{}"), "t=,v1=")
	f.Add([]byte("null"), "t=99999999999999999999,v1=zz")

	// One database and handler for the whole run; a fresh one per input
	// would make the fuzzer measure CREATE DATABASE.
	store, db := testenv.Store(f)
	enq := &recordingEnqueuer{}
	h := webhooks.New(webhooks.Config{Secrets: []string{secret, otherSecret + "_unused"}, MaxBody: 64 << 10}, store, enq, zap.NewNop())
	f.Cleanup(h.Close)

	f.Fuzz(func(t *testing.T, body []byte, header string) {
		w := post(h, body, header)
		if w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d for an unsigned request, want 400 or 413; body %s", w.Code, w.Body)
		}
		if s := h.Stats(); s.New+s.Duplicate+s.StoreErrors != 0 {
			t.Fatalf("an unsigned request reached the store: %+v", s)
		}
		if n := countEvents(t, db); n != 0 {
			t.Fatalf("%d events stored from unsigned requests", n)
		}
	})
}
