package ui_test

import (
	"net/http"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/payrecon/reconciler/admin/ui"
)

// TestConsoleBadBytesInParameters opens console pages whose path or query
// holds a NUL or invalid UTF-8: each is refused before any SQL, with a page
// saying so, and nothing is logged as an error.
func TestConsoleBadBytesInParameters(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.WarnLevel)
	h := newHarness(t, func(c *ui.Config) { c.Log = zap.New(core) })
	b := h.loggedIn(t)
	for _, path := range []string{
		"/admin/ui/invoices/%00",
		"/admin/ui/invoices/%ff",
		"/admin/ui/invoices/inv_1?job=%00",
		"/admin/ui/invoices?client=%ff",
		"/admin/ui/invoices/%00/payments/pay_1/delete",
		"/admin/ui/invoices/inv_1/payments/%ff/delete",
	} {
		t.Run(path+" is refused", func(t *testing.T) {
			logged := logs.Len()
			if p := b.get(path); p.status != http.StatusBadRequest && p.status != http.StatusNotFound {
				t.Fatalf("status %d, want 400 or 404:\n%s", p.status, p.body)
			}
			for _, e := range logs.All()[logged:] {
				t.Errorf("logged at %s: %s %v", e.Level, e.Message, e.ContextMap())
			}
		})
	}
}
