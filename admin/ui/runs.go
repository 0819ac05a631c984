package ui

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

// runView is a run as a person reads it: its duration, and each step's
// figures as labelled fields rather than its stored JSON.
type runView struct {
	reconcile.Run
	Took  string
	Steps []stepView
}

// stepView is one step of a run: its figures, or why it was skipped, and
// its error.
type stepView struct {
	Name    string
	Figures []figureView
	Skipped string
	Error   string
}

// figureView is one labelled figure of a step.
type figureView struct{ Label, Value string }

func newRunView(run reconcile.Run) runView {
	v := runView{Run: run, Took: "—"}
	if run.FinishedAt != nil {
		v.Took = run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond).String()
	}
	var steps reconcile.RunSteps
	if err := json.Unmarshal(run.Steps, &steps); err != nil {
		v.Steps = []stepView{{Name: "Steps", Error: "the run's figures cannot be read: " + err.Error()}}
		return v
	}
	v.Steps = stepViews(steps)
	return v
}

func count(n int) string { return strconv.Itoa(n) }

// stepViews lists the steps a run reached, in the order it runs them.
func stepViews(s reconcile.RunSteps) []stepView {
	var out []stepView
	if r := s.Relay; r != nil {
		out = append(out, stepView{Name: "Relay", Error: r.Error, Figures: []figureView{
			{"Events relayed", count(r.EventsRelayed)},
			{"Unmatched events retried", count(r.UnmatchedRetried)},
		}})
	}
	if p := s.StripePull; p != nil {
		st := stepView{Name: "Stripe events pull", Skipped: p.Skipped, Error: p.Error}
		if p.Skipped == "" {
			mode := "every event"
			if p.Mode == "undelivered" {
				mode = "only undelivered"
			}
			st.Figures = []figureView{{"Listed", mode + since(p.Since)}, {"Events listed", count(p.Listed)},
				{"Events pulled", count(p.Stored)}}
		}
		out = append(out, st)
	}
	if l := s.Ledger; l != nil {
		scope := "every invoice"
		if l.Scope == "updated_since" {
			scope = "invoices changed" + since(l.Since)
		}
		out = append(out, stepView{Name: "Ledger check", Error: l.Error, Figures: []figureView{
			{"Checked", scope}, {"Invoices checked", count(l.Checked)}, {"Drift found", count(l.DriftFound)},
			{"Drift repaired", count(l.Repaired)}, {"Overpaid invoices", count(l.OverpaidCount)},
			{"Events to review", count(l.NeedsReview)},
		}})
	}
	if c := s.StripeCompare; c != nil {
		st := stepView{Name: "Stripe comparison", Skipped: c.Skipped, Error: c.Error}
		if c.Skipped == "" {
			window := "the last 30 days"
			if c.Scope == "since_cursor" {
				window = "new payments"
			}
			st.Figures = []figureView{{"Compared", window + since(c.Since)}, {"Stripe objects listed", count(c.Listed)},
				{"Stripe payments compared", count(c.Compared)}, {"Looked up one by one", count(c.LookedUp)},
				{"Payments pulled", count(c.Pulled)}, {"Differences found", count(c.Found)},
				{"Discrepancies opened", count(c.Opened)}, {"Discrepancies closed", count(c.Closed)},
				{"Took", (time.Duration(c.Seconds * float64(time.Second))).Round(time.Millisecond).String()}}
			if c.Unchecked > 0 {
				st.Figures = append(st.Figures, figureView{"Left for a later run", count(c.Unchecked)})
			}
		}
		out = append(out, st)
	}
	return out
}

// since says from when a step looked, if it says.
func since(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmt.Sprintf(" since %s", when(*t))
}
