package cli

import (
	"fmt"
	"net/http"
	"net/url"
)

func eventsList(s *session, args []string) error {
	f := newFlags("events list [--status S] [--type T] [--limit N] [--cursor C]",
		"Lists the Stripe events received, newest first, a page at a time; --cursor takes the next cursor a page printed.")
	status := f.String("status", "", "only events in this `status`: received, processed, ignored, unmatched, needs_review, failed")
	typ := f.String("type", "", "only events of this Stripe `type`, such as charge.refunded")
	limit := f.Int("limit", 0, "at most `N` events (the server's default when 0)")
	cursor := f.String("cursor", "", "the `cursor` of the next page")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	if *limit < 0 {
		return s.badUsage(f, "--limit must not be negative")
	}
	q := pageQuery(map[string]string{"status": *status, "type": *typ, "cursor": *cursor}, *limit)
	var answer struct {
		Events     []event `json:"events"`
		NextCursor string  `json:"next_cursor"`
	}
	raw, err := s.api.get(s.ctx, path("events"), q, &answer)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	if len(answer.Events) == 0 {
		fmt.Fprintln(s.stdout, "no events")
		return nil
	}
	t := newTable(s.stdout, "ID", "TYPE", "STATUS", "INVOICE", "RECEIVED", "ERROR")
	for _, e := range answer.Events {
		t.row(e.ID, e.Type, e.Status, str(e.InvoiceID), e.ReceivedAt, e.Error)
	}
	t.flush()
	if answer.NextCursor != "" {
		fmt.Fprintf(s.stdout, "\nnext page: --cursor %s\n", answer.NextCursor)
	}
	return nil
}

func reconcileRun(s *session, args []string) error {
	f := newFlags("reconcile [--full] [--wait]",
		"Starts a reconciliation run now: matches Stripe's records against the ledger.")
	full := f.Bool("full", false, "check every invoice, not only those touched since the last run")
	wait := f.Bool("wait", false, "wait until the run has finished (at most 30s)")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	q := url.Values{}
	if *full {
		q.Set("full", "true")
	}
	raw, err := s.api.do(s.ctx, http.MethodPost, path("reconcile"), q, nil, nil, nil)
	if err != nil {
		return err
	}
	return s.queued(raw, "", *wait)
}

func reportSummary(s *session, args []string) error {
	f := newFlags("reports summary [--from YYYY-MM-DD] [--to YYYY-MM-DD]",
		"Totals per currency of the money dated in the range, and what is outstanding today.")
	from := f.String("from", "", "first `date` of the range (the server's default when empty)")
	to := f.String("to", "", "last `date` of the range (the server's default when empty)")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	if err := checkDate("from", *from); err != nil {
		return err
	}
	if err := checkDate("to", *to); err != nil {
		return err
	}
	q := url.Values{}
	if *from != "" {
		q.Set("from", *from)
	}
	if *to != "" {
		q.Set("to", *to)
	}
	var sum summary
	raw, err := s.api.get(s.ctx, path("reports", "summary"), q, &sum)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "from %s to %s\n\n", cell(sum.From), cell(sum.To))
	if len(sum.Currencies) == 0 {
		fmt.Fprintln(s.stdout, "no money in this range")
		return nil
	}
	t := newTable(s.stdout, "CURRENCY", "ONLINE", "MANUAL", "REFUNDS", "DISPUTES", "CREDIT-NOTES", "WRITTEN-OFF", "OUTSTANDING")
	for _, c := range sum.Currencies {
		cur := c.Currency
		t.row(cur, FormatAmount(c.PaymentsOnline, cur), FormatAmount(c.PaymentsManual, cur),
			FormatAmount(c.Refunds, cur), FormatAmount(c.Disputes, cur), FormatAmount(c.CreditNotes, cur), FormatAmount(c.WrittenOff, cur),
			FormatAmount(c.Outstanding, cur))
	}
	t.flush()
	return nil
}

func reportAging(s *session, args []string) error {
	f := newFlags("reports aging [--as-of YYYY-MM-DD]",
		"Open balances of sent invoices, per currency, by days past their due date on --as-of.")
	asOf := f.String("as-of", "", "the `date` ages are counted on (default today)")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	if err := checkDate("as-of", *asOf); err != nil {
		return err
	}
	q := url.Values{}
	if *asOf != "" {
		q.Set("as_of", *asOf)
	}
	var a aging
	raw, err := s.api.get(s.ctx, path("reports", "aging"), q, &a)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "as of %s\n\n", cell(a.AsOf))
	if len(a.Currencies) == 0 {
		fmt.Fprintln(s.stdout, "nothing open")
		return nil
	}
	t := newTable(s.stdout, "CURRENCY", "CURRENT", "1-30 DAYS", "31-60 DAYS", "61-90 DAYS", "OVER 90 DAYS")
	for _, c := range a.Currencies {
		cur := c.Currency
		t.row(cur, FormatAmount(c.Current, cur), FormatAmount(c.Overdue1To30, cur), FormatAmount(c.Overdue31To60, cur),
			FormatAmount(c.Overdue61To90, cur), FormatAmount(c.OverdueOver90, cur))
	}
	t.flush()
	return nil
}

func reportMovements(s *session, args []string) error {
	f := newFlags("reports movements [--from YYYY-MM-DD] [--to YYYY-MM-DD] > movements.csv",
		"Writes every money movement dated in the range to stdout as CSV, as the server streams it:\n"+
			"payments, refunds, write-offs and their reversals, amounts in minor units, with who made each.")
	from := f.String("from", "", "first `date` of the range (the server's default when empty)")
	to := f.String("to", "", "last `date` of the range (the server's default when empty)")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	if err := checkDate("from", *from); err != nil {
		return err
	}
	if err := checkDate("to", *to); err != nil {
		return err
	}
	q := url.Values{}
	if *from != "" {
		q.Set("from", *from)
	}
	if *to != "" {
		q.Set("to", *to)
	}
	return s.api.stream(s.ctx, path("reports", "movements.csv"), q, s.stdout)
}
