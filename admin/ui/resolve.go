package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/reconcile"
)

func attentionURL(query string) string {
	if query == "" {
		return "/admin/ui/events"
	}
	return "/admin/ui/events?" + query
}

// resolveDiscrepancy answers POST /admin/ui/discrepancies/{id}/resolve: the
// operator has looked at the difference, and the notes say what they found
// or did. It is immediate, as in the JSON API.
func (h *Handler) resolveDiscrepancy(w http.ResponseWriter, r *http.Request, _ session) {
	id, notes := r.PathValue("id"), strings.TrimSpace(r.PostForm.Get("notes"))
	if notes == "" {
		h.renderAttentionRefusal(w, r, invalidField("invalid_notes", "Say what you found or did in the notes."))
		return
	}
	if _, err := h.api.ResolveDiscrepancy(r.Context(), id, notes, admin.ActorFrom(r.Context())); err != nil {
		h.renderAttentionRefusal(w, r, err)
		return
	}
	http.Redirect(w, r, attentionURL("resolved="+url.QueryEscape(id)), http.StatusSeeOther)
}

// ignoreEvent answers POST /admin/ui/events/{id}/ignore: the event becomes
// ignored, and no run matches it again. The page follows its job.
func (h *Handler) ignoreEvent(w http.ResponseWriter, r *http.Request, _ session) {
	id, notes := r.PathValue("id"), strings.TrimSpace(r.PostForm.Get("notes"))
	if notes == "" {
		h.renderAttentionRefusal(w, r, invalidField("invalid_notes", "Say why the event is ignored in the notes."))
		return
	}
	job, err := h.api.ResolveEvent(r.Context(), id, reconcile.ResolveIgnore, "", notes, admin.ActorFrom(r.Context()),
		idempotencyKey(r), requestHash("ignore_event", id, notes))
	if err != nil {
		h.renderAttentionRefusal(w, r, err)
		return
	}
	http.Redirect(w, r, attentionURL("job="+url.QueryEscape(job.ID)), http.StatusSeeOther)
}

// applyPage is the confirmation of applying an event to an invoice.
type applyPage struct {
	base
	Event   reconcile.Event
	Inv     reconcile.Invoice
	Notes   string
	FormKey string
}

// confirmApply answers GET /admin/ui/events/{id}/apply?invoice_id=&notes=:
// applying a payment to an invoice moves money, so the operator sees the
// invoice it would pay before confirming, as for deleting a payment.
func (h *Handler) confirmApply(w http.ResponseWriter, r *http.Request, _ session) {
	ctx := r.Context()
	q := r.URL.Query()
	invoiceID := strings.TrimSpace(q.Get("invoice_id"))
	ev, err := h.store.GetEvent(ctx, r.PathValue("id"))
	if err == nil && invoiceID == "" {
		err = invalidField("invalid_invoice_id", "Enter the id of the invoice the payment is for.")
	}
	if err == nil {
		err = ev.CanResolve(reconcile.ResolveApply)
	}
	var inv reconcile.Invoice
	if err == nil {
		inv, err = h.store.GetInvoice(ctx, invoiceID)
	}
	if err != nil {
		h.renderAttentionRefusal(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "apply", &applyPage{base: base{Title: "Apply event", Nav: "events"},
		Event: ev, Inv: inv, Notes: q.Get("notes"), FormKey: newFormKey()})
}

// applyEvent answers POST /admin/ui/events/{id}/apply, the confirmation's
// form: the payment is recorded on the invoice by a job, which the invoice
// page follows.
func (h *Handler) applyEvent(w http.ResponseWriter, r *http.Request, _ session) {
	id, invoiceID, notes := r.PathValue("id"), r.PostForm.Get("invoice_id"), r.PostForm.Get("notes")
	job, err := h.api.ResolveEvent(r.Context(), id, reconcile.ResolveApply, invoiceID, notes, admin.ActorFrom(r.Context()),
		idempotencyKey(r), requestHash("apply_event", id, invoiceID, notes))
	if err != nil {
		h.renderAttentionRefusal(w, r, err)
		return
	}
	showJob(w, r, invoiceID, job)
}
