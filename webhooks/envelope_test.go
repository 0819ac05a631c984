package webhooks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/webhooks"
)

// TestSignedEventWithBadEnvelopeIsRefusedAlone posts, at once so that they
// share a group commit, good events and signed events whose id or type
// PostgreSQL cannot store (a NUL, invalid UTF-8, an id too long for its
// index, a creation time out of range). Each bad one is refused alone with
// 400; the good ones of the same batch are stored and answered 200.
func TestSignedEventWithBadEnvelopeIsRefusedAlone(t *testing.T) {
	event := func(id, typ string, created int64) []byte {
		b, err := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "created": created,
			"data": map[string]any{"object": map[string]any{"id": "cus_1"}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	now := time.Now().Unix()
	bad := map[string][]byte{
		"a NUL in the id":             event("evt_bad\x00id", "customer.created", now),
		"a NUL in the type":           event("evt_bad_type", "customer.\x00created", now),
		"invalid UTF-8 in the id":     []byte(`{"id":"evt_bad_` + "\xff" + `","object":"event","type":"customer.created","created":1,"data":{"object":{}}}`),
		"an id of 3000 characters":    event("evt_"+strings.Repeat("x", 3000), "customer.created", now),
		"a type of 3000 characters":   event("evt_long_type", strings.Repeat("t", 3000), now),
		"a creation time past 9999":   event("evt_far_future", "customer.created", 1<<50),
		"a creation time before 1970": event("evt_before_epoch", "customer.created", -1<<50),
	}
	store, db := testenv.Store(t)
	h := newHandler(t, webhooks.Config{BatchWait: 200 * time.Millisecond}, store, &recordingEnqueuer{})

	var wg sync.WaitGroup
	codes := map[string]int{}
	var mu sync.Mutex
	postAs := func(name string, payload []byte) {
		wg.Go(func() {
			w := post(h, payload, sign(payload, secret, time.Now()))
			mu.Lock()
			codes[name] = w.Code
			mu.Unlock()
			if w.Code == http.StatusBadRequest {
				assertError(t, w, http.StatusBadRequest, webhooks.CodeNotAnEvent, "")
			}
		})
	}
	const good = 8
	for i := range good {
		postAs(fmt.Sprintf("good event %d", i), event(fmt.Sprintf("evt_good_%d", i), "customer.created", now))
	}
	for name, payload := range bad {
		postAs(name, payload)
	}
	wg.Wait()
	h.Close()

	for name, code := range codes {
		want := http.StatusOK
		if _, isBad := bad[name]; isBad {
			want = http.StatusBadRequest
		}
		if code != want {
			t.Errorf("%s: status %d, want %d", name, code, want)
		}
	}
	if n := countEvents(t, db); n != good {
		t.Errorf("%d events stored, want the %d good ones", n, good)
	}
}
