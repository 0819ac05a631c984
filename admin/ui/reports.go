package ui

import (
	"net/http"
	"net/url"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

type reportsPage struct {
	base
	AsOf     string
	Aging    []reconcile.AgingBuckets
	From, To string
	// MonthCSV downloads this month's movements.
	MonthCSV string
}

// reports answers GET /admin/ui/reports?as_of=: the aging table, and the
// movements CSV to download.
func (h *Handler) reports(w http.ResponseWriter, r *http.Request, _ session) {
	today := reconcile.DateOf(h.now())
	asOf := today
	if s := r.URL.Query().Get("as_of"); s != "" {
		d, err := reconcile.ParseDate(s)
		if err != nil {
			h.renderError(w, r, http.StatusBadRequest, "Check the date", "The date must be a day, YYYY-MM-DD.")
			return
		}
		asOf = d
	}
	aging, err := h.store.Aging(r.Context(), asOf)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	first := reconcile.Date{Time: time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)}
	p := reportsPage{
		base: base{Title: "Reports", Nav: "reports"}, AsOf: asOf.String(), Aging: aging,
		From: first.String(), To: today.String(),
		MonthCSV: "/admin/ui/reports/movements.csv?" + url.Values{"from": {first.String()}, "to": {today.String()}}.Encode(),
	}
	h.render(w, r, http.StatusOK, "reports", &p)
}

// movementsCSV answers GET /admin/ui/reports/movements.csv?from=&to=: the
// admin API's movements CSV, for a console session.
func (h *Handler) movementsCSV(w http.ResponseWriter, r *http.Request, _ session) {
	q := r.URL.Query()
	from, errFrom := reconcile.ParseDate(q.Get("from"))
	to, errTo := reconcile.ParseDate(q.Get("to"))
	if errFrom != nil || errTo != nil || to.Before(from.Time) {
		h.renderError(w, r, http.StatusBadRequest, "Check the dates",
			"From and to must be days, YYYY-MM-DD, and to may not be before from.")
		return
	}
	if err := h.api.WriteMovementsCSV(w, r, from, to); err != nil {
		status, title, msg := h.refusal(r, err, nil)
		h.renderError(w, r, status, title, msg)
	}
}
