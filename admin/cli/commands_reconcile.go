package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The CLI's copies of the reconciliation answers (API.md).

type discrepancy struct {
	ID              string  `json:"id"`
	Kind            string  `json:"kind"`
	InvoiceID       *string `json:"invoice_id"`
	ProviderRef     string  `json:"provider_ref"`
	Currency        string  `json:"currency"`
	LedgerAmount    *int64  `json:"ledger_amount"`
	StripeAmount    *int64  `json:"stripe_amount"`
	Detail          string  `json:"detail"`
	Status          string  `json:"status"`
	FoundAt         string  `json:"found_at"`
	LastSeenRun     string  `json:"last_seen_run"`
	ResolvedAt      *string `json:"resolved_at"`
	ResolutionNotes string  `json:"resolution_notes"`
	Actor           *string `json:"actor"`
}

type run struct {
	ID         string   `json:"id"`
	Full       bool     `json:"full"`
	Status     string   `json:"status"`
	StartedAt  string   `json:"started_at"`
	FinishedAt *string  `json:"finished_at"`
	Steps      runSteps `json:"steps"`
	Error      string   `json:"error"`
}

// runSteps holds the figures runs list shows of each step.
type runSteps struct {
	Relay *struct {
		EventsRelayed    int `json:"events_relayed"`
		UnmatchedRetried int `json:"unmatched_retried"`
	} `json:"relay"`
	StripePull *struct {
		Skipped string `json:"skipped"`
		Stored  int    `json:"stored"`
	} `json:"stripe_pull"`
	Ledger *struct {
		Checked    int `json:"checked"`
		DriftFound int `json:"drift_found"`
		Repaired   int `json:"repaired"`
	} `json:"ledger"`
	StripeCompare *struct {
		Skipped  string `json:"skipped"`
		Compared int    `json:"compared"`
		Pulled   int    `json:"pulled"`
		Opened   int    `json:"opened"`
		Closed   int    `json:"closed"`
	} `json:"stripe_compare"`
}

// figures says in a few words what a run found and did.
func (s runSteps) figures() string {
	var parts []string
	if l := s.Ledger; l != nil {
		parts = append(parts, fmt.Sprintf("%d checked, %d drifted, %d repaired", l.Checked, l.DriftFound, l.Repaired))
	}
	if r := s.Relay; r != nil && r.EventsRelayed+r.UnmatchedRetried > 0 {
		parts = append(parts, fmt.Sprintf("%d relayed, %d unmatched retried", r.EventsRelayed, r.UnmatchedRetried))
	}
	if p := s.StripePull; p != nil && p.Skipped == "" {
		parts = append(parts, fmt.Sprintf("%d events pulled", p.Stored))
	}
	switch c := s.StripeCompare; {
	case c == nil:
	case c.Skipped != "":
		parts = append(parts, "Stripe not compared ("+c.Skipped+")")
	default:
		parts = append(parts, fmt.Sprintf("%d Stripe payments compared, %d pulled, %d discrepancies opened, %d closed",
			c.Compared, c.Pulled, c.Opened, c.Closed))
	}
	return strings.Join(parts, "; ")
}

// figure shows one side of a discrepancy: an amount, or "none".
func figure(minor *int64, currency string) string {
	if minor == nil {
		return "none"
	}
	if currency == "" {
		return strconv.FormatInt(*minor, 10)
	}
	return money(*minor, currency)
}

func discrepanciesList(s *session, args []string) error {
	f := newFlags("discrepancies list [--status open|resolved] [--kind K] [--limit N] [--cursor C]",
		"Lists the differences reconciliation runs found between the ledger and Stripe, newest first.")
	status := f.String("status", "", "open (the default) or resolved")
	kind := f.String("kind", "", "only this `kind`: missing_in_ledger, missing_in_stripe, amount_mismatch, refund_mismatch, dispute_mismatch, currency_mismatch")
	limit := f.Int("limit", 0, "at most `N` (the server's default when 0)")
	cursor := f.String("cursor", "", "the `cursor` of the next page")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	if *limit < 0 {
		return s.badUsage(f, "--limit must not be negative")
	}
	q := pageQuery(map[string]string{"status": *status, "kind": *kind, "cursor": *cursor}, *limit)
	var page struct {
		Discrepancies []discrepancy `json:"discrepancies"`
		NextCursor    string        `json:"next_cursor"`
	}
	raw, err := s.api.get(s.ctx, path("discrepancies"), q, &page)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	if len(page.Discrepancies) == 0 {
		fmt.Fprintln(s.stdout, "no discrepancies")
	} else {
		t := newTable(s.stdout, "ID", "KIND", "PAYMENT", "INVOICE", "LEDGER", "STRIPE", "FOUND", "DETAIL")
		for _, d := range page.Discrepancies {
			t.row(d.ID, d.Kind, d.ProviderRef, str(d.InvoiceID), figure(d.LedgerAmount, d.Currency),
				figure(d.StripeAmount, d.Currency), d.FoundAt, d.Detail)
		}
		t.flush()
	}
	if page.NextCursor != "" {
		fmt.Fprintf(s.stdout, "\nnext page: --cursor %s\n", page.NextCursor)
	}
	return nil
}

