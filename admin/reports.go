package admin

import (
	"net/http"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

type summaryAnswer struct {
	From       reconcile.Date              `json:"from"`
	To         reconcile.Date              `json:"to"`
	Currencies []reconcile.CurrencySummary `json:"currencies"`
}

// summary answers GET /admin/reports/summary?from=&to=. Without from, the
// range starts on the first of the current month; without to, it ends today
// (UTC).
func (a *API) summary(w http.ResponseWriter, r *http.Request) error {
	from, to, err := a.dateRange(r)
	if err != nil {
		return err
	}
	currencies, err := a.store.Summary(r.Context(), from, to)
	if err != nil {
		return err
	}
	if currencies == nil {
		currencies = []reconcile.CurrencySummary{}
	}
	a.WriteJSON(w, http.StatusOK, summaryAnswer{From: from, To: to, Currencies: currencies})
	return nil
}

// dateRange reads a report's from and to: by default the first of the
// current month and today (UTC).
func (a *API) dateRange(r *http.Request) (from, to reconcile.Date, err error) {
	q := r.URL.Query()
	today := reconcile.DateOf(a.now())
	from = reconcile.Date{Time: time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)}
	to = today
	if s := q.Get("from"); s != "" {
		d, err := parseDate("from", &s)
		if err != nil {
			return from, to, err
		}
		from = *d
	}
	if s := q.Get("to"); s != "" {
		d, err := parseDate("to", &s)
		if err != nil {
			return from, to, err
		}
		to = *d
	}
	if to.Before(from.Time) {
		return from, to, invalid("invalid_range", "to must not be before from")
	}
	return from, to, nil
}

type agingAnswer struct {
	AsOf       reconcile.Date           `json:"as_of"`
	Currencies []reconcile.AgingBuckets `json:"currencies"`
}

// aging answers GET /admin/reports/aging?as_of=: today's open balances of
// sent invoices by days past due on as_of (default today, UTC).
func (a *API) aging(w http.ResponseWriter, r *http.Request) error {
	asOf := reconcile.DateOf(a.now())
	if s := r.URL.Query().Get("as_of"); s != "" {
		d, err := parseDate("as_of", &s)
		if err != nil {
			return err
		}
		asOf = *d
	}
	currencies, err := a.store.Aging(r.Context(), asOf)
	if err != nil {
		return err
	}
	if currencies == nil {
		currencies = []reconcile.AgingBuckets{}
	}
	a.WriteJSON(w, http.StatusOK, agingAnswer{AsOf: asOf, Currencies: currencies})
	return nil
}
