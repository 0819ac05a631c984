package admin

import (
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
)

// Page sizes of GET /admin/events.
const (
	defaultEventLimit = 100
	maxEventLimit     = 500
)

type eventsAnswer struct {
	Events []reconcile.Event `json:"events"`
}

// listEvents answers GET /admin/events?status=&limit=: stored Stripe events,
// newest first.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !reconcile.ValidEventStatus(status) {
		return invalid("invalid_status", "status must be received, processed, ignored, unmatched, needs_review or failed")
	}
	limit, err := parseLimit(q.Get("limit"), defaultEventLimit, maxEventLimit)
	if err != nil {
		return err
	}
	events, err := a.store.ListEvents(r.Context(), reconcile.EventStatus(status), limit)
	if err != nil {
		return err
	}
	if events == nil {
		events = []reconcile.Event{}
	}
	a.WriteJSON(w, http.StatusOK, eventsAnswer{Events: events})
	return nil
}
