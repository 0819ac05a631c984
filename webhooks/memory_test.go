package webhooks_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/webhooks"
)

// TestBodyMemoryFollowsBytesReceived sends what took the service from 39 MB
// to a gigabyte: requests that claim a 1 MiB body, carry a dummy signature
// and send one byte. Before the signature is checked anyone can send these,
// so what each one costs must follow the bytes that arrived, not the
// Content-Length the client claims.
func TestBodyMemoryFollowsBytesReceived(t *testing.T) {
	store, _ := testenv.Store(t)
	h := webhooks.New(webhooks.Config{Secrets: []string{secret}}, store, &recordingEnqueuer{}, zap.NewNop())
	t.Cleanup(h.Close)

	claimOneMiB := func(body string, header string) int {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(body))
		r.ContentLength = 1 << 20 // what the client claims; body is what it sends
		r.Header.Set("Stripe-Signature", header)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}

	t.Run("a request claiming 1 MiB and sending one byte allocates about that byte", func(t *testing.T) {
		if code := claimOneMiB("x", "t=1,v1=00"); code != http.StatusBadRequest { // warm up
			t.Fatalf("status %d, want 400", code)
		}
		const requests = 64
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range requests {
			claimOneMiB("x", "t=1,v1=00")
		}
		runtime.ReadMemStats(&after)
		perRequest := (after.TotalAlloc - before.TotalAlloc) / requests
		t.Logf("%d bytes allocated per request", perRequest)
		// The old handler sized its buffer from Content-Length: 1 MiB each.
		if perRequest > 64<<10 {
			t.Fatalf("%d bytes allocated per request claiming 1 MiB and sending 1 byte, want under 64 KiB", perRequest)
		}
	})

	t.Run("a real event whose request claims more than it sends is still read whole", func(t *testing.T) {
		event := fixture(t, "payment_intent.succeeded.json")
		if code := claimOneMiB(string(event), sign(event, secret, time.Now())); code != http.StatusOK {
			t.Fatalf("status %d, want 200", code)
		}
	})
}
