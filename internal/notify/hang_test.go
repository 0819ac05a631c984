package notify_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/notify"
)

// TestHangingReceiverAttemptIsRecorded delivers to a receiver that accepts
// and never answers. The attempt ends at the request timeout (10 s) and is
// recorded as a failed attempt with its error and the next attempt's time,
// like any other failure: the bookkeeping after a request does not share
// the request's deadline.
func TestHangingReceiverAttemptIsRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // first: lets the server close
	ep, _ := e.endpoint(t, srv.URL)
	_, err := e.recordPayment(t, 1000)
	noErr(t, err)
	d := e.onlyDelivery(t, ep.ID)

	res, err := e.deliverer(t, notify.DelivererConfig{}).Deliver(t.Context(), d.ID)
	if err != nil {
		t.Fatalf("Deliver: %v, want the failed attempt recorded and a retry planned", err)
	}
	if !res.Retry || res.Delivered {
		t.Fatalf("Deliver = %+v, want a retry", res)
	}
	got := e.onlyDelivery(t, ep.ID)
	timedOut := strings.Contains(got.LastError, "timeout") || strings.Contains(got.LastError, "deadline")
	if got.Attempts != 1 || got.Status != "pending" || !timedOut {
		t.Fatalf("delivery %+v, want 1 attempt, pending, with the timeout as its error", got)
	}
	if wait := time.Until(res.NextAt); wait < time.Second {
		t.Fatalf("next attempt in %v, want a backoff", wait)
	}
}