func discrepanciesResolve(s *session, args []string) error {
	f := newFlags("discrepancies resolve ID --notes TEXT",
		"Resolves an open discrepancy: you have looked at it, and the notes say what you found or did.\n"+
			"Runs do not open it again while they find the same figures.")
	notes := f.String("notes", "", "what you found or did (required)")
	pos, err := s.parse(f, args, "ID")
	if err != nil {
		return err
	}
	if strings.TrimSpace(*notes) == "" {
		return s.badUsage(f, "--notes is required: say what you found or did")
	}
	var d discrepancy
	raw, err := s.api.do(s.ctx, http.MethodPost, path("discrepancies", pos[0], "resolve"), nil,
		map[string]string{"notes": *notes}, nil, &d)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "discrepancy %s (%s of %s): resolved by %s\n", cell(d.ID), cell(d.Kind), cell(d.ProviderRef), cell(str(d.Actor)))
	return nil
}

func eventsResolve(s *session, args []string) error {
	f := newFlags("events resolve EVENT (--ignore --notes TEXT | --apply INVOICE [--notes TEXT]) [--idempotency-key K] [--wait]",
		"Resolves a Stripe event waiting for a person. --ignore makes an unmatched or needs_review event\n"+
			"ignored, and no run matches it again; --apply records an unmatched payment on INVOICE.")
	ignore := f.Bool("ignore", false, "ignore the event")
	apply := f.String("apply", "", "apply the payment to this `invoice`")
	notes := f.String("notes", "", "why (required with --ignore)")
	jf := addJobFlags(f.FlagSet)
	pos, err := s.parse(f, args, "EVENT")
	if err != nil {
		return err
	}
	body := map[string]string{}
	switch {
	case *ignore == (*apply != ""):
		return s.badUsage(f, "give one of --ignore and --apply INVOICE")
	case *ignore && strings.TrimSpace(*notes) == "":
		return s.badUsage(f, "--notes is required with --ignore: say why")
	case *ignore:
		body["action"] = "ignore"
	default:
		body["action"], body["invoice_id"] = "apply", *apply
	}
	if *notes != "" {
		body["notes"] = *notes
	}
	raw, err := s.api.do(s.ctx, http.MethodPost, path("events", pos[0], "resolve"), nil, body, jf.headers(), nil)
	if err != nil {
		return err
	}
	return s.queued(raw, *apply, *jf.wait)
}

func runsList(s *session, args []string) error {
	f := newFlags("runs list [--limit N]", "Lists the last reconciliation runs, newest first, with what each found and did.")
	limit := f.Int("limit", 0, "at most `N` runs (the server's default when 0)")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	if *limit < 0 {
		return s.badUsage(f, "--limit must not be negative")
	}
	var answer struct {
		Runs []json.RawMessage `json:"runs"`
	}
	raw, err := s.api.get(s.ctx, path("reconcile", "runs"), pageQuery(nil, *limit), &answer)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	if len(answer.Runs) == 0 {
		fmt.Fprintln(s.stdout, "no runs")
		return nil
	}
	t := newTable(s.stdout, "ID", "KIND", "STATUS", "STARTED", "FIGURES", "ERROR")
	for _, b := range answer.Runs {
		var r run
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("unexpected answer from the admin API: a run: %w", err)
		}
		kind := "incremental"
		if r.Full {
			kind = "full"
		}
		t.row(r.ID, kind, r.Status, r.StartedAt, r.Steps.figures(), r.Error)
	}
	t.flush()
	return nil
}
