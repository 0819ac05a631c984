package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v76/webhook"
	"go.uber.org/zap/zaptest"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/webhooks"
)

const (
	secret      = "whsec_test_current"
	otherSecret = "whsec_test_someone_else"
)

// fixture reads a real Stripe event body of the decoder's testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "stripe", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withID returns the event body with another event id, a distinct event.
func withID(t testing.TB, payload []byte, id string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	ev["id"] = id
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign makes the Stripe-Signature header Stripe would send at time at.
func sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

// post sends payload to h as Stripe would, with header as Stripe-Signature
// unless it is empty.
func post(h http.Handler, payload []byte, header string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(payload))
	r.Header.Set("Content-Type", "application/json")
	if header != "" {
		r.Header.Set("Stripe-Signature", header)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// newHandler makes a handler closed when the test ends, logging to the
// test; Secrets default to the one test secret.
func newHandler(t testing.TB, cfg webhooks.Config, store *reconcile.Store, enq webhooks.Enqueuer) *webhooks.Handler {
	t.Helper()
	if cfg.Secrets == nil {
		cfg.Secrets = []string{secret}
	}
	h := webhooks.New(cfg, store, enq, zaptest.NewLogger(t))
	t.Cleanup(h.Close)
	return h
}

// assertReceived checks the one success answer.
func assertReceived(t testing.TB, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body struct {
		Received bool `json:"received"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !body.Received {
		t.Errorf("body %s, want {\"received\": true}", w.Body)
	}
}

// assertError checks a JSON error answer; message, when set, must be part
// of the answer's message.
func assertError(t testing.TB, w *httptest.ResponseRecorder, status int, code, message string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %s is not a JSON error: %v", w.Body, err)
	}
	if body.Error.Code != code {
		t.Errorf("code %q, want %q", body.Error.Code, code)
	}
	if !strings.Contains(body.Error.Message, message) || body.Error.Message == "" {
		t.Errorf("message %q, want it to say %q", body.Error.Message, message)
	}
}

// countEvents counts the stored events.
func countEvents(t testing.TB, db *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// recordingEnqueuer records every EnqueueEvents call, and fails them all
// with err when it is set.
type recordingEnqueuer struct {
	mu    sync.Mutex
	calls [][]string
	err   error
}

func (r *recordingEnqueuer) EnqueueEvents(_ context.Context, ids []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, append([]string(nil), ids...))
	return r.err
}

// enqueued counts how many times each id was enqueued.
func (r *recordingEnqueuer) enqueued() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[string]int{}
	for _, call := range r.calls {
		for _, id := range call {
			n[id]++
		}
	}
	return n
}
