package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/payrecon/reconciler/admin/cli"
	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// Every action below makes its change through admin.API, the code path of
// the JSON API: the same checks, the same jobs, the same worker. A refused
// action shows the invoice page again with the reason and nothing changed;
// a queued one redirects to the invoice page with its job, so reloading
// the page does not post again.

// requestHash identifies a console action and its arguments, so a form key
// posted again with other values is refused rather than taken for a replay.
func requestHash(action string, args ...string) string {
	h := sha256.New()
	h.Write([]byte("ui " + action))
	for _, a := range args {
		h.Write([]byte{0})
		h.Write([]byte(a))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func invoiceURL(id string) string { return "/admin/ui/invoices/" + url.PathEscape(id) }

// showJob sends the browser to the invoice page, which follows the job.
func showJob(w http.ResponseWriter, r *http.Request, invoiceID string, job reconcile.Job) {
	http.Redirect(w, r, invoiceURL(invoiceID)+"?job="+url.QueryEscape(job.ID), http.StatusSeeOther)
}

func invalidField(code, message string) error {
	return apperr.Errorf(apperr.KindInvalid, code, "%s", message)
}

// send answers POST /admin/ui/invoices/{id}/send. Sending is immediate, as
// in the JSON API; there is no job to follow.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, _ session) {
	id := r.PathValue("id")
	if _, err := h.api.SendInvoice(r.Context(), id); err != nil {
		h.renderInvoiceRefusal(w, r, err, nil)
		return
	}
	http.Redirect(w, r, invoiceURL(id)+"?sent=1", http.StatusSeeOther)
}

// recordPayment answers POST /admin/ui/invoices/{id}/payments. The amount
// is typed in major units of the invoice's currency ("40.00"); any amount
// up to what is unpaid is taken, so a partial payment is the ordinary case.
func (h *Handler) recordPayment(w http.ResponseWriter, r *http.Request, _ session) {
	id := r.PathValue("id")
	f := paymentForm{
		Amount:   strings.TrimSpace(r.PostForm.Get("amount")),
		PaidDate: strings.TrimSpace(r.PostForm.Get("paid_date")),
		Method:   r.PostForm.Get("method"),
		Notes:    r.PostForm.Get("notes"),
	}
	keep := func(p *invoicePage) { p.Payment = f }
	inv, err := h.store.GetInvoice(r.Context(), id)
	if err != nil {
		h.renderInvoiceRefusal(w, r, err, keep)
		return
	}
	if f.Amount == "" {
		h.renderInvoiceRefusal(w, r, invalidField("invalid_amount", "Enter the amount received, such as 40.00."), keep)
		return
	}
	minor, err := cli.ParseAmount(f.Amount, inv.Currency)
	if err != nil {
		h.renderInvoiceRefusal(w, r, invalidField("invalid_amount", "A"+strings.TrimPrefix(err.Error(), "a")+"."), keep)
		return
	}
	args := worker.RecordPaymentArgs{InvoiceID: id, Amount: reconcile.Amount(minor), Method: f.Method, Notes: f.Notes}
	if f.PaidDate != "" {
		d, err := reconcile.ParseDate(f.PaidDate)
		if err != nil {
			h.renderInvoiceRefusal(w, r, invalidField("invalid_paid_date", "The date must be a day, YYYY-MM-DD."), keep)
			return
		}
		args.PaidDate = d
	}
	job, err := h.api.RecordPayment(r.Context(), args, idempotencyKey(r),
		requestHash("record_payment", id, f.Amount, f.PaidDate, f.Method, f.Notes))
	if err != nil {
		h.renderInvoiceRefusal(w, r, err, keep)
		return
	}
	showJob(w, r, id, job)
}

// deletePayment answers POST /admin/ui/invoices/{id}/payments/{payment_id}/delete,
// the confirmation page's form.
func (h *Handler) deletePayment(w http.ResponseWriter, r *http.Request, _ session) {
	id, paymentID := r.PathValue("id"), r.PathValue("payment_id")
	job, err := h.api.DeletePayment(r.Context(), id, paymentID, idempotencyKey(r),
		requestHash("delete_payment", id, paymentID))
	if err != nil {
		h.renderInvoiceRefusal(w, r, err, nil)
		return
	}
	showJob(w, r, id, job)
}

// writeOff answers POST /admin/ui/invoices/{id}/write-off.
func (h *Handler) writeOff(w http.ResponseWriter, r *http.Request, _ session) {
	id, notes := r.PathValue("id"), r.PostForm.Get("notes")
	job, err := h.api.WriteOff(r.Context(), id, notes, idempotencyKey(r), requestHash("write_off", id, notes))
	if err != nil {
		h.renderWriteOffRefusal(w, r, err, notes)
		return
	}
	showJob(w, r, id, job)
}

// reopen answers POST /admin/ui/invoices/{id}/reopen.
func (h *Handler) reopen(w http.ResponseWriter, r *http.Request, _ session) {
	id := r.PathValue("id")
	job, err := h.api.Reopen(r.Context(), id, idempotencyKey(r), requestHash("reopen", id))
	if err != nil {
		h.renderInvoiceRefusal(w, r, err, nil)
		return
	}
	showJob(w, r, id, job)
}
