package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/admin/cli"
	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/reconcile"
)

// tabs of the invoice listing: which invoices each lists. "all" may narrow
// to one state with a filter.
var tabs = []struct {
	Key, Label string
	States     []reconcile.State
	Overdue    bool
}{
	{"open", "Open", []reconcile.State{reconcile.StateOpen, reconcile.StatePartial}, false},
	{"overdue", "Overdue", nil, true},
	{"draft", "Draft", []reconcile.State{reconcile.StateDraft}, false},
	{"all", "All", nil, false},
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
	Tab      string
	Tabs     []link
	Filters  []link
	Invoices []reconcile.Invoice
	// Totals are per currency, of every page of the listing.
	Totals   []reconcile.CurrencyTotals
	Search   string
	NextURL  string
	FirstURL string
	// ClearURL lists the tab without the search.
	ClearURL string
}

// listURL is the listing of a tab, narrowed to a state and a search, from
// a cursor.
func listURL(tab string, state reconcile.State, search, cursor string) string {
	q := url.Values{"tab": {tab}}
	if state != "" {
		q.Set("state", string(state))
	}
	if search != "" {
		q.Set("q", search)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return "/admin/ui/invoices?" + q.Encode()
}

// invoices answers GET /admin/ui/invoices?tab=&state=&q=&cursor=: a page
// of invoices, newest first, found by a part of their number or client
// when q is given, with the totals per currency of every page.
func (h *Handler) invoices(w http.ResponseWriter, r *http.Request, _ session) {
	q := r.URL.Query()
	tab := q.Get("tab")
	if tab == "" {
		tab = "open"
	}
	search := strings.TrimSpace(q.Get("q"))
	p := invoicesPage{base: base{Title: "Invoices", Nav: "invoices"}, Tab: tab, Search: search}
	filter := reconcile.InvoiceFilter{Limit: h.pageSize, Cursor: q.Get("cursor"), Search: search}
	known := false
	for _, t := range tabs {
		if t.Key == tab {
			known, filter.States, filter.Overdue = true, t.States, t.Overdue
		}
		p.Tabs = append(p.Tabs, link{Label: t.Label, URL: listURL(t.Key, "", search, ""), Current: t.Key == tab})
	}
	if !known {
		h.renderError(w, r, http.StatusNotFound, "Not found", "There is no tab "+tab+": use Open, Overdue, Draft or All.")
		return
	}
	state := reconcile.State(q.Get("state"))
	if tab == "all" {
		found := false
		for _, f := range allFilters {
			found = found || f.State == state
			p.Filters = append(p.Filters, link{Label: f.Label, URL: listURL(tab, f.State, search, ""), Current: f.State == state})
		}
		if !found {
			h.renderError(w, r, http.StatusBadRequest, "Check the filter", "Filter by Partial, Paid or Written-Off.")
			return
		}
		filter.State = state
	}
	page, err := h.store.ListInvoices(r.Context(), filter)
	if err == nil {
		p.Totals, err = h.store.InvoiceTotals(r.Context(), filter)
	}
	if err != nil {
		status, title, msg := h.refusal(r, err, nil)
		h.renderError(w, r, status, title, msg)
		return
	}
	p.Invoices = page.Invoices
	if page.NextCursor != "" {
		p.NextURL = listURL(tab, filter.State, search, page.NextCursor)
	}
	if filter.Cursor != "" {
		p.FirstURL = listURL(tab, filter.State, search, "")
	}
	if search != "" {
		p.ClearURL = listURL(tab, filter.State, "", "")
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
	// Jobs are the invoice's latest jobs, newest first.
	Jobs []jobView

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
	reconcile.JobEventIgnore:       "Ignore event",
	reconcile.JobEventApply:        "Apply event",
}

// mayCall reports whether the request's session may call the admin API's
// route of pattern, so that the console offers only what its role may do.
func mayCall(r *http.Request, pattern string) bool {
	s, ok := sessionOf(r)
	method, _, _ := strings.Cut(pattern, " ")
	return ok && s.principal.Role.Allows(admin.RequiredRole(pattern, method))
}

// jobNoun names a job in the invoice's list of jobs, where a verb would
// read as an action offered.
var jobNoun = map[reconcile.JobType]string{
	reconcile.JobRecordPayment: "Manual payment",
	reconcile.JobDeletePayment: "Payment deletion",
	reconcile.JobWriteOff:      "Write-off",
	reconcile.JobReopen:        "Reopening",
	reconcile.JobReconcile:     "Reconciliation run",
	reconcile.JobEventIgnore:   "Event ignored by hand",
	reconcile.JobEventApply:    "Event applied by hand",
}

// invoiceJobsListed is how many of its jobs the invoice page lists.
const invoiceJobsListed = 10

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
		// The same rules the ledger applies, and the same roles the admin
		// API checks: only an action it would take is offered.
		CanSend:           inv.State == reconcile.StateDraft && mayCall(r, "POST /admin/invoices/{id}/send"),
		CanRecord:         inv.SentAt != nil && inv.Unpaid() > 0 && mayCall(r, "POST /admin/invoices/{id}/payments"),
		CanDeletePayments: inv.CanDeletePayments() == nil && mayCall(r, "DELETE /admin/invoices/{id}/payments/{payment_id}"),
		CanCredit:         inv.SentAt != nil && inv.Balance > 0 && mayCall(r, "POST /admin/invoices/{id}/credit-notes"),
		CanReverseCredits: inv.CanReverseCreditNote() == nil && mayCall(r, "DELETE /admin/invoices/{id}/credit-notes/{credit_note_id}"),
		CanWriteOff:       inv.CanWriteOff() == nil && mayCall(r, "POST /admin/invoices/{id}/write-off"),
		CanReopen:         inv.CanReopen() == nil && mayCall(r, "POST /admin/invoices/{id}/reopen"),
	}
	jobs, err := h.store.ListJobs(r.Context(), reconcile.JobFilter{InvoiceID: id, Limit: invoiceJobsListed})
	if err != nil {
		return nil, err
	}
	for _, j := range jobs.Jobs {
		p.Jobs = append(p.Jobs, jobView{Job: j, What: jobNoun[j.Type], Done: j.Status.Finished()})
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
func (h *Handler) confirmDelete(w http.ResponseWriter, r *http.Request, s session) {
	if !mayCall(r, "DELETE /admin/invoices/{id}/payments/{payment_id}") {
		h.roleRefused(w, r, s, "delete a payment")
		return
	}
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
