package ui_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

// TestInvoicePageShowsRefundsAndDisputes: the invoice page shows what its
// Stripe payment refunded and what a dispute holds, and the history of a
// refund that failed and of the dispute.
func TestInvoicePageShowsRefundsAndDisputes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.createInvoice(t, "inv_disputed", 10000, true)
	must := func(_ reconcile.EventResult, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.store.RecordOnlinePayment(ctx, "", reconcile.OnlinePayment{ProviderRef: "pi_ui", Links: []string{"ch_ui"},
		InvoiceID: "inv_disputed", Amount: 10000, Currency: "usd", PaidDate: reconcile.DateOf(time.Now())}))
	must(h.store.ApplyRefunds(ctx, "", reconcile.RefundUpdate{Refs: []string{"ch_ui", "pi_ui"}, Refunds: []reconcile.RefundObject{
		{ID: "re_ui_1", Ref: "ch_ui", Amount: 1500, Currency: "usd", Status: reconcile.RefundSucceeded},
		{ID: "re_ui_2", Ref: "ch_ui", Amount: 500, Currency: "usd", Status: reconcile.RefundSucceeded}}}))
	must(h.store.ApplyRefunds(ctx, "", reconcile.RefundUpdate{Refs: []string{"ch_ui"}, Refunds: []reconcile.RefundObject{
		{ID: "re_ui_2", Ref: "ch_ui", Amount: 500, Currency: "usd", Status: reconcile.RefundFailed}}}))
	must(h.store.ApplyDispute(ctx, "", reconcile.Dispute{ID: "dp_ui", Ref: "ch_ui", Amount: 2500, Currency: "usd",
		Status: reconcile.DisputeNeedsResponse}))

	b := h.loggedIn(t)
	p := b.get("/admin/ui/invoices/inv_disputed").must(t, http.StatusOK)
	p.mustContain(t, `<dd id="paid">$60.00</dd>`, `<dd id="refunded">$15.00</dd>`, `<dd id="disputed">$25.00</dd>`,
		`<tr class="history-refund_failed">`, `refund failed`, `<tr class="history-dispute_opened">`, `dispute opened`)
}
