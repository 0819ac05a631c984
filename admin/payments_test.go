package admin_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

func TestRecordPayment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv-rp", 10000, true)
	h.createInvoice("inv-draft", 10000, false)

	t.Run("a payment answers 202 with a queued job that records it", func(t *testing.T) {
		h := h.in(t)
		res := h.do("POST", "/admin/invoices/inv-rp/payments",
			`{"amount": 2500, "paid_date": "2024-05-02", "method": "check", "notes": "cheque 118"}`)
		var job reconcile.Job
		res.must(t, http.StatusAccepted, &job)
		if job.Type != reconcile.JobRecordPayment || job.InvoiceID == nil || *job.InvoiceID != "inv-rp" ||
			(job.Status != reconcile.JobQueued && job.Status != reconcile.JobRunning) {
			t.Fatalf("job %+v", job)
		}
		if loc := res.header.Get("Location"); loc != "/admin/jobs/"+job.ID {
			t.Fatalf("Location %q", loc)
		}
		done := h.waitSucceeded(job.ID)
		var result struct {
			PaymentID string `json:"payment_id"`
		}
		if err := json.Unmarshal(done.Result, &result); err != nil || result.PaymentID == "" {
			t.Fatalf("result %s: %v", done.Result, err)
		}
		d := h.mustFigures("inv-rp", figures{2500, 0, 7500, reconcile.StatePartial})
		p := d.Payments[0]
		if len(d.Payments) != 1 || p.ID != result.PaymentID || p.Amount != 2500 || p.PaidDate.String() != "2024-05-02" ||
			*p.Method != "check" || p.Notes != "cheque 118" || p.Source != reconcile.SourceManual {
			t.Fatalf("payments %+v", d.Payments)
		}
	})

	t.Run("a payment without paid_date is dated today in UTC by the API's clock", func(t *testing.T) {
		h := h.in(t)
		// 23:30 in New York on the 4th is the 5th in UTC.
		h.setNow(time.Date(2031, 7, 4, 23, 30, 0, 0, time.FixedZone("EDT", -4*3600)))
		defer h.setNow(time.Now().UTC())
		job := h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-rp/payments", `{"amount": 500}`).ID)
		var result struct {
			PaymentID string `json:"payment_id"`
		}
		_ = json.Unmarshal(job.Result, &result)
		d := h.mustFigures("inv-rp", figures{3000, 0, 7000, reconcile.StatePartial})
		for _, p := range d.Payments {
			if p.ID == result.PaymentID && (p.PaidDate.String() != "2031-07-05" || p.Method != nil) {
				t.Fatalf("payment %+v", p)
			}
		}
	})

	t.Run("a payment on an unknown invoice is 404 and queues nothing", func(t *testing.T) {
		h := h.in(t)
		jobs := h.jobRows()
		h.do("POST", "/admin/invoices/nope/payments", `{"amount": 100}`).mustError(t, http.StatusNotFound, "invoice_not_found")
		// With a key, the invoice is read in the key lookup's round trip.
		h.do("POST", "/admin/invoices/nope/payments", `{"amount": 100}`, "Idempotency-Key", "k-nope").
			mustError(t, http.StatusNotFound, "invoice_not_found")
		if h.jobRows() != jobs {
			t.Fatal("a job was stored")
		}
	})

	t.Run("a payment on a draft is 409 and changes nothing", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-draft", func() {
			h.do("POST", "/admin/invoices/inv-draft/payments", `{"amount": 100}`).mustError(t, http.StatusConflict, "invoice_not_sent")
			h.do("POST", "/admin/invoices/inv-draft/payments", `{"amount": 100}`, "Idempotency-Key", "k-draft").
				mustError(t, http.StatusConflict, "invoice_not_sent")
		})
	})

	t.Run("a payment past what is unpaid is 422 and changes nothing", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-rp", func() {
			h.do("POST", "/admin/invoices/inv-rp/payments", `{"amount": 7001}`).mustError(t, http.StatusUnprocessableEntity, "overpayment")
		})
	})

	t.Run("a payment of exactly what is unpaid makes the invoice paid", func(t *testing.T) {
		h := h.in(t)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-rp/payments", `{"amount": 7000, "method": "bank_transfer"}`).ID)
		d := h.mustFigures("inv-rp", figures{10000, 0, 0, reconcile.StatePaid})
		if d.PaidAt == nil || len(d.Payments) != 3 {
			t.Fatalf("paid invoice %+v", d)
		}
	})
}

