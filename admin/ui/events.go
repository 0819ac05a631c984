package ui

import (
	"net/http"
	"slices"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

// attention are the event statuses an operator has to look at.
var attention = []reconcile.EventStatus{reconcile.EventUnmatched, reconcile.EventNeedsReview, reconcile.EventFailed}

// Listing sizes of the events page.
const (
	eventsPerStatus = 50
	runsListed      = 20
)

type eventsPage struct {
	base
	Events []reconcile.Event
	// Counts are the events listed per status, in the order of attention.
	Counts []statusCount
	Runs   []runView
}

type statusCount struct {
	Status reconcile.EventStatus
	Count  int
}

// runView is a run with its duration.
type runView struct {
	reconcile.Run
	Took string
}

// events answers GET /admin/ui/events: the Stripe events that need
// attention (unmatched, needs review, failed), newest first, and the last
// reconciliation runs.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, _ session) {
	ctx := r.Context()
	p := eventsPage{base: base{Title: "Events & runs", Nav: "events"}}
	for _, st := range attention {
		page, err := h.store.ListEvents(ctx, reconcile.EventFilter{Status: st, Limit: eventsPerStatus})
		if err != nil {
			status, title, msg := h.refusal(r, err, nil)
			h.renderError(w, r, status, title, msg)
			return
		}
		p.Events = append(p.Events, page.Events...)
		p.Counts = append(p.Counts, statusCount{Status: st, Count: len(page.Events)})
	}
	slices.SortStableFunc(p.Events, func(a, b reconcile.Event) int { return b.ReceivedAt.Compare(a.ReceivedAt) })
	runs, err := h.store.ListRuns(ctx, runsListed)
	if err != nil {
		status, title, msg := h.refusal(r, err, nil)
		h.renderError(w, r, status, title, msg)
		return
	}
	for _, run := range runs {
		v := runView{Run: run, Took: "—"}
		if run.FinishedAt != nil {
			v.Took = run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond).String()
		}
		p.Runs = append(p.Runs, v)
	}
	h.render(w, r, http.StatusOK, "events", &p)
}
