package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
)

// createInvoiceBody is the body of POST /admin/invoices. Amount is raw so
// that only a JSON integer is taken as money; dates are strings so that a bad
// one is refused naming its field.
type createInvoiceBody struct {
	ID              string          `json:"id"`
	Number          string          `json:"number"`
	Client          string          `json:"client"`
	Currency        string          `json:"currency"`
	Amount          json.RawMessage `json:"amount"`
	IssueDate       *string         `json:"issue_date"`
	DueDate         *string         `json:"due_date"`
	StripeInvoiceID string          `json:"stripe_invoice_id"`
}

// createInvoice answers POST /admin/invoices: 201 with the draft invoice.
func (a *API) createInvoice(w http.ResponseWriter, r *http.Request) error {
	var b createInvoiceBody
	if err := a.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	amount, err := parseAmount("amount", b.Amount)
	if err != nil {
		return err
	}
	issue, err := parseDate("issue_date", b.IssueDate)
	if err != nil {
		return err
	}
	due, err := parseDate("due_date", b.DueDate)
	if err != nil {
		return err
	}
	// The ledger validates the rest (id, number, client, currency) and names
	// the field; its refusal is a 400 like ours.
	inv, err := a.store.CreateInvoice(r.Context(), reconcile.NewInvoice{
		ID: b.ID, Number: b.Number, Client: b.Client, Currency: b.Currency, Amount: amount,
		IssueDate: issue, DueDate: due, StripeInvoiceID: b.StripeInvoiceID,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/invoices/"+inv.ID)
	a.WriteJSON(w, http.StatusCreated, inv)
	return nil
}

// listInvoices answers GET /admin/invoices?state=&client=&limit=&cursor=.
// Empty parameters mean "any", as the contract's template shows them.
func (a *API) listInvoices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"), 0, reconcile.MaxPageSize) // 0: the store's default
	if err != nil {
		return err
	}
	page, err := a.store.ListInvoices(r.Context(), reconcile.InvoiceFilter{
		State: reconcile.State(q.Get("state")), Client: q.Get("client"), Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		return err
	}
	if page.Invoices == nil {
		page.Invoices = []reconcile.Invoice{}
	}
	a.WriteJSON(w, http.StatusOK, page)
	return nil
}

// getInvoice answers GET /admin/invoices/{id} with payments, credit notes
// and history.
func (a *API) getInvoice(w http.ResponseWriter, r *http.Request) error {
	d, err := a.store.GetInvoiceDetail(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if d.Payments == nil {
		d.Payments = []reconcile.Payment{}
	}
	if d.CreditNotes == nil {
		d.CreditNotes = []reconcile.CreditNote{}
	}
	if d.History == nil {
		d.History = []reconcile.HistoryEntry{}
	}
	a.WriteJSON(w, http.StatusOK, d)
	return nil
}

// sendInvoice answers POST /admin/invoices/{id}/send with the invoice.
func (a *API) sendInvoice(w http.ResponseWriter, r *http.Request) error {
	if err := a.emptyBody(w, r); err != nil {
		return err
	}
	inv, err := a.SendInvoice(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a.WriteJSON(w, http.StatusOK, inv)
	return nil
}

// SendInvoice marks invoice id sent and returns it. Sending is not money,
// so it is applied at once rather than queued; sending again changes nothing.
func (a *API) SendInvoice(ctx context.Context, id string) (reconcile.Invoice, error) {
	return a.store.SendInvoice(ctx, id)
}

// deleteInvoice answers DELETE /admin/invoices/{id}: 204, or 409 when money
// is on it.
func (a *API) deleteInvoice(w http.ResponseWriter, r *http.Request) error {
	if err := a.emptyBody(w, r); err != nil {
		return err
	}
	if err := a.store.DeleteInvoice(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// emptyBody accepts no body, or an empty object, on routes that take none.
func (a *API) emptyBody(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(body, &struct{}{}, true)
}
