package ui

import (
	"net/http"
	"strings"

	"github.com/payrecon/reconciler/admin/cli"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// creditForm is what the credit note form shows: its defaults, or what the
// operator typed when it was refused.
type creditForm struct {
	Amount, Reason, Notes string
}

// creditReasons are the choices of the credit note form.
func creditReasons() []methodOption {
	var opts []methodOption
	for _, r := range reconcile.CreditReasons() {
		opts = append(opts, methodOption{r, strings.ToUpper(r[:1]) + r[1:]})
	}
	return opts
}

// issueCreditNote answers POST /admin/ui/invoices/{id}/credit-notes. The
// amount is typed in major units of the invoice's currency, as for a
// payment; any amount up to the balance is taken.
func (h *Handler) issueCreditNote(w http.ResponseWriter, r *http.Request, _ session) {
	id := r.PathValue("id")
	f := creditForm{
		Amount: strings.TrimSpace(r.PostForm.Get("amount")),
		Reason: r.PostForm.Get("reason"),
		Notes:  r.PostForm.Get("notes"),
	}
	keep := func(p *invoicePage) { p.Credit = f }
	inv, err := h.store.GetInvoice(r.Context(), id)
	if err != nil {
		h.renderInvoiceRefusal(w, r, err, keep)
		return
	}
	if f.Amount == "" {
		h.renderInvoiceRefusal(w, r, invalidField("invalid_amount", "Enter the amount to credit, such as 40.00."), keep)
		return
	}
	minor, err := cli.ParseAmount(f.Amount, inv.Currency)
	if err != nil {
		h.renderInvoiceRefusal(w, r, invalidField("invalid_amount", "A"+strings.TrimPrefix(err.Error(), "a")+"."), keep)
		return
	}
	args := worker.IssueCreditNoteArgs{InvoiceID: id, Amount: reconcile.Amount(minor), Reason: f.Reason, Notes: f.Notes}
	job, err := h.api.IssueCreditNote(r.Context(), args, idempotencyKey(r),
		requestHash("issue_credit_note", id, f.Amount, f.Reason, f.Notes))
	if err != nil {
		h.renderInvoiceRefusal(w, r, err, keep)
		return
	}
	showJob(w, r, id, job)
}

type reversePage struct {
	base
	Inv        reconcile.Invoice
	CreditNote reconcile.CreditNote
	FormKey    string
}

// confirmReverse answers GET /admin/ui/invoices/{id}/credit-notes/{credit_note_id}/reverse:
// the confirmation a credit note's Reverse leads to, as a payment's X does.
func (h *Handler) confirmReverse(w http.ResponseWriter, r *http.Request, _ session) {
	ctx := r.Context()
	inv, err := h.store.GetInvoice(ctx, r.PathValue("id"))
	if err == nil {
		var cn reconcile.CreditNote
		if cn, err = h.store.GetCreditNote(ctx, inv.ID, r.PathValue("credit_note_id")); err == nil {
			p := reversePage{base: base{Title: "Reverse credit note", Nav: "invoices"}, Inv: inv, CreditNote: cn, FormKey: newFormKey()}
			status := http.StatusOK
			if err := inv.CanReverseCreditNote(); err != nil {
				status, p.ErrorTitle, p.Error = h.refusal(r, err, &inv)
			}
			h.render(w, r, status, "reverse", &p)
			return
		}
	}
	status, title, msg := h.refusal(r, err, nil)
	h.renderError(w, r, status, title, msg)
}

// reverseCreditNote answers POST
// /admin/ui/invoices/{id}/credit-notes/{credit_note_id}/reverse, the
// confirmation page's form.
func (h *Handler) reverseCreditNote(w http.ResponseWriter, r *http.Request, _ session) {
	id, creditNoteID := r.PathValue("id"), r.PathValue("credit_note_id")
	job, err := h.api.ReverseCreditNote(r.Context(), id, creditNoteID, idempotencyKey(r),
		requestHash("reverse_credit_note", id, creditNoteID))
	if err != nil {
		h.renderInvoiceRefusal(w, r, err, nil)
		return
	}
	showJob(w, r, id, job)
}
