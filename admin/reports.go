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
	q := r.URL.Query()
	today := reconcile.DateOf(a.now())
	from := reconcile.Date{Time: time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)}
	to := today
	if s := q.Get("from"); s != "" {
		d, err := parseDate("from", &s)
		if err != nil {
			return err
		}
		from = *d
	}
	if s := q.Get("to"); s != "" {
		d, err := parseDate("to", &s)
		if err != nil {
			return err
		}
		to = *d
	}
	if to.Before(from.Time) {
		return invalid("invalid_range", "to must not be before from")
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
