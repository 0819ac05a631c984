package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/payrecon/reconciler/reconcile"
)

func TestCSRF(t *testing.T) {
	h := newHarness(t)
	h.createInvoice(t, "inv_csrf", 10000, true)
	h.createInvoice(t, "inv_draft", 10000, false)
	wo := h.createInvoice(t, "inv_wo", 10000, true)
	b := h.loggedIn(t)
	// A payment to delete, and a written-off invoice to reopen.
	loc := b.submit("/admin/ui/invoices/inv_csrf", "/admin/ui/invoices/inv_csrf/payments", url.Values{"amount": {"10.00"}}).
		mustRedirect(t, "/admin/ui/invoices/inv_csrf?job=")
	h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
	pay := h.invoice(t, "inv_csrf").Payments[0]
	loc = b.submit("/admin/ui/invoices/inv_wo/write-off", "/admin/ui/invoices/inv_wo/write-off", nil).mustRedirect(t, "/admin/ui/invoices/inv_wo?job=")
	h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)

	forms := []struct {
		invoice, page, action string
		values                url.Values
	}{
		{"inv_csrf", "/admin/ui/invoices/inv_csrf", "/admin/ui/invoices/inv_csrf/payments", url.Values{"amount": {"5.00"}}},
		{"inv_csrf", "/admin/ui/invoices/inv_csrf/payments/" + pay.ID + "/delete", "/admin/ui/invoices/inv_csrf/payments/" + pay.ID + "/delete", nil},
		{"inv_csrf", "/admin/ui/invoices/inv_csrf/write-off", "/admin/ui/invoices/inv_csrf/write-off", url.Values{"notes": {"gone"}}},
		{wo.ID, "/admin/ui/invoices/inv_wo", "/admin/ui/invoices/inv_wo/reopen", nil},
		{"inv_draft", "/admin/ui/invoices/inv_draft", "/admin/ui/invoices/inv_draft/send", nil},
	}
	for _, f := range forms {
		form := b.get(f.page).must(t, http.StatusOK).form(t, f.action)
		for k, v := range f.values {
			form[k] = v
		}
		otherCSRF := h.loggedIn(t).get(f.page).form(t, f.action).Get("csrf")
		cases := []struct {
			name    string
			change  func(url.Values) url.Values
			headers []string
		}{
			{"without the CSRF token", func(v url.Values) url.Values { v.Del("csrf"); return v }, nil},
			{"with a wrong CSRF token", func(v url.Values) url.Values { v.Set("csrf", "AAAA"+v.Get("csrf")[4:]); return v }, nil},
			{"with another session's CSRF token", func(v url.Values) url.Values { v.Set("csrf", otherCSRF); return v }, nil},
			{"from another origin", func(v url.Values) url.Values { return v }, []string{"Origin", "https://evil.example"}},
			{"with a referer from another site", func(v url.Values) url.Values { return v }, []string{"Referer", "https://evil.example/page"}},
			{"marked cross-site by the browser", func(v url.Values) url.Values { return v }, []string{"Sec-Fetch-Site", "cross-site"}},
		}
		for _, c := range cases {
			t.Run(f.action+" "+c.name+" is refused with 403 and changes nothing", func(t *testing.T) {
				h.unchanged(t, f.invoice, func() {
					v := url.Values{}
					for k, vs := range form {
						v[k] = append([]string(nil), vs...)
					}
					b.post(f.action, c.change(v), c.headers...).must(t, http.StatusForbidden).mustContain(t, "Nothing was changed")
				})
			})
		}
		t.Run(f.action+" without a session sends the operator to log in and changes nothing", func(t *testing.T) {
			h.unchanged(t, f.invoice, func() {
				h.browser(t).post(f.action, form).mustRedirect(t, "/admin/ui/login")
			})
		})
	}
}

