package ui

import (
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
)

type writeOffPage struct {
	base
	Inv     reconcile.Invoice
	Notes   string
	FormKey string
}

// confirmWriteOff answers GET /admin/ui/invoices/{id}/write-off: what a
// write-off would book, and the form that does it, so that writing off
// asks first, as deleting a payment does.
func (h *Handler) confirmWriteOff(w http.ResponseWriter, r *http.Request, s session) {
	if !mayCall(r, "POST /admin/invoices/{id}/write-off") {
		h.roleRefused(w, r, s, "write off an invoice")
		return
	}
	inv, err := h.store.GetInvoice(r.Context(), r.PathValue("id"))
	if err != nil {
		status, title, msg := h.refusal(r, err, nil)
		h.renderError(w, r, status, title, msg)
		return
	}
	p := writeOffPage{base: base{Title: "Write off " + inv.Number, Nav: "invoices"}, Inv: inv, FormKey: newFormKey()}
	status := http.StatusOK
	if err := inv.CanWriteOff(); err != nil {
		status, p.ErrorTitle, p.Error = h.refusal(r, err, &inv)
	}
	h.render(w, r, status, "writeoff", &p)
}

// renderWriteOffRefusal shows the confirmation again with the refusal at
// the top and the notes kept; nothing was changed.
func (h *Handler) renderWriteOffRefusal(w http.ResponseWriter, r *http.Request, err error, notes string) {
	inv, loadErr := h.store.GetInvoice(r.Context(), r.PathValue("id"))
	if loadErr != nil {
		status, title, msg := h.refusal(r, loadErr, nil)
		h.renderError(w, r, status, title, msg)
		return
	}
	p := writeOffPage{base: base{Title: "Write off " + inv.Number, Nav: "invoices"}, Inv: inv, Notes: notes, FormKey: newFormKey()}
	var status int
	status, p.ErrorTitle, p.Error = h.refusal(r, err, &inv)
	h.render(w, r, status, "writeoff", &p)
}