func TestDeletePayment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv-dp", 10000, true)
	h.createInvoice("inv-other", 10000, true)
	pay := func(h *harness, id string, amount int) string {
		job := h.waitSucceeded(h.queue("POST", "/admin/invoices/"+id+"/payments", map[string]int{"amount": amount}).ID)
		var result struct {
			PaymentID string `json:"payment_id"`
		}
		if err := json.Unmarshal(job.Result, &result); err != nil {
			h.t.Fatal(err)
		}
		return result.PaymentID
	}
	first := pay(h, "inv-dp", 3000)
	second := pay(h, "inv-dp", 2000)
	other := pay(h, "inv-other", 1000)

	t.Run("deleting a payment answers 202 and the job takes it off the invoice", func(t *testing.T) {
		h := h.in(t)
		job := h.queue("DELETE", "/admin/invoices/inv-dp/payments/"+first, nil)
		if job.Type != reconcile.JobDeletePayment {
			t.Fatalf("job %+v", job)
		}
		h.waitSucceeded(job.ID)
		d := h.mustFigures("inv-dp", figures{2000, 0, 8000, reconcile.StatePartial})
		if len(d.Payments) != 1 || d.Payments[0].ID != second {
			t.Fatalf("payments %+v", d.Payments)
		}
		last := d.History[len(d.History)-1]
		if last.Kind != reconcile.HistoryPaymentDeleted || *last.Amount != 3000 || *last.PaymentID != first {
			t.Fatalf("history %+v", last)
		}
	})

	for _, c := range []struct {
		name, invoice, payment string
		status                 int
		code                   string
	}{
		{"on an unknown invoice is 404", "nope", second, http.StatusNotFound, "invoice_not_found"},
		{"of an unknown payment is 404", "inv-dp", "pay_nope", http.StatusNotFound, "payment_not_found"},
		{"of a payment already deleted is 404", "inv-dp", first, http.StatusNotFound, "payment_not_found"},
		{"of another invoice's payment is 404", "inv-dp", other, http.StatusNotFound, "payment_not_found"},
	} {
		t.Run("deleting a payment "+c.name+" and changes nothing", func(t *testing.T) {
			h := h.in(t)
			h.unchanged("inv-dp", func() {
				h.unchanged("inv-other", func() {
					h.do("DELETE", "/admin/invoices/"+c.invoice+"/payments/"+c.payment, nil).mustError(t, c.status, c.code)
				})
			})
		})
	}

	t.Run("deleting a payment of a written-off invoice is 409 and changes nothing", func(t *testing.T) {
		h := h.in(t)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-other/write-off", nil).ID)
		h.unchanged("inv-other", func() {
			h.do("DELETE", "/admin/invoices/inv-other/payments/"+other, nil).mustError(t, http.StatusConflict, "invoice_written_off")
		})
	})
}

func TestWriteOffAndReopen(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv-wo", 10000, true)
	h.createInvoice("inv-wo-draft", 10000, false)
	h.createInvoice("inv-wo-paid", 1000, true)
	h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-wo/payments", `{"amount": 2500}`).ID)
	h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-wo-paid/payments", `{"amount": 1000}`).ID)

	t.Run("reopening an invoice that is not written off is 409 and changes nothing", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-wo", func() {
			h.do("POST", "/admin/invoices/inv-wo/reopen", nil).mustError(t, http.StatusConflict, "not_written_off")
		})
	})

	t.Run("a write-off answers 202 and its job books the balance as bad debt", func(t *testing.T) {
		h := h.in(t)
		job := h.queue("POST", "/admin/invoices/inv-wo/write-off", `{"notes": "client bankrupt"}`)
		if job.Type != reconcile.JobWriteOff {
			t.Fatalf("job %+v", job)
		}
		h.waitSucceeded(job.ID)
		d := h.mustFigures("inv-wo", figures{2500, 7500, 0, reconcile.StateWrittenOff})
		last := d.History[len(d.History)-1]
		if d.WrittenOffAt == nil || last.Kind != reconcile.HistoryWrittenOff || *last.Amount != 7500 || last.Notes != "client bankrupt" {
			t.Fatalf("invoice %+v, history %+v", d.Invoice, last)
		}
	})

	for _, c := range []struct {
		name, id string
		status   int
		code     string
	}{
		{"of an unknown invoice is 404", "nope", http.StatusNotFound, "invoice_not_found"},
		{"of a draft is 409", "inv-wo-draft", http.StatusConflict, "invoice_not_sent"},
		{"of a written-off invoice is 409", "inv-wo", http.StatusConflict, "already_written_off"},
		{"of a paid invoice is 409", "inv-wo-paid", http.StatusConflict, "no_balance"},
	} {
		t.Run("a write-off "+c.name+" and changes nothing", func(t *testing.T) {
			h := h.in(t)
			h.unchanged(c.id, func() {
				h.do("POST", "/admin/invoices/"+c.id+"/write-off", `{"notes": "x"}`).mustError(t, c.status, c.code)
			})
		})
	}

	t.Run("reopening answers 202 and its job makes the balance owed again", func(t *testing.T) {
		h := h.in(t)
		job := h.queue("POST", "/admin/invoices/inv-wo/reopen", nil)
		if job.Type != reconcile.JobReopen {
			t.Fatalf("job %+v", job)
		}
		h.waitSucceeded(job.ID)
		d := h.mustFigures("inv-wo", figures{2500, 0, 7500, reconcile.StatePartial})
		if last := d.History[len(d.History)-1]; last.Kind != reconcile.HistoryReopened || *last.Amount != 7500 {
			t.Fatalf("history %+v", last)
		}
	})

	t.Run("reopening an unknown invoice is 404 and queues nothing", func(t *testing.T) {
		h := h.in(t)
		jobs := h.jobRows()
		h.do("POST", "/admin/invoices/nope/reopen", nil).mustError(t, http.StatusNotFound, "invoice_not_found")
		if h.jobRows() != jobs {
			t.Fatal("a job was stored")
		}
	})

	t.Run("reopening with a body it does not take is 400 and changes nothing", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-wo", func() {
			h.do("POST", "/admin/invoices/inv-wo/reopen", `{"notes": "x"}`).mustError(t, http.StatusBadRequest, "invalid_field")
		})
	})
}
