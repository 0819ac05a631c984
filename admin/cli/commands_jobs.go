package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// How often and how long --wait polls a job.
const (
	waitPoll    = 200 * time.Millisecond
	waitTimeout = 30 * time.Second
)

func jobsList(s *session, args []string) error {
	f := newFlags("jobs list [--status S] [--type T] [--invoice ID] [--limit N] [--cursor C]",
		"Lists operators' jobs, newest first, a page at a time; --cursor takes the next cursor a page printed.")
	status := f.String("status", "", "only jobs in this `status`: queued, running, retrying, succeeded, failed")
	typ := f.String("type", "", "only jobs of this `type`, such as payment.record")
	invoice := f.String("invoice", "", "only jobs of this `invoice` id")
	limit := f.Int("limit", 0, "at most `N` jobs (the server's default when 0)")
	cursor := f.String("cursor", "", "the `cursor` of the next page")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	if *limit < 0 {
		return s.badUsage(f, "--limit must not be negative")
	}
	q := pageQuery(map[string]string{"status": *status, "type": *typ, "invoice_id": *invoice, "cursor": *cursor}, *limit)
	var page struct {
		Jobs       []job  `json:"jobs"`
		NextCursor string `json:"next_cursor"`
	}
	raw, err := s.api.get(s.ctx, path("jobs"), q, &page)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	if len(page.Jobs) == 0 {
		fmt.Fprintln(s.stdout, "no jobs")
	} else {
		t := newTable(s.stdout, "ID", "TYPE", "STATUS", "INVOICE", "CREATED", "ERROR")
		for _, j := range page.Jobs {
			t.row(j.ID, j.Type, j.Status, str(j.InvoiceID), j.CreatedAt, j.Error)
		}
		t.flush()
	}
	if page.NextCursor != "" {
		fmt.Fprintf(s.stdout, "\nnext page: --cursor %s\n", page.NextCursor)
	}
	return nil
}

// pageQuery is the query of a listing: the filters that are set, and the
// limit when positive.
func pageQuery(filters map[string]string, limit int) url.Values {
	q := url.Values{}
	for k, v := range filters {
		if v != "" {
			q.Set(k, v)
		}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

func jobsShow(s *session, args []string) error {
	f := newFlags("jobs show JOB_ID", "Shows a job: its status, and its error when it failed.")
	pos, err := s.parse(f, args, "JOB_ID")
	if err != nil {
		return err
	}
	var j job
	raw, err := s.api.get(s.ctx, path("jobs", pos[0]), nil, &j)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	t := newTable(s.stdout)
	t.row("id:", j.ID)
	t.row("type:", j.Type)
	t.row("status:", j.Status)
	if j.Actor != "" {
		t.row("by:", j.Actor)
	}
	if j.InvoiceID != nil {
		t.row("invoice:", *j.InvoiceID)
	}
	if j.Error != "" {
		t.row("error:", j.Error)
	}
	if r := compact(j.Result); r != "" && r != "null" {
		t.row("result:", r)
	}
	t.row("created at:", j.CreatedAt)
	if j.FinishedAt != nil {
		t.row("finished at:", *j.FinishedAt)
	}
	t.flush()
	return nil
}

// compact is raw JSON on one line.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// queued reports a job the API just queued (raw is its answer). With wait
// it follows the job to its end and then shows invoiceID's new balance
// (none when invoiceID is empty); a failed job is an error.
func (s *session) queued(raw []byte, invoiceID string, wait bool) error {
	var j job
	if err := json.Unmarshal(raw, &j); err != nil || j.ID == "" {
		return fmt.Errorf("unexpected answer from the admin API: not a job: %s", raw)
	}
	if !wait {
		if s.json {
			writeJSON(s.stdout, raw)
			return nil
		}
		s.jobLine(j)
		fmt.Fprintf(s.stdout, "follow it with: reconciler admin jobs show %s\n", cell(j.ID))
		return nil
	}
	if !s.json {
		s.jobLine(j)
	}
	j, raw, err := s.waitJob(j, raw)
	if err != nil {
		return err
	}
	answers := map[string]json.RawMessage{"job": raw}
	var inv invoice
	if j.Status == "succeeded" && invoiceID != "" {
		if answers["invoice"], err = s.api.get(s.ctx, path("invoices", invoiceID), nil, &inv); err != nil {
			return fmt.Errorf("job %s succeeded, but reading invoice %s failed: %w", j.ID, invoiceID, err)
		}
	}
	if s.json {
		both, _ := json.Marshal(answers)
		writeJSON(s.stdout, both)
	} else {
		s.jobLine(j)
		if inv.ID != "" {
			fmt.Fprintf(s.stdout, "invoice %s: %s, balance %s\n", cell(inv.ID), cell(inv.State), money(inv.Balance, inv.Currency))
		}
	}
	if j.Status == "failed" {
		return &jobFailedError{j}
	}
	return nil
}

// jobLine prints "job ID: STATUS (TYPE)" and the result, if any.
func (s *session) jobLine(j job) {
	fmt.Fprintf(s.stdout, "job %s: %s (%s)", cell(j.ID), cell(j.Status), cell(j.Type))
	if r := compact(j.Result); r != "" && r != "null" && r != "{}" {
		fmt.Fprintf(s.stdout, " %s", cell(r))
	}
	fmt.Fprintln(s.stdout)
}

// waitJob polls the job every waitPoll until it has finished, for at most
// waitTimeout, and returns it as last read.
func (s *session) waitJob(j job, raw []byte) (job, []byte, error) {
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for !j.finished() {
		if time.Now().After(deadline) {
			last := ""
			if j.Error != "" {
				last = " (last error: " + j.Error + ")"
			}
			return j, raw, fmt.Errorf("job %s is still %s after %s%s; follow it with: reconciler admin jobs show %s",
				j.ID, j.Status, waitTimeout, last, j.ID)
		}
		select {
		case <-s.ctx.Done():
			return j, raw, fmt.Errorf("waiting for job %s: %w", j.ID, s.ctx.Err())
		case <-tick.C:
		}
		var next job
		r, err := s.api.get(s.ctx, path("jobs", j.ID), nil, &next)
		if err != nil {
			return j, raw, err
		}
		j, raw = next, r
	}
	return j, raw, nil
}
