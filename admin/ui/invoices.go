package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/payrecon/reconciler/admin/cli"
	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/reconcile"
)

// tabs of the invoice listing: which states each lists. "all" may narrow
// to one state with a filter.
var tabs = []struct {
	Key, Label string
	States     []reconcile.State
}{
	{"open", "Open", []reconcile.State{reconcile.StateOpen, reconcile.StatePartial}},
	{"draft", "Draft", []reconcile.State{reconcile.StateDraft}},
	{"all", "All", nil},
}

// allFilters are the filters of the "all" tab.
var allFilters = []struct {
	State reconcile.State
	Label string
}{
	{"", "Any state"},
	{reconcile.StatePartial, "Partial"},
	{reconcile.StatePaid, "Paid"},
	{reconcile.StateWrittenOff, "Written-Off"},
}

// link is a navigation link; Current marks the one shown.
type link struct {
	Label, URL string
	Current    bool
}

type invoicesPage struct {
	base
	Tabs     []link
	Filters  []link
	Invoices []reconcile.Invoice
	NextURL  string
	FirstURL string
}

func listURL(tab string, state reconcile.State, cursor string) string {
	q := url.Values{"tab": {tab}}
	if state != "" {
		q.Set("state", string(state))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return "/admin/ui/invoices?" + q.Encode()
}

// invoices answers GET /admin/ui/invoices?tab=&state=&cursor=: a page of
// invoices, newest first.
func (h *Handler) invoices(w http.ResponseWriter, r *http.Request, _ session) {
	q := r.URL.Query()
	tab := q.Get("tab")
	if tab == "" {
		tab = "open"
	}
	p := invoicesPage{base: base{Title: "Invoices", Nav: "invoices"}}
	filter := reconcile.InvoiceFilter{Limit: h.pageSize, Cursor: q.Get("cursor")}
	known := false
	for _, t := range tabs {
		if t.Key == tab {
			known, filter.States = true, t.States
		}
		p.Tabs = append(p.Tabs, link{Label: t.Label, URL: listURL(t.Key, "", ""), Current: t.Key == tab})
	}
	if !known {
		h.renderError(w, r, http.StatusNotFound, "Not found", "There is no tab "+tab+": use Open, Draft or All.")
		return
	}
	state := reconcile.State(q.Get("state"))
	if tab == "all" {
		found := false
		for _, f := range allFilters {
			found = found || f.State == state
			p.Filters = append(p.Filters, link{Label: f.Label, URL: listURL(tab, f.State, ""), Current: f.State == state})
		}
		if !found {
			h.renderError(w, r, http.StatusBadRequest, "Check the filter", "Filter by Partial, Paid or Written-Off.")
			return
		}
		filter.State = state
	}
	page, err := h.store.ListInvoices(r.Context(), filter)
	if err != nil {
		status, title, msg := h.refusal(r, err, nil)
		h.renderError(w, r, status, title, msg)
		return
	}
	p.Invoices = page.Invoices
	if page.NextCursor != "" {
		p.NextURL = listURL(tab, filter.State, page.NextCursor)
	}
	if filter.Cursor != "" {
		p.FirstURL = listURL(tab, filter.State, "")
	}
	h.render(w, r, http.StatusOK, "invoices", &p)
}

// methodOption is one choice of the payment form's method.
type methodOption struct{ Value, Label string }

// paymentMethods are the choices of the payment form; "" is "not given".
func paymentMethods() []methodOption {
	opts := []methodOption{{"", "—"}}
	for _, m := range reconcile.PaymentMethods() {
		label := strings.ReplaceAll(m, "_", " ")
		opts = append(opts, methodOption{m, strings.ToUpper(label[:1]) + label[1:]})
	}
	return opts
}

// paymentForm is what the payment form shows: its defaults, or what the
// operator typed when it was refused.
type paymentForm struct {
	Amount, PaidDate, Method, Notes string
}

// jobView is a job as the invoice page shows it after an action.
type jobView struct {
	reconcile.Job
	What string
	// Done is set once the job will not run again.
	Done bool
}

type invoicePage struct {
	base
	Inv     reconcile.InvoiceDetail
	Job     *jobView
	Payment paymentForm
	// Credit is the credit note form, kept when it is refused.
	Credit  creditForm
	Reasons []methodOption
	// WriteOffNotes is the write-off form's notes, kept when it is refused.
	WriteOffNotes string
	Methods       []methodOption
	// FormKey makes posting one rendering of a form twice queue one job.
	FormKey string
	// AmountHint is the amount format of the invoice's currency.
	AmountHint string
	// Unpaid is the most a manual payment may be; the balance is the most a
	// credit note may be.
	Unpaid reconcile.Amount
	// CurrencyCode is the invoice's currency as people write it (USD).
	CurrencyCode string
	// Today and EarliestPaidDate bound the payment form's date.
	Today, EarliestPaidDate string

	CanSend, CanRecord, CanDeletePayments, CanCredit, CanReverseCredits, CanWriteOff, CanReopen bool
}

// jobWhat says what a job does, for the job line.
var jobWhat = map[reconcile.JobType]string{
	reconcile.JobRecordPayment:     "Record payment",
	reconcile.JobDeletePayment:     "Delete payment",
	reconcile.JobIssueCreditNote:   "Credit note",
	reconcile.JobReverseCreditNote: "Reverse credit note",
	reconcile.JobWriteOff:          "Write-off",
	reconcile.JobReopen:            "Reopen",
	reconcile.JobReconcile:         "Reconciliation run",
}

// loadInvoicePage reads what the invoice page shows. It returns a refusal
// (not found) or a fault as err.
func (h *Handler) loadInvoicePage(r *http.Request, id string) (*invoicePage, error) {
	d, err := h.store.GetInvoiceDetail(r.Context(), id)
	if err != nil {
		return nil, err
	}
	inv := d.Invoice
	today := reconcile.DateOf(h.now()).String()
	p := &invoicePage{
		base:    base{Title: "Invoice " + inv.Number, Nav: "invoices"},
		Inv:     d,
		Payment: paymentForm{PaidDate: today},
		Today:   today,

		EarliestPaidDate: reconcile.EarliestPaidDate.String(),
		Methods:          paymentMethods(),
		Credit:           creditForm{Reason: reconcile.CreditReasons()[0]},
		Reasons:          creditReasons(),
		FormKey:          newFormKey(),
		Unpaid:           inv.Unpaid(),

		CurrencyCode: strings.ToUpper(inv.Currency),
		// The same rules the ledger applies: only an action it would take
		// is offered.
		CanSend:           inv.State == reconcile.StateDraft,
		CanRecord:         inv.SentAt != nil && inv.Unpaid() > 0,
		CanDeletePayments: inv.CanDeletePayments() == nil,
		CanCredit:         inv.SentAt != nil && inv.Balance > 0,
		CanReverseCredits: inv.CanReverseCreditNote() == nil,
		CanWriteOff:       inv.CanWriteOff() == nil,
		CanReopen:         inv.CanReopen() == nil,
	}
	switch cli.Decimals(inv.Currency) {
	case 0:
		p.AmountHint = "such as 40"
	case 3:
		p.AmountHint = "such as 40.000"
	default:
		p.AmountHint = "such as 40.00"
	}
	return p, nil
}

// invoice answers GET /admin/ui/invoices/{id}?job=: the invoice, its
// actions, payments and history, and, after an action, its job's status,
// reloaded every second until the job is finished.
func (h *Handler) invoice(w http.ResponseWriter, r *http.Request, _ session) {
	id, q := r.PathValue("id"), r.URL.Query()
	// The job is read before the invoice: the worker finishes a job only
	// after its ledger change committed, so a job seen finished here has its
	// change in the figures read next, and "succeeded" never sits beside
	// the old balance.
	var job *reconcile.Job
	jobID := q.Get("job")
	if jobID != "" {
		j, err := h.store.GetJob(r.Context(), jobID)
		switch {
		case err == nil && j.InvoiceID != nil && *j.InvoiceID == id:
			job = &j
		case err != nil && !isNotFound(err):
			status, title, msg := h.refusal(r, err, nil)
			h.renderError(w, r, status, title, msg)
			return
		}
	}
	p, err := h.loadInvoicePage(r, id)
	if err != nil {
		status, title, msg := h.refusal(r, err, nil)
		h.renderError(w, r, status, title, msg)
		return
	}
	if q.Get("sent") != "" {
		p.Notice = "Invoice sent: it now takes payments."
	}
	switch {
	case job != nil:
		p.Job = &jobView{Job: *job, What: jobWhat[job.Type], Done: job.Status.Finished()}
		p.Refresh = !p.Job.Done
	case jobID != "":
		p.ErrorTitle, p.Error = "Not found", "This invoice has no job "+jobID+"."
	}
	h.render(w, r, http.StatusOK, "invoice", p)
}

func isNotFound(err error) bool {
	le, ok := apperr.As(err)
	return ok && le.Kind == apperr.KindNotFound
}

// renderInvoiceRefusal shows the invoice page again with the refusal of an
// action at the top and the operator's input kept; nothing was changed.
func (h *Handler) renderInvoiceRefusal(w http.ResponseWriter, r *http.Request, err error, keep func(*invoicePage)) {
	p, loadErr := h.loadInvoicePage(r, r.PathValue("id"))
	if loadErr != nil {
		status, title, msg := h.refusal(r, loadErr, nil)
		h.renderError(w, r, status, title, msg)
		return
	}
	status, title, msg := h.refusal(r, err, &p.Inv.Invoice)
	p.ErrorTitle, p.Error = title, msg
	if keep != nil {
		keep(p)
	}
	h.render(w, r, status, "invoice", p)
}

type confirmPage struct {
	base
	Inv     reconcile.Invoice
	Payment reconcile.Payment
	FormKey string
}

// confirmDelete answers GET /admin/ui/invoices/{id}/payments/{payment_id}/delete:
// the confirmation the payment's X leads to, since without JavaScript a
// form cannot ask first.
func (h *Handler) confirmDelete(w http.ResponseWriter, r *http.Request, _ session) {
	ctx := r.Context()
	inv, err := h.store.GetInvoice(ctx, r.PathValue("id"))
	if err == nil {
		var pay reconcile.Payment
		if pay, err = h.store.GetPayment(ctx, inv.ID, r.PathValue("payment_id")); err == nil {
			p := confirmPage{base: base{Title: "Delete payment", Nav: "invoices"}, Inv: inv, Payment: pay, FormKey: newFormKey()}
			status := http.StatusOK
			if err := inv.CanDeletePayment(pay); err != nil {
				status, p.ErrorTitle, p.Error = h.refusal(r, err, &inv)
			}
			h.render(w, r, status, "confirm", &p)
			return
		}
	}
	status, title, msg := h.refusal(r, err, nil)
	h.renderError(w, r, status, title, msg)
}
