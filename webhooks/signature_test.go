package webhooks_test

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/webhooks"
)

func TestSignature(t *testing.T) {
	event := fixture(t, "payment_intent.succeeded.json")
	tampered := bytes.Replace(event, []byte(`"amount_received": 2000`), []byte(`"amount_received": 200000`), 1)
	if bytes.Equal(tampered, event) {
		t.Fatal("the fixture changed: nothing to tamper with")
	}
	notEvent := []byte(`{"object":"customer","id":"cus_123"}`)
	now := time.Now()

	tests := []struct {
		name    string
		secrets []string
		body    []byte // posted; defaults to event
		header  string
		code    string // error code, "" for 200
		message string
	}{
		{name: "a valid signature is accepted and the event stored",
			header: sign(event, secret, now)},
		{name: "a signature made with the second secret of a rotation is accepted",
			secrets: []string{otherSecret, secret}, header: sign(event, secret, now)},
		{name: "a timestamp just inside the tolerance is accepted",
			header: sign(event, secret, now.Add(-4*time.Minute))},
		{name: "a signature made with another secret is refused",
			header: sign(event, otherSecret, now), code: webhooks.CodeInvalidSignature, message: "no matching signature"},
		{name: "a signature matching none of a rotation's secrets is refused",
			secrets: []string{secret, "whsec_test_next"}, header: sign(event, otherSecret, now),
			code: webhooks.CodeInvalidSignature, message: "no matching signature"},
		{name: "a body changed after signing is refused",
			body: tampered, header: sign(event, secret, now), code: webhooks.CodeInvalidSignature, message: "no matching signature"},
		{name: "a timestamp older than the tolerance is refused",
			header: sign(event, secret, now.Add(-301*time.Second)), code: webhooks.CodeInvalidSignature, message: "timestamp outside the tolerance"},
		// Well past the edge: the parallel subtests may start many seconds
		// after now was read, and this header only comes closer to valid.
		{name: "a timestamp further ahead than the tolerance is refused",
			header: sign(event, secret, now.Add(400*time.Second)), code: webhooks.CodeInvalidSignature, message: "timestamp outside the tolerance"},
		{name: "a request without a Stripe-Signature header is refused",
			header: "", code: webhooks.CodeInvalidSignature, message: "no Stripe-Signature header"},
		{name: "a junk header is refused",
			header: "not a signature", code: webhooks.CodeInvalidSignature, message: "malformed"},
		{name: "a header without a timestamp is refused",
			header: "v1=" + hex.EncodeToString(webhook.ComputeSignature(now, event, secret)), code: webhooks.CodeInvalidSignature, message: "malformed"},
		{name: "a header whose v1 is not hex is refused",
			header: "t=1234567890,v1=zz", code: webhooks.CodeInvalidSignature},
		{name: "a correctly signed body that is not an event is refused as not an event",
			body: notEvent, header: sign(notEvent, secret, now), code: webhooks.CodeNotAnEvent, message: "not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store, db := testenv.Store(t)
			enq := &recordingEnqueuer{}
			h := newHandler(t, webhooks.Config{Secrets: tt.secrets}, store, enq)
			body := tt.body
			if body == nil {
				body = event
			}

			w := post(h, body, tt.header)
			h.Close()

			if tt.code == "" {
				assertReceived(t, w)
				if n := countEvents(t, db); n != 1 {
					t.Errorf("%d events stored, want 1", n)
				}
				if n := enq.enqueued()["evt_3OrTestPaySucc01"]; n != 1 {
					t.Errorf("enqueued %d times, want 1", n)
				}
				return
			}
			assertError(t, w, http.StatusBadRequest, tt.code, tt.message)
			if n := countEvents(t, db); n != 0 {
				t.Errorf("%d events stored after a 400, want none", n)
			}
			if calls := enq.enqueued(); len(calls) != 0 {
				t.Errorf("enqueued %v after a 400, want nothing", calls)
			}
		})
	}
}
