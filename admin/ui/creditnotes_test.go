package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/payrecon/reconciler/reconcile"
)

func TestCreditNotes(t *testing.T) {
	h := newHarness(t)
	b := h.loggedIn(t)
	h.createInvoice(t, "inv_cn", 10000, true)
	action := "/admin/ui/invoices/inv_cn/credit-notes"

	t.Run("a credit note typed in major units queues a job; the page shows it, credited and the balance", func(t *testing.T) {
		res := b.get("/admin/ui/invoices/inv_cn").must(t, http.StatusOK)
		res.mustContain(t, "Issue credit note", "Still due: $100.00", `<option value="discount">Discount</option>`, "No credit notes.")
		loc := b.submit("/admin/ui/invoices/inv_cn", action, url.Values{
			"amount": {"25.00"}, "reason": {"discount"}, "notes": {"loyal client"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_cn?job=")
		job := jobOf(t, loc)
		h.waitJob(t, job, reconcile.JobSucceeded)
		d := h.invoice(t, "inv_cn")
		if d.CreditedAmount != 2500 || d.Balance != 7500 || d.State != reconcile.StateOpen || len(d.CreditNotes) != 1 {
			t.Fatalf("invoice %+v, credit notes %+v", d.Invoice, d.CreditNotes)
		}
		cn := d.CreditNotes[0]
		if cn.Amount != 2500 || cn.Reason != "discount" || cn.Notes != "loyal client" || cn.Actor != "admin" {
			t.Fatalf("credit note %+v", cn)
		}
		res = b.get(loc).must(t, http.StatusOK)
		res.mustContain(t, "Credit note — Job "+job, "succeeded", "Balance now $75.00", `<dd id="credited">$25.00</dd>`,
			"loyal client", "credit noted", "discount: loyal client",
			`href="/admin/ui/invoices/inv_cn/credit-notes/`+cn.ID+`/reverse"`, "Reverse credit note of $25.00")
	})

	refusals := []struct {
		name, invoice string
		sent          bool
		values        url.Values
		status        int
		message       string
	}{
		{"a credit note above the balance is refused with 422 and the most that can be credited", "inv_cn_over", true,
			url.Values{"amount": {"100.01"}, "reason": {"adjustment"}}, http.StatusUnprocessableEntity, "more than the $100.00 still due"},
		{"an amount with too many decimals is refused with 400", "inv_cn_dec", true,
			url.Values{"amount": {"1.005"}, "reason": {"adjustment"}}, http.StatusBadRequest, "too many decimals"},
		{"a missing amount is refused with 400", "inv_cn_empty", true,
			url.Values{"amount": {""}, "reason": {"adjustment"}}, http.StatusBadRequest, "Enter the amount to credit"},
		{"an unknown reason is refused with 400", "inv_cn_reason", true,
			url.Values{"amount": {"1.00"}, "reason": {"goodwill"}}, http.StatusBadRequest, "reason must be one of"},
		{"a credit note on a draft is refused with 409", "inv_cn_draft", false,
			url.Values{"amount": {"1.00"}, "reason": {"other"}}, http.StatusConflict, "send it before issuing a credit note"},
	}
	for _, c := range refusals {
		t.Run(c.name+", in the page, with nothing changed", func(t *testing.T) {
			h.createInvoice(t, c.invoice, 10000, c.sent)
			form := b.get("/admin/ui/invoices/inv_cn").form(t, action) // any page's token
			for k, v := range c.values {
				form[k] = v
			}
			h.unchanged(t, c.invoice, func() {
				res := b.post("/admin/ui/invoices/"+c.invoice+"/credit-notes", form).must(t, c.status)
				res.mustContain(t, c.message, "Nothing was changed", "Invoice F-"+c.invoice)
				if c.sent && c.values.Get("amount") != "" {
					res.mustContain(t, `value="`+c.values.Get("amount")+`"`) // what was typed is kept
				}
			})
		})
	}

	t.Run("a draft offers no credit note", func(t *testing.T) {
		b.get("/admin/ui/invoices/inv_cn_draft").must(t, http.StatusOK).mustNotContain(t, "Issue credit note")
	})

	t.Run("a credit note without the CSRF token is refused with 403 and changes nothing", func(t *testing.T) {
		h.unchanged(t, "inv_cn", func() {
			b.post(action, url.Values{"amount": {"1.00"}, "reason": {"other"}}).must(t, http.StatusForbidden)
		})
	})

	cn := h.invoice(t, "inv_cn").CreditNotes[0]
	confirm := "/admin/ui/invoices/inv_cn/credit-notes/" + cn.ID + "/reverse"

	t.Run("a credit note's Reverse leads to a confirmation page that changes nothing", func(t *testing.T) {
		h.unchanged(t, "inv_cn", func() {
			res := b.get(confirm).must(t, http.StatusOK)
			res.mustContain(t, "Reverse credit note of $25.00?", "discount", "loyal client", "Confirm", "Cancel")
			if !res.hasForm(confirm) {
				t.Fatal("no confirmation form")
			}
		})
	})

	t.Run("confirming reverses the credit note through a job", func(t *testing.T) {
		loc := b.submit(confirm, confirm, nil).mustRedirect(t, "/admin/ui/invoices/inv_cn?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		d := h.invoice(t, "inv_cn")
		if d.CreditedAmount != 0 || d.Balance != 10000 || len(d.CreditNotes) != 0 {
			t.Fatalf("invoice %+v, credit notes %+v", d.Invoice, d.CreditNotes)
		}
		b.get(loc).must(t, http.StatusOK).mustContain(t, "Reverse credit note — Job", "succeeded", "Balance now $100.00",
			"credit note reversed", "No credit notes.")
	})

	t.Run("a reversed credit note's confirmation page is a 404", func(t *testing.T) {
		b.get(confirm).must(t, http.StatusNotFound).mustContain(t, cn.ID)
	})

	t.Run("while a write-off is live a credit note has no Reverse, and reversing is refused with 409", func(t *testing.T) {
		h.createInvoice(t, "inv_cn_wo", 10000, true)
		loc := b.submit("/admin/ui/invoices/inv_cn_wo", "/admin/ui/invoices/inv_cn_wo/credit-notes",
			url.Values{"amount": {"30.00"}, "reason": {"adjustment"}}).mustRedirect(t, "/admin/ui/invoices/inv_cn_wo?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		loc = b.submit("/admin/ui/invoices/inv_cn_wo/write-off", "/admin/ui/invoices/inv_cn_wo/write-off", nil).
			mustRedirect(t, "/admin/ui/invoices/inv_cn_wo?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		d := h.invoice(t, "inv_cn_wo")
		if d.CreditedAmount != 3000 || d.WrittenOffAmount != 7000 || d.State != reconcile.StateWrittenOff {
			t.Fatalf("invoice %+v", d.Invoice)
		}
		path := "/admin/ui/invoices/inv_cn_wo/credit-notes/" + d.CreditNotes[0].ID + "/reverse"
		res := b.get("/admin/ui/invoices/inv_cn_wo").must(t, http.StatusOK)
		res.mustNotContain(t, path, "Issue credit note")
		res.mustContain(t, `<dd id="credited">$30.00</dd>`, `<dd id="written-off">$70.00</dd>`)
		res = b.get(path).must(t, http.StatusConflict).mustContain(t, "reopen it before reversing a credit note")
		if res.hasForm(path) {
			t.Fatal("the confirmation of a refused reversal has a Confirm form")
		}
		csrf := b.get("/admin/ui/invoices/inv_cn_wo").form(t, "/admin/ui/invoices/inv_cn_wo/reopen").Get("csrf")
		h.unchanged(t, "inv_cn_wo", func() {
			b.post(path, url.Values{"csrf": {csrf}}).must(t, http.StatusConflict).mustContain(t, "Nothing was changed")
		})
	})
}

// TestDeleteOffersFollowTheRules: the console offers deleting only what the
// ledger deletes: no X on a Stripe payment, and none while a write-off is
// live, even on an invoice that reads paid.
func TestDeleteOffersFollowTheRules(t *testing.T) {
	h := newHarness(t)
	b := h.loggedIn(t)
	ctx := context.Background()

	t.Run("a Stripe payment has no X, and its confirmation page says to refund it in Stripe", func(t *testing.T) {
		h.createInvoice(t, "inv_stripe", 10000, true)
		if _, err := h.store.RecordOnlinePayment(ctx, "", reconcile.OnlinePayment{ProviderRef: "pi_ui", InvoiceID: "inv_stripe",
			Amount: 4000, Currency: "usd", PaidDate: reconcile.DateOf(h.now)}); err != nil {
			t.Fatal(err)
		}
		loc := b.submit("/admin/ui/invoices/inv_stripe", "/admin/ui/invoices/inv_stripe/payments", url.Values{"amount": {"10.00"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_stripe?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		var stripePay, manualPay reconcile.Payment
		for _, p := range h.invoice(t, "inv_stripe").Payments {
			if p.Source == reconcile.SourceStripe {
				stripePay = p
			} else {
				manualPay = p
			}
		}
		stripePath := "/admin/ui/invoices/inv_stripe/payments/" + stripePay.ID + "/delete"
		res := b.get("/admin/ui/invoices/inv_stripe").must(t, http.StatusOK)
		res.mustNotContain(t, stripePath)
		res.mustContain(t, "/admin/ui/invoices/inv_stripe/payments/"+manualPay.ID+"/delete")
		res = b.get(stripePath).must(t, http.StatusConflict).mustContain(t, "refund it in Stripe")
		if res.hasForm(stripePath) {
			t.Fatal("the confirmation of a refused deletion has a Confirm form")
		}
	})

	t.Run("a paid invoice whose write-off is live offers no X and offers Reopen", func(t *testing.T) {
		h.createInvoice(t, "inv_recovered", 1000, true)
		loc := b.submit("/admin/ui/invoices/inv_recovered", "/admin/ui/invoices/inv_recovered/payments", url.Values{"amount": {"3.00"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_recovered?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		loc = b.submit("/admin/ui/invoices/inv_recovered/write-off", "/admin/ui/invoices/inv_recovered/write-off", nil).
			mustRedirect(t, "/admin/ui/invoices/inv_recovered?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		if _, err := h.store.RecordOnlinePayment(ctx, "", reconcile.OnlinePayment{ProviderRef: "pi_ui_recover", InvoiceID: "inv_recovered",
			Amount: 700, Currency: "usd", PaidDate: reconcile.DateOf(h.now)}); err != nil {
			t.Fatal(err)
		}
		d := h.invoice(t, "inv_recovered")
		if d.State != reconcile.StatePaid {
			t.Fatalf("invoice %+v", d.Invoice)
		}
		res := b.get("/admin/ui/invoices/inv_recovered").must(t, http.StatusOK)
		res.mustNotContain(t, "/delete")
		if !res.hasForm("/admin/ui/invoices/inv_recovered/reopen") {
			t.Fatal("no Reopen on a paid invoice whose write-off is live")
		}
	})
}