func TestRecordPayment(t *testing.T) {
	h := newHarness(t)
	b := h.loggedIn(t)

	t.Run("a partial payment queues a job, and the page then shows the remaining balance", func(t *testing.T) {
		h.createInvoice(t, "inv_part", 10000, true)
		loc := b.submit("/admin/ui/invoices/inv_part", "/admin/ui/invoices/inv_part/payments", url.Values{
			"amount": {"40.00"}, "paid_date": {"2026-03-02"}, "method": {"bank_transfer"}, "notes": {"wire 123"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_part?job=")
		job := jobOf(t, loc)
		h.waitJob(t, job, reconcile.JobSucceeded)
		res := b.get(loc).must(t, http.StatusOK)
		res.mustContain(t, "Job "+job+": succeeded", "Balance now $60.00", "$40.00", "2026-03-02", "wire 123",
			"Bank transfer", "Unpaid: $60.00")
		res.mustNotContain(t, `http-equiv="refresh"`)
		d := h.invoice(t, "inv_part")
		if d.PaidAmount != 4000 || d.Balance != 6000 || d.State != reconcile.StatePartial {
			t.Fatalf("invoice %+v", d.Invoice)
		}
		if p := d.Payments[0]; p.Amount != 4000 || p.PaidDate.String() != "2026-03-02" || p.Method == nil || *p.Method != "bank_transfer" || p.Notes != "wire 123" {
			t.Fatalf("payment %+v", p)
		}
	})

	t.Run("the date defaults to today", func(t *testing.T) {
		h.createInvoice(t, "inv_today", 10000, true)
		form := b.get("/admin/ui/invoices/inv_today").form(t, "/admin/ui/invoices/inv_today/payments")
		form.Set("amount", "1")
		loc := b.post("/admin/ui/invoices/inv_today/payments", form).mustRedirect(t, "/admin/ui/invoices/inv_today?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		if got, want := h.invoice(t, "inv_today").Payments[0].PaidDate, reconcile.DateOf(h.now); got != want {
			t.Fatalf("paid on %s, want %s", got, want)
		}
	})

	t.Run("an unfinished job's page reloads itself", func(t *testing.T) {
		h.createInvoice(t, "inv_queued", 10000, true)
		job, _, err := h.store.CreateJob(context.Background(), reconcile.NewJob{Actor: "tester", Type: reconcile.JobWriteOff, InvoiceID: "inv_queued",
			Payload: map[string]string{"invoice_id": "inv_queued"}})
		if err != nil {
			t.Fatal(err)
		}
		res := b.get("/admin/ui/invoices/inv_queued?job="+job.ID).must(t, http.StatusOK)
		res.mustContain(t, `<meta http-equiv="refresh" content="1">`, "Job "+job.ID+": queued")
	})

	t.Run("posting the same form twice queues one job", func(t *testing.T) {
		h.createInvoice(t, "inv_twice", 10000, true)
		form := b.get("/admin/ui/invoices/inv_twice").form(t, "/admin/ui/invoices/inv_twice/payments")
		form.Set("amount", "25.00")
		first := jobOf(t, b.post("/admin/ui/invoices/inv_twice/payments", form).mustRedirect(t, "/admin/ui/invoices/inv_twice?job="))
		second := jobOf(t, b.post("/admin/ui/invoices/inv_twice/payments", form).mustRedirect(t, "/admin/ui/invoices/inv_twice?job="))
		if first != second {
			t.Fatalf("jobs %s and %s", first, second)
		}
		h.waitJob(t, first, reconcile.JobSucceeded)
		if d := h.invoice(t, "inv_twice"); len(d.Payments) != 1 || d.PaidAmount != 2500 {
			t.Fatalf("invoice %+v with %d payments", d.Invoice, len(d.Payments))
		}
		form.Set("amount", "30.00") // the back button, another amount, the same form
		h.unchanged(t, "inv_twice", func() {
			b.post("/admin/ui/invoices/inv_twice/payments", form).must(t, http.StatusUnprocessableEntity).
				mustContain(t, "This form was already used for another request", "Nothing was changed")
		})
	})

	refusals := []struct {
		name, invoice string
		sent          bool
		values        url.Values
		status        int
		message       string
	}{
		{"an overpayment is refused with 422 and the most that can be recorded", "inv_over", true,
			url.Values{"amount": {"100.01"}}, http.StatusUnprocessableEntity, "more than the $100.00 still unpaid"},
		{"an amount with too many decimals is refused with 400", "inv_dec", true,
			url.Values{"amount": {"1.005"}}, http.StatusBadRequest, "too many decimals"},
		{"an amount that is not a number is refused with 400", "inv_nan", true,
			url.Values{"amount": {"forty"}}, http.StatusBadRequest, "not a number"},
		{"a missing amount is refused with 400", "inv_empty", true,
			url.Values{"amount": {""}}, http.StatusBadRequest, "Enter the amount"},
		{"a zero amount is refused with 400", "inv_zero", true,
			url.Values{"amount": {"0.00"}}, http.StatusBadRequest, "must be positive"},
		{"a bad date is refused with 400", "inv_date", true,
			url.Values{"amount": {"1.00"}, "paid_date": {"02/03/2026"}}, http.StatusBadRequest, "YYYY-MM-DD"},
		{"an unknown method is refused with 400", "inv_method", true,
			url.Values{"amount": {"1.00"}, "method": {"bitcoin"}}, http.StatusBadRequest, "method must be"},
		{"notes over 2000 characters are refused with 400", "inv_notes", true,
			url.Values{"amount": {"1.00"}, "notes": {strings.Repeat("n", 2001)}}, http.StatusBadRequest, "notes must be at most"},
		{"a payment on a draft is refused with 409", "inv_unsent", false,
			url.Values{"amount": {"1.00"}}, http.StatusConflict, "send it before recording a payment"},
	}
	for _, c := range refusals {
		t.Run(c.name+", in the page, with nothing changed", func(t *testing.T) {
			h.createInvoice(t, c.invoice, 10000, c.sent)
			path := "/admin/ui/invoices/" + c.invoice
			form := b.get("/admin/ui/invoices/inv_part").form(t, "/admin/ui/invoices/inv_part/payments") // any page's token
			for k, v := range c.values {
				form[k] = v
			}
			h.unchanged(t, c.invoice, func() {
				res := b.post(path+"/payments", form).must(t, c.status)
				res.mustContain(t, c.message, "Nothing was changed", "Invoice F-"+c.invoice)
				if c.sent && c.values.Get("amount") != "" {
					res.mustContain(t, `value="`+c.values.Get("amount")+`"`) // what was typed is kept
				}
			})
		})
	}

	t.Run("a payment on an invoice that does not exist is a 404 page", func(t *testing.T) {
		form := b.get("/admin/ui/invoices/inv_part").form(t, "/admin/ui/invoices/inv_part/payments")
		form.Set("amount", "1.00")
		b.post("/admin/ui/invoices/inv_none/payments", form).must(t, http.StatusNotFound).mustContain(t, "inv_none")
	})

	t.Run("a failed job's reason is shown", func(t *testing.T) {
		h.createInvoice(t, "inv_failed", 10000, true)
		ctx := context.Background()
		job, _, err := h.store.CreateJob(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobRecordPayment, InvoiceID: "inv_failed",
			Payload: map[string]string{"invoice_id": "inv_failed"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.FinishJob(ctx, job.ID, reconcile.JobFailed, "overpayment: the balance moved", nil); err != nil {
			t.Fatal(err)
		}
		res := b.get("/admin/ui/invoices/inv_failed?job="+job.ID).must(t, http.StatusOK)
		res.mustContain(t, "Job "+job.ID+": failed: overpayment: the balance moved")
		res.mustNotContain(t, `http-equiv="refresh"`)
	})

	t.Run("a job of another invoice is not shown", func(t *testing.T) {
		h.createInvoice(t, "inv_other", 10000, true)
		loc := b.submit("/admin/ui/invoices/inv_other", "/admin/ui/invoices/inv_other/payments", url.Values{"amount": {"1.00"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_other?job=")
		b.get("/admin/ui/invoices/inv_part?job="+jobOf(t, loc)).must(t, http.StatusOK).mustContain(t, "This invoice has no job")
	})

	t.Run("a payment refused because the balance moved since the page was shown says so", func(t *testing.T) {
		h.createInvoice(t, "inv_race", 10000, true)
		form := b.get("/admin/ui/invoices/inv_race").form(t, "/admin/ui/invoices/inv_race/payments")
		// The balance moves between the page and the job: record 80.00
		// elsewhere first (the JSON API's path), then 40.00 here.
		ctx := context.Background()
		if _, _, err := h.store.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: "k1", InvoiceID: "inv_race", Amount: 8000,
			PaidDate: reconcile.DateOf(h.now)}); err != nil {
			t.Fatal(err)
		}
		form.Set("amount", "40.00")
		b.post("/admin/ui/invoices/inv_race/payments", form).must(t, http.StatusUnprocessableEntity).
			mustContain(t, "more than the $20.00 still unpaid")
	})
}

func TestDeletePayment(t *testing.T) {
	h := newHarness(t)
	b := h.loggedIn(t)
	h.createInvoice(t, "inv_del", 10000, true)
	loc := b.submit("/admin/ui/invoices/inv_del", "/admin/ui/invoices/inv_del/payments", url.Values{"amount": {"40.00"}}).
		mustRedirect(t, "/admin/ui/invoices/inv_del?job=")
	h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
	pay := h.invoice(t, "inv_del").Payments[0]
	confirm := "/admin/ui/invoices/inv_del/payments/" + pay.ID + "/delete"

	t.Run("each payment has an X that leads to a confirmation page", func(t *testing.T) {
		b.get("/admin/ui/invoices/inv_del").must(t, http.StatusOK).mustContain(t, `href="`+confirm+`"`, "Delete payment of $40.00")
		res := b.get(confirm).must(t, http.StatusOK)
		res.mustContain(t, "Delete payment of $40.00?", "Confirm", "Cancel", `href="/admin/ui/invoices/inv_del"`)
		if !res.hasForm(confirm) {
			t.Fatal("no confirmation form")
		}
	})

	t.Run("showing the confirmation changes nothing", func(t *testing.T) {
		h.unchanged(t, "inv_del", func() { b.get(confirm).must(t, http.StatusOK) })
	})

	t.Run("confirming deletes the payment through a job", func(t *testing.T) {
		loc := b.submit(confirm, confirm, nil).mustRedirect(t, "/admin/ui/invoices/inv_del?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		d := h.invoice(t, "inv_del")
		if len(d.Payments) != 0 || d.Balance != 10000 || d.State != reconcile.StateOpen {
			t.Fatalf("invoice %+v, %d payments", d.Invoice, len(d.Payments))
		}
		b.get(loc).must(t, http.StatusOK).mustContain(t, "Delete payment — Job", "succeeded", "Balance now $100.00", "payment deleted")
	})

	t.Run("a deleted payment's confirmation page is a 404", func(t *testing.T) {
		b.get(confirm).must(t, http.StatusNotFound).mustContain(t, pay.ID)
	})

	t.Run("deleting it again is refused with 404 and changes nothing", func(t *testing.T) {
		form := b.get("/admin/ui/invoices/inv_del").form(t, "/admin/ui/invoices/inv_del/payments")
		h.unchanged(t, "inv_del", func() {
			b.post(confirm, url.Values{"csrf": form["csrf"]}).must(t, http.StatusNotFound).mustContain(t, "Nothing was changed")
		})
	})

	t.Run("a payment of a written-off invoice has no X, and deleting it is refused with 409", func(t *testing.T) {
		h.createInvoice(t, "inv_delwo", 10000, true)
		loc := b.submit("/admin/ui/invoices/inv_delwo", "/admin/ui/invoices/inv_delwo/payments", url.Values{"amount": {"10.00"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_delwo?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		loc = b.submit("/admin/ui/invoices/inv_delwo/write-off", "/admin/ui/invoices/inv_delwo/write-off", nil).
			mustRedirect(t, "/admin/ui/invoices/inv_delwo?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		p := h.invoice(t, "inv_delwo").Payments[0]
		path := "/admin/ui/invoices/inv_delwo/payments/" + p.ID + "/delete"
		b.get("/admin/ui/invoices/inv_delwo").must(t, http.StatusOK).mustNotContain(t, path)
		res := b.get(path).must(t, http.StatusConflict)
		res.mustContain(t, "reopen it before deleting a payment")
		if res.hasForm(path) {
			t.Fatal("the confirmation of a refused deletion has a Confirm form")
		}
		csrf := b.get("/admin/ui/invoices/inv_delwo").form(t, "/admin/ui/invoices/inv_delwo/reopen").Get("csrf")
		h.unchanged(t, "inv_delwo", func() {
			b.post(path, url.Values{"csrf": {csrf}}).must(t, http.StatusConflict).mustContain(t, "Nothing was changed")
		})
	})
}

func TestWriteOffAndReopen(t *testing.T) {
	h := newHarness(t)
	b := h.loggedIn(t)

	t.Run("a sent invoice is written off with notes through a job", func(t *testing.T) {
		h.createInvoice(t, "inv_wo", 10000, true)
		res := b.get("/admin/ui/invoices/inv_wo").must(t, http.StatusOK)
		res.mustContain(t, "More actions", "Write Off Invoice")
		if res.hasForm("/admin/ui/invoices/inv_wo/reopen") {
			t.Fatal("an open invoice offers Reopen")
		}
		// The invoice page links to a confirmation, whose form writes off.
		res.mustContain(t, `href="/admin/ui/invoices/inv_wo/write-off"`)
		b.get("/admin/ui/invoices/inv_wo/write-off").must(t, http.StatusOK).mustContain(t, "Write off $100.00?", "Confirm write-off", "Cancel")
		h.unchanged(t, "inv_wo", func() { b.get("/admin/ui/invoices/inv_wo/write-off") })
		loc := b.submit("/admin/ui/invoices/inv_wo/write-off", "/admin/ui/invoices/inv_wo/write-off", url.Values{"notes": {"client vanished"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_wo?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		d := h.invoice(t, "inv_wo")
		if d.State != reconcile.StateWrittenOff || d.WrittenOffAmount != 10000 || d.Balance != 0 {
			t.Fatalf("invoice %+v", d.Invoice)
		}
		res = b.get(loc).must(t, http.StatusOK)
		res.mustContain(t, "Write-off — Job", "succeeded", "client vanished", "Reopen")
		res.mustNotContain(t, "Write Off Invoice")
	})

	t.Run("a written-off invoice is reopened through a job", func(t *testing.T) {
		loc := b.submit("/admin/ui/invoices/inv_wo", "/admin/ui/invoices/inv_wo/reopen", nil).
			mustRedirect(t, "/admin/ui/invoices/inv_wo?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		d := h.invoice(t, "inv_wo")
		if d.State != reconcile.StateOpen || d.WrittenOffAmount != 0 || d.Balance != 10000 {
			t.Fatalf("invoice %+v", d.Invoice)
		}
		b.get(loc).must(t, http.StatusOK).mustContain(t, "Reopen — Job", "succeeded", "Write Off Invoice")
	})

	t.Run("a draft offers no write-off, and one posted is refused with 409", func(t *testing.T) {
		h.createInvoice(t, "inv_wodraft", 10000, false)
		res := b.get("/admin/ui/invoices/inv_wodraft").must(t, http.StatusOK)
		res.mustNotContain(t, "Write Off Invoice", "Record payment")
		csrf := res.form(t, "/admin/ui/invoices/inv_wodraft/send").Get("csrf")
		h.unchanged(t, "inv_wodraft", func() {
			b.post("/admin/ui/invoices/inv_wodraft/write-off", url.Values{"csrf": {csrf}}).must(t, http.StatusConflict).
				mustContain(t, "only a sent invoice can be written off", "Nothing was changed")
			b.get("/admin/ui/invoices/inv_wodraft/write-off").must(t, http.StatusConflict).
				mustContain(t, "only a sent invoice can be written off").mustNotContain(t, "Confirm write-off")
		})
	})

	t.Run("reopening an invoice that is not written off is refused with 409", func(t *testing.T) {
		h.createInvoice(t, "inv_notwo", 10000, true)
		csrf := b.get("/admin/ui/invoices/inv_notwo").form(t, "/admin/ui/logout").Get("csrf")
		h.unchanged(t, "inv_notwo", func() {
			b.post("/admin/ui/invoices/inv_notwo/reopen", url.Values{"csrf": {csrf}}).must(t, http.StatusConflict).
				mustContain(t, "not written off", "Nothing was changed")
		})
	})

	t.Run("a paid invoice offers neither a payment nor a write-off", func(t *testing.T) {
		h.createInvoice(t, "inv_paid", 1000, true)
		loc := b.submit("/admin/ui/invoices/inv_paid", "/admin/ui/invoices/inv_paid/payments", url.Values{"amount": {"10.00"}}).
			mustRedirect(t, "/admin/ui/invoices/inv_paid?job=")
		h.waitJob(t, jobOf(t, loc), reconcile.JobSucceeded)
		b.get("/admin/ui/invoices/inv_paid").must(t, http.StatusOK).mustNotContain(t, "Write Off Invoice", "Record payment")
	})
}

func TestSend(t *testing.T) {
	h := newHarness(t)
	b := h.loggedIn(t)

	t.Run("a draft is sent at once and then takes payments", func(t *testing.T) {
		h.createInvoice(t, "inv_send", 10000, false)
		b.get("/admin/ui/invoices/inv_send").must(t, http.StatusOK).mustContain(t, "Send invoice")
		loc := b.submit("/admin/ui/invoices/inv_send", "/admin/ui/invoices/inv_send/send", nil).
			mustRedirect(t, "/admin/ui/invoices/inv_send?sent=1")
		if d := h.invoice(t, "inv_send"); d.State != reconcile.StateOpen || d.SentAt == nil {
			t.Fatalf("invoice %+v", d.Invoice)
		}
		b.get(loc).must(t, http.StatusOK).mustContain(t, "Invoice sent", "Record payment").mustNotContain(t, "Send invoice")
	})

	t.Run("sending an invoice that does not exist is a 404 page", func(t *testing.T) {
		csrf := b.get("/admin/ui/invoices/inv_send").form(t, "/admin/ui/invoices/inv_send/payments").Get("csrf")
		b.post("/admin/ui/invoices/inv_nope/send", url.Values{"csrf": {csrf}}).must(t, http.StatusNotFound).mustContain(t, "inv_nope")
	})
}
