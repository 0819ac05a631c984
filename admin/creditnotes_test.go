package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// credits are what credit note assertions compare.
type credits struct {
	Credited, Paid, WrittenOff, Balance reconcile.Amount
	State                               reconcile.State
}

func (h *harness) mustCredits(id string, want credits) reconcile.InvoiceDetail {
	h.t.Helper()
	d := h.detail(id)
	if got := (credits{d.CreditedAmount, d.PaidAmount, d.WrittenOffAmount, d.Balance, d.State}); got != want {
		h.t.Fatalf("invoice %s: %+v, want %+v", id, got, want)
	}
	return d
}

// creditNoteOf reads the credit note id a succeeded issuing job made.
func creditNoteOf(t testing.TB, job reconcile.Job) string {
	t.Helper()
	var result struct {
		CreditNoteID string `json:"credit_note_id"`
	}
	if err := json.Unmarshal(job.Result, &result); err != nil || result.CreditNoteID == "" {
		t.Fatalf("job %s result %s: %v", job.ID, job.Result, err)
	}
	return result.CreditNoteID
}

func TestCreditNotesThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv-cn", 10000, true)
	h.createInvoice("inv-cn-draft", 10000, false)
	h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-cn/payments", `{"amount": 6000}`).ID)
	var issued string

	t.Run("a credit note answers 202 with a job that issues it, listed on the invoice", func(t *testing.T) {
		h := h.in(t)
		res := h.do("POST", "/admin/invoices/inv-cn/credit-notes", `{"amount": 1500, "reason": "discount", "notes": "loyal client"}`)
		var job reconcile.Job
		res.must(t, http.StatusAccepted, &job)
		if job.Type != reconcile.JobIssueCreditNote || job.InvoiceID == nil || *job.InvoiceID != "inv-cn" {
			t.Fatalf("job %+v", job)
		}
		if loc := res.header.Get("Location"); loc != "/admin/jobs/"+job.ID {
			t.Fatalf("Location %q", loc)
		}
		issued = creditNoteOf(t, h.waitSucceeded(job.ID))
		d := h.mustCredits("inv-cn", credits{1500, 6000, 0, 2500, reconcile.StatePartial})
		if len(d.CreditNotes) != 1 {
			t.Fatalf("credit notes %+v", d.CreditNotes)
		}
		cn := d.CreditNotes[0]
		if cn.ID != issued || cn.Amount != 1500 || cn.Reason != "discount" || cn.Notes != "loyal client" || cn.Actor != "admin" || cn.CreatedAt.IsZero() {
			t.Fatalf("credit note %+v", cn)
		}
		last := d.History[len(d.History)-1]
		if last.Kind != reconcile.HistoryCreditNoted || *last.Amount != 1500 || last.Notes != "discount: loyal client" {
			t.Fatalf("history %+v", last)
		}
	})

	t.Run("the detail's credit notes hold the contract's fields", func(t *testing.T) {
		h := h.in(t)
		var raw struct {
			CreditNotes []map[string]any `json:"credit_notes"`
		}
		h.do("GET", "/admin/invoices/inv-cn", nil).must(t, http.StatusOK, &raw)
		for _, k := range []string{"id", "amount", "reason", "notes", "created_at", "actor"} {
			if _, ok := raw.CreditNotes[0][k]; !ok {
				t.Fatalf("credit note lacks %q: %v", k, raw.CreditNotes[0])
			}
		}
	})

	for _, c := range []struct {
		name, invoice, body string
		status              int
		code                string
	}{
		{"above the balance is 422", "inv-cn", `{"amount": 2501, "reason": "discount"}`, http.StatusUnprocessableEntity, "credit_note_exceeds_balance"},
		{"on a draft is 409", "inv-cn-draft", `{"amount": 100, "reason": "discount"}`, http.StatusConflict, "invoice_not_sent"},
		{"on an unknown invoice is 404", "nope", `{"amount": 100, "reason": "discount"}`, http.StatusNotFound, "invoice_not_found"},
		{"without a reason is 400", "inv-cn", `{"amount": 100}`, http.StatusBadRequest, "invalid_reason"},
		{"with another reason is 400", "inv-cn", `{"amount": 100, "reason": "goodwill"}`, http.StatusBadRequest, "invalid_reason"},
		{"of a decimal amount is 400", "inv-cn", `{"amount": 12.5, "reason": "discount"}`, http.StatusBadRequest, "invalid_amount"},
		{"of nothing is 400", "inv-cn", `{"amount": 0, "reason": "discount"}`, http.StatusBadRequest, "invalid_amount"},
		{"with an unknown field is 400", "inv-cn", `{"amount": 100, "reason": "discount", "actor": "x"}`, http.StatusBadRequest, "invalid_field"},
	} {
		t.Run("a credit note "+c.name+" and changes nothing", func(t *testing.T) {
			h := h.in(t)
			id := c.invoice
			if id == "nope" {
				id = "inv-cn"
			}
			h.unchanged(id, func() {
				h.do("POST", "/admin/invoices/"+c.invoice+"/credit-notes", c.body).mustError(t, c.status, c.code)
			})
		})
	}

	t.Run("the same Idempotency-Key twice issues one credit note", func(t *testing.T) {
		h := h.in(t)
		body := `{"amount": 500, "reason": "adjustment"}`
		first := h.queue("POST", "/admin/invoices/inv-cn/credit-notes", body, "Idempotency-Key", "cn-once")
		h.waitSucceeded(first.ID)
		again := h.queue("POST", "/admin/invoices/inv-cn/credit-notes", body, "Idempotency-Key", "cn-once")
		if again.ID != first.ID {
			t.Fatalf("replay queued job %s, first was %s", again.ID, first.ID)
		}
		d := h.mustCredits("inv-cn", credits{2000, 6000, 0, 2000, reconcile.StatePartial})
		if len(d.CreditNotes) != 2 {
			t.Fatalf("credit notes %+v", d.CreditNotes)
		}
	})

	t.Run("the same Idempotency-Key with another body is 422 and changes nothing", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-cn", func() {
			h.do("POST", "/admin/invoices/inv-cn/credit-notes", `{"amount": 501, "reason": "adjustment"}`, "Idempotency-Key", "cn-once").
				mustError(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
		})
	})

	t.Run("reversing a credit note answers 202 and its job makes the amount due again", func(t *testing.T) {
		h := h.in(t)
		job := h.queue("DELETE", "/admin/invoices/inv-cn/credit-notes/"+issued, nil)
		if job.Type != reconcile.JobReverseCreditNote {
			t.Fatalf("job %+v", job)
		}
		h.waitSucceeded(job.ID)
		d := h.mustCredits("inv-cn", credits{500, 6000, 0, 3500, reconcile.StatePartial})
		for _, cn := range d.CreditNotes {
			if cn.ID == issued {
				t.Fatalf("reversed credit note still listed: %+v", d.CreditNotes)
			}
		}
		if last := d.History[len(d.History)-1]; last.Kind != reconcile.HistoryCreditReversed || *last.Amount != 1500 {
			t.Fatalf("history %+v", last)
		}
	})

	for _, c := range []struct{ name, invoice, note string }{
		{"already reversed", "inv-cn", issued},
		{"unknown", "inv-cn", "cn_nope"},
	} {
		t.Run("reversing a credit note "+c.name+" is 404 and changes nothing", func(t *testing.T) {
			h := h.in(t)
			h.unchanged("inv-cn", func() {
				h.do("DELETE", "/admin/invoices/"+c.invoice+"/credit-notes/"+c.note, nil).mustError(t, http.StatusNotFound, "credit_note_not_found")
			})
		})
	}

	t.Run("a credit note of the rest closes the invoice as paid", func(t *testing.T) {
		h := h.in(t)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-cn/credit-notes", `{"amount": 3500, "reason": "other"}`).ID)
		d := h.mustCredits("inv-cn", credits{4000, 6000, 0, 0, reconcile.StatePaid})
		if d.PaidAt == nil {
			t.Fatal("paid_at not set")
		}
	})
}

