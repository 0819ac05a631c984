package ui

import (
	"net/http"
	"slices"

	"github.com/payrecon/reconciler/reconcile"
)

// attention are the event statuses an operator has to look at.
var attention = []reconcile.EventStatus{reconcile.EventUnmatched, reconcile.EventNeedsReview, reconcile.EventFailed}

// Listing sizes of the Needs attention page.
const (
	eventsPerStatus     = 50
	discrepanciesListed = 50
	runsListed          = 20
)

// attentionPage is what needs a person: the open discrepancies between the
// ledger and Stripe, the events waiting for a person, and the last runs.
type attentionPage struct {
	base
	// Job is an event's resolution followed after an action, reloaded until
	// it is finished.
	Job *jobView
	// Discrepancies are the newest open ones; OpenDiscrepancies counts all.
	Discrepancies     []reconcile.Discrepancy
	OpenDiscrepancies int
	Events            []eventView
	// Counts are the events listed per status, in the order of attention.
	Counts []statusCount
	Runs   []runView
	// FormKey makes posting one rendering of a form twice queue one job.
	FormKey string
}

type statusCount struct {
	Status reconcile.EventStatus
	Count  int
}

// eventView is an event with the resolutions the ledger would take.
type eventView struct {
	reconcile.Event
	CanIgnore, CanApply bool
}

// events answers GET /admin/ui/events?job=&resolved=: what needs attention.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, _ session) {
	p, err := h.loadAttention(r)
	if err != nil {
		status, title, msg := h.refusal(r, err, nil)
		h.renderError(w, r, status, title, msg)
		return
	}
	q := r.URL.Query()
	if id := q.Get("job"); id != "" {
		j, err := h.store.GetJob(r.Context(), id)
		switch {
		case err == nil && (j.Type == reconcile.JobEventIgnore || j.Type == reconcile.JobEventApply):
			p.Job = &jobView{Job: j, What: jobWhat[j.Type], Done: j.Status.Finished()}
			p.Refresh = !p.Job.Done
		case err == nil || isNotFound(err):
			p.ErrorTitle, p.Error = "Not found", "There is no event job "+id+"."
		default:
			status, title, msg := h.refusal(r, err, nil)
			h.renderError(w, r, status, title, msg)
			return
		}
	}
	if id := q.Get("resolved"); id != "" {
		p.Notice = "Discrepancy " + id + " resolved."
	}
	h.render(w, r, http.StatusOK, "events", p)
}

// loadAttention reads what the Needs attention page shows.
func (h *Handler) loadAttention(r *http.Request) (*attentionPage, error) {
	ctx := r.Context()
	p := &attentionPage{base: base{Title: "Needs attention", Nav: "events"}, FormKey: newFormKey()}
	open, err := h.store.ListDiscrepancies(ctx, reconcile.DiscrepancyFilter{Status: reconcile.DiscrepancyOpen, Limit: discrepanciesListed})
	if err != nil {
		return nil, err
	}
	p.Discrepancies = open.Discrepancies
	counts, err := h.store.OpenDiscrepancies(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range counts {
		p.OpenDiscrepancies += n
	}
	for _, st := range attention {
		page, err := h.store.ListEvents(ctx, reconcile.EventFilter{Status: st, Limit: eventsPerStatus})
		if err != nil {
			return nil, err
		}
		for _, e := range page.Events {
			p.Events = append(p.Events, eventView{Event: e,
				CanIgnore: e.CanResolve(reconcile.ResolveIgnore) == nil, CanApply: e.CanResolve(reconcile.ResolveApply) == nil})
		}
		p.Counts = append(p.Counts, statusCount{Status: st, Count: len(page.Events)})
	}
	slices.SortStableFunc(p.Events, func(a, b eventView) int { return b.ReceivedAt.Compare(a.ReceivedAt) })
	runs, err := h.store.ListRuns(ctx, runsListed)
	if err != nil {
		return nil, err
	}
	for _, run := range runs {
		p.Runs = append(p.Runs, newRunView(run))
	}
	return p, nil
}

// renderAttentionRefusal shows the Needs attention page again with the
// refusal of an action at the top; nothing was changed.
func (h *Handler) renderAttentionRefusal(w http.ResponseWriter, r *http.Request, err error) {
	p, loadErr := h.loadAttention(r)
	if loadErr != nil {
		status, title, msg := h.refusal(r, loadErr, nil)
		h.renderError(w, r, status, title, msg)
		return
	}
	status, title, msg := h.refusal(r, err, nil)
	p.ErrorTitle, p.Error = title, msg
	h.render(w, r, status, "events", p)
}
