package admin

import (
	"context"
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
)

// listDiscrepancies answers GET /admin/discrepancies?status=&kind=&limit=&cursor=:
// the differences between the ledger and Stripe, open ones by default,
// newest first, a page at a time.
func (a *API) listDiscrepancies(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"), 0, reconcile.MaxPageSize) // 0: the store's default
	if err != nil {
		return err
	}
	page, err := a.store.ListDiscrepancies(r.Context(), reconcile.DiscrepancyFilter{
		Status: reconcile.DiscrepancyStatus(q.Get("status")), Kind: reconcile.DiscrepancyKind(q.Get("kind")),
		Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		return err
	}
	a.WriteJSON(w, http.StatusOK, page)
	return nil
}

// resolveDiscrepancyBody is the body of POST /admin/discrepancies/{id}/resolve.
type resolveDiscrepancyBody struct {
	Notes string `json:"notes"`
}

// resolveDiscrepancy answers POST /admin/discrepancies/{id}/resolve: 200
// with the discrepancy, resolved by this operator with the notes; 409 if it
// was resolved already.
func (a *API) resolveDiscrepancy(w http.ResponseWriter, r *http.Request) error {
	var b resolveDiscrepancyBody
	if err := a.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	d, err := a.ResolveDiscrepancy(r.Context(), r.PathValue("id"), b.Notes, ActorFrom(r.Context()))
	if err != nil {
		return err
	}
	a.WriteJSON(w, http.StatusOK, d)
	return nil
}

// ResolveDiscrepancy resolves an open discrepancy as actor, with notes: the
// one path of the JSON API and the console.
func (a *API) ResolveDiscrepancy(ctx context.Context, id, notes, actor string) (reconcile.Discrepancy, error) {
	if err := checkNotes(notes); err != nil {
		return reconcile.Discrepancy{}, err
	}
	return a.store.ResolveDiscrepancy(ctx, id, notes, actor)
}
