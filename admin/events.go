package admin

import (
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
)

// listEvents answers GET /admin/events?status=&type=&limit=&cursor=: stored
// Stripe events, newest first, a page at a time.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"), 0, reconcile.MaxEventPageSize) // 0: the store's default
	if err != nil {
		return err
	}
	page, err := a.store.ListEvents(r.Context(), reconcile.EventFilter{
		Status: reconcile.EventStatus(q.Get("status")), Type: q.Get("type"), Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		return err
	}
	a.WriteJSON(w, http.StatusOK, page)
	return nil
}
