package webhooks_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/webhooks"
)

// TestRejectedWebhookIsLoggedAtWarn sends the webhook what it must refuse
// and checks that each refusal is one warn line with its reason, and that
// no line holds the body or the signature.
func TestRejectedWebhookIsLoggedAtWarn(t *testing.T) {
	t.Parallel()
	store, _ := testenv.Store(t)
	core, logs := observer.New(zapcore.DebugLevel)
	h := webhooks.New(webhooks.Config{Secrets: []string{secret}, MaxBody: 4096}, store, nil, zap.New(core))
	t.Cleanup(h.Close)

	const secretBody = "SECRET-CARD-HOLDER-NAME"
	event := []byte(`{"id":"evt_log_1","object":"event","type":"customer.created","created":1,"data":{"object":{"name":"` + secretBody + `"}}}`)
	notJSON := []byte("not json " + secretBody)
	for _, c := range []struct {
		name, code string
		payload    []byte
		header     string
		status     int
	}{
		{"a bad signature", "invalid_signature", event, sign(event, otherSecret, time.Now()), http.StatusBadRequest},
		{"a stale signature", "invalid_signature", event, sign(event, secret, time.Now().Add(-time.Hour)), http.StatusBadRequest},
		{"a body over the limit", "body_too_large", append(bytes.Repeat([]byte(" "), 5000), event...), "t=1,v1=00", http.StatusRequestEntityTooLarge},
		{"a signed body that is not JSON", "not_an_event", notJSON, sign(notJSON, secret, time.Now()), http.StatusBadRequest},
	} {
		t.Run(c.name+" is logged at warn with its reason, never its body", func(t *testing.T) {
			before := logs.Len()
			if w := post(h, c.payload, c.header); w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			entries := logs.All()[before:]
			if len(entries) != 1 {
				t.Fatalf("%d log lines, want 1: %v", len(entries), entries)
			}
			e := entries[0]
			fields := e.ContextMap()
			if e.Level != zapcore.WarnLevel || e.Message != "webhook rejected" || fields["code"] != c.code ||
				fields["reason"] == "" || fields["reason"] == nil {
				t.Fatalf("log line %s %q %v", e.Level, e.Message, fields)
			}
			line := fmt.Sprint(e.Message, fields)
			if strings.Contains(line, secretBody) || strings.Contains(line, c.header) && c.header != "" {
				t.Fatalf("the log line holds the body or the signature: %s", line)
			}
		})
	}
}