// TestCreditNoteRefusedWhenItRuns: a credit note checked against the balance
// when queued is checked again when its job runs; a balance that moved in
// between fails the job with the reason, not retried.
func TestCreditNoteRefusedWhenItRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createInvoice("inv-cn-race", 10000, true)
	// No worker yet: both jobs wait, each checked against 10000 due.
	credit := h.queue("POST", "/admin/invoices/inv-cn-race/credit-notes", `{"amount": 4000, "reason": "discount"}`)
	pay := h.queue("POST", "/admin/invoices/inv-cn-race/payments", `{"amount": 7000}`)
	h.startWorker()
	credited, paid := h.waitJob(credit.ID), h.waitJob(pay.ID)
	switch {
	case credited.Status == reconcile.JobSucceeded && paid.Status == reconcile.JobFailed:
		if !strings.Contains(paid.Error, "overpayment") || paid.Attempts != 1 {
			t.Fatalf("payment job %+v", paid)
		}
		h.mustCredits("inv-cn-race", credits{4000, 0, 0, 6000, reconcile.StateOpen})
	case paid.Status == reconcile.JobSucceeded && credited.Status == reconcile.JobFailed:
		if !strings.Contains(credited.Error, "credit_note_exceeds_balance") || credited.Attempts != 1 {
			t.Fatalf("credit note job %+v", credited)
		}
		h.mustCredits("inv-cn-race", credits{0, 7000, 0, 3000, reconcile.StatePartial})
	default:
		t.Fatalf("credit note job %s (%s), payment job %s (%s): want one succeeded, one failed",
			credited.Status, credited.Error, paid.Status, paid.Error)
	}
}

