package admin

import (
	"net/http"

	"github.com/payrecon/reconciler/reconcile"
)

// Page sizes of GET /admin/reconcile/runs.
const defaultRunLimit = 50

type runsAnswer struct {
	Runs []reconcile.Run `json:"runs"`
}

// listRuns answers GET /admin/reconcile/runs?limit=: reconciliation runs,
// newest first, with each step's figures.
func (a *API) listRuns(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseLimit(r.URL.Query().Get("limit"), defaultRunLimit, reconcile.MaxRunsListed)
	if err != nil {
		return err
	}
	runs, err := a.store.ListRuns(r.Context(), limit)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []reconcile.Run{}
	}
	a.WriteJSON(w, http.StatusOK, runsAnswer{Runs: runs})
	return nil
}
