package admin_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/internal/notify"
)

// TestBadBytesInParameters sends a NUL or invalid UTF-8 in every path
// parameter and filter, reads and writes alike. PostgreSQL refuses both in
// text, so each must be refused before any SQL: a 400 (or 404), the
// contract's JSON error, no job, and nothing logged as an error.
func TestBadBytesInParameters(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.WarnLevel)
	h := newHarness(t, func(c *admin.Config) { c.Log = zap.New(core) })
	h.api.MountNotifications(notify.NewStore(h.pool))
	inv := h.createInvoice("inv_bytes", 10000, true)

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/admin/invoices/%00", ""},
		{"GET", "/admin/invoices/%ff", ""},
		{"GET", "/admin/invoices/inv%00x", ""},
		{"GET", "/admin/invoices?client=%ff", ""},
		{"GET", "/admin/invoices?client=%00", ""},
		{"GET", "/admin/invoices?state=%00", ""},
		{"GET", "/admin/invoices?cursor=%ff", ""},
		{"GET", "/admin/invoices?%ff=1", ""},
		{"GET", "/admin/jobs/%00", ""},
		{"GET", "/admin/jobs/%ff", ""},
		{"GET", "/admin/events?status=%ff", ""},
		{"GET", "/admin/reports/summary?from=%00", ""},
		{"GET", "/admin/reconcile/runs?limit=%ff", ""},
		{"POST", "/admin/invoices/%00/send", ""},
		{"DELETE", "/admin/invoices/%ff", ""},
		{"POST", "/admin/invoices/%00/payments", `{"amount": 100}`},
		{"POST", "/admin/invoices/%ff/payments", `{"amount": 100}`},
		{"DELETE", "/admin/invoices/" + inv.ID + "/payments/%00", ""},
		{"DELETE", "/admin/invoices/%ff/payments/pay_1", ""},
		{"POST", "/admin/invoices/%00/write-off", `{"notes": "n"}`},
		{"POST", "/admin/invoices/%ff/reopen", ""},
		{"POST", "/admin/reconcile?full=%00", ""},
		{"DELETE", "/admin/endpoints/%00", ""},
		{"GET", "/admin/endpoints/%ff/deliveries", ""},
		{"GET", "/admin/endpoints/ep_1/deliveries?status=%00", ""},
		{"POST", "/admin/deliveries/%00/resend", ""},
	} {
		t.Run(c.method+" "+c.path+" is refused before any SQL", func(t *testing.T) {
			h := h.in(t)
			jobs := h.jobRows()
			logged := logs.Len()
			var body any
			if c.body != "" {
				body = c.body
			}
			r := h.do(c.method, c.path, body, "Idempotency-Key", "bad-bytes "+c.method+" "+c.path)
			if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
				t.Fatalf("status %d, want 400 or 404: %s", r.status, r.body)
			}
			var e apiError
			if json.Unmarshal(r.body, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("not the contract's JSON error: %s", r.body)
			}
			if h.jobRows() != jobs {
				t.Fatal("a job was queued")
			}
			for _, entry := range logs.All()[logged:] {
				t.Errorf("logged at %s: %s %v", entry.Level, entry.Message, entry.ContextMap())
			}
		})
	}
}