// TestCreditNotesAndWriteOffAtTheAPI: a write-off covers what the payments
// and credit notes leave; while it is live, a credit note is not reversed.
func TestCreditNotesAndWriteOffAtTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv-cn-wo", 10000, true)
	h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-cn-wo/payments", `{"amount": 2000}`).ID)
	cn := creditNoteOf(t, h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-cn-wo/credit-notes", `{"amount": 3000, "reason": "adjustment"}`).ID))
	h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-cn-wo/write-off", nil).ID)
	h.mustCredits("inv-cn-wo", credits{3000, 2000, 5000, 0, reconcile.StateWrittenOff})

	t.Run("reversing a credit note while the write-off is live is 409 and changes nothing", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-cn-wo", func() {
			h.do("DELETE", "/admin/invoices/inv-cn-wo/credit-notes/"+cn, nil).mustError(t, http.StatusConflict, "invoice_written_off")
		})
	})
	t.Run("a credit note on the written-off invoice is 422, saying to reopen", func(t *testing.T) {
		h := h.in(t)
		h.unchanged("inv-cn-wo", func() {
			msg := h.do("POST", "/admin/invoices/inv-cn-wo/credit-notes", `{"amount": 1, "reason": "other"}`).
				mustError(t, http.StatusUnprocessableEntity, "credit_note_exceeds_balance")
			if !strings.Contains(msg, "reopen") {
				t.Fatalf("message %q does not say to reopen", msg)
			}
		})
	})
	t.Run("a reversal job that got past the API fails while the write-off is live", func(t *testing.T) {
		h := h.in(t)
		job, err := h.client.Submit(context.Background(), reconcile.NewJob{Type: reconcile.JobReverseCreditNote, InvoiceID: "inv-cn-wo",
			Payload: worker.ReverseCreditNoteArgs{InvoiceID: "inv-cn-wo", CreditNoteID: cn}})
		if err != nil {
			t.Fatal(err)
		}
		if done := h.waitJob(job.ID); done.Status != reconcile.JobFailed || !strings.Contains(done.Error, "invoice_written_off") {
			t.Fatalf("job %+v", done)
		}
		h.mustCredits("inv-cn-wo", credits{3000, 2000, 5000, 0, reconcile.StateWrittenOff})
	})
	t.Run("reopened, the credit note is reversed", func(t *testing.T) {
		h := h.in(t)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-cn-wo/reopen", nil).ID)
		h.waitSucceeded(h.queue("DELETE", "/admin/invoices/inv-cn-wo/credit-notes/"+cn, nil).ID)
		h.mustCredits("inv-cn-wo", credits{0, 2000, 0, 8000, reconcile.StatePartial})
	})
}

// TestSummaryCreditNotes: the summary totals the credit notes issued in the
// range and not reversed.
func TestSummaryCreditNotes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv-cn-s", 10000, true)
	h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-cn-s/credit-notes", `{"amount": 1200, "reason": "discount"}`).ID)
	gone := creditNoteOf(t, h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-cn-s/credit-notes", `{"amount": 800, "reason": "other"}`).ID))
	h.waitSucceeded(h.queue("DELETE", "/admin/invoices/inv-cn-s/credit-notes/"+gone, nil).ID)
	// The ledger dates a credit note by the database's clock; a range of a
	// few days around now holds it whatever the time zones.
	from, to := time.Now().AddDate(0, 0, -2).Format("2006-01-02"), time.Now().AddDate(0, 0, 2).Format("2006-01-02")
	var got struct {
		Currencies []reconcile.CurrencySummary `json:"currencies"`
	}
	h.do("GET", "/admin/reports/summary?from="+from+"&to="+to, nil).must(t, http.StatusOK, &got)
	want := reconcile.CurrencySummary{Currency: "usd", CreditNotes: 1200, Outstanding: 8800}
	if len(got.Currencies) != 1 || got.Currencies[0] != want {
		t.Fatalf("summary %+v, want %+v", got.Currencies, want)
	}
	h.do("GET", "/admin/reports/summary?from=2001-01-01&to=2001-01-31", nil).must(t, http.StatusOK, &got)
	if want := (reconcile.CurrencySummary{Currency: "usd", Outstanding: 8800}); len(got.Currencies) != 1 || got.Currencies[0] != want {
		t.Fatalf("summary of 2001 %+v, want %+v", got.Currencies, want)
	}
}
