package admin_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

func TestJobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	t.Run("an unknown job is 404", func(t *testing.T) {
		h.in(t).do("GET", "/admin/jobs/job_nope", nil).mustError(t, http.StatusNotFound, "job_not_found")
	})

	t.Run("a queued job reads back as queued until a worker runs it", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-j", 1000, true)
		job := h.queue("POST", "/admin/invoices/inv-j/payments", `{"amount": 1000}`)
		var got reconcile.Job
		h.do("GET", "/admin/jobs/"+job.ID, nil).must(t, http.StatusOK, &got)
		if got.ID != job.ID || got.Status != reconcile.JobQueued || got.FinishedAt != nil || got.Error != "" {
			t.Fatalf("job %+v", got)
		}
		h.startWorker()
		done := h.waitSucceeded(job.ID)
		if done.FinishedAt == nil || done.Attempts != 1 {
			t.Fatalf("finished job %+v", done)
		}
	})
}

func TestReconcileNow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()

	for _, c := range []struct {
		query string
		full  bool
	}{{"?full=true", true}, {"?full=false", false}, {"", false}} {
		t.Run("POST /admin/reconcile"+c.query+" queues a run that the worker makes", func(t *testing.T) {
			h := h.in(t)
			job := h.queue("POST", "/admin/reconcile"+c.query, nil)
			if job.Type != reconcile.JobReconcile || job.InvoiceID != nil {
				t.Fatalf("job %+v", job)
			}
			var full bool
			if err := h.pool.QueryRow(context.Background(), `SELECT (payload->>'full')::bool FROM jobs WHERE id = $1`, job.ID).Scan(&full); err != nil {
				t.Fatal(err)
			}
			if full != c.full {
				t.Fatalf("full %v, want %v", full, c.full)
			}
			if done := h.waitSucceeded(job.ID); !bytes.Contains(done.Result, []byte(`"run_id":"run_`)) {
				t.Fatalf("result %s", done.Result)
			}
		})
	}

	t.Run("a run repairs planted drift and GET /admin/reconcile/runs shows its figures", func(t *testing.T) {
		h := h.in(t)
		inv := h.createInvoice("inv_drift", 10000, true)
		if _, err := h.pool.Exec(context.Background(),
			`UPDATE invoices SET paid_amount = 700, balance = amount - 700 WHERE id = $1`, inv.ID); err != nil {
			t.Fatal(err)
		}
		job := h.waitSucceeded(h.queue("POST", "/admin/reconcile?full=true", nil).ID)
		var answer struct {
			Runs []struct {
				ID     string `json:"id"`
				Full   bool   `json:"full"`
				Status string `json:"status"`
				Steps  struct {
					Ledger struct {
						DriftFound int `json:"drift_found"`
						Repaired   int `json:"repaired"`
					} `json:"ledger"`
				} `json:"steps"`
			} `json:"runs"`
		}
		h.do("GET", "/admin/reconcile/runs?limit=1", nil).must(t, http.StatusOK, &answer)
		if len(answer.Runs) != 1 || !bytes.Contains(job.Result, []byte(answer.Runs[0].ID)) {
			t.Fatalf("runs %+v for job result %s", answer.Runs, job.Result)
		}
		run := answer.Runs[0]
		if !run.Full || run.Status != "succeeded" || run.Steps.Ledger.DriftFound != 1 || run.Steps.Ledger.Repaired != 1 {
			t.Fatalf("run %+v, want a full succeeded run that found and repaired 1 drift", run)
		}
		h.mustFigures(inv.ID, figures{Paid: 0, WrittenOff: 0, Balance: 10000, State: reconcile.StateOpen})
	})

	t.Run("a full= that is not a boolean is 400 and queues nothing", func(t *testing.T) {
		h := h.in(t)
		jobs := h.jobRows()
		msg := h.do("POST", "/admin/reconcile?full=maybe", nil).mustError(t, http.StatusBadRequest, "invalid_full")
		if !strings.Contains(msg, "full") || h.jobRows() != jobs {
			t.Fatalf("message %q, jobs %d -> %d", msg, jobs, h.jobRows())
		}
	})
}

func TestEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	t.Run("no events is an empty list, not null", func(t *testing.T) {
		res := h.in(t).do("GET", "/admin/events", nil)
		res.must(t, http.StatusOK, nil)
		if !bytes.Contains(res.body, []byte(`"events":[]`)) {
			t.Fatalf("body %s", res.body)
		}
	})

	ctx := context.Background()
	if _, err := h.store.StoreEvents(ctx, []reconcile.InboxEvent{
		{ID: "evt_1", Type: "customer.created", Created: time.Now(), Payload: []byte(`{}`)},
		{ID: "evt_2", Type: "payment_intent.succeeded", Created: time.Now(), Payload: []byte(`{}`)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.MarkEvent(ctx, "evt_1", reconcile.EventResult{Status: reconcile.EventIgnored, Reason: "not handled"}); err != nil {
		t.Fatal(err)
	}

	list := func(t *testing.T, query string) []reconcile.Event {
		var got struct{ Events []reconcile.Event }
		h.in(t).do("GET", "/admin/events"+query, nil).must(t, http.StatusOK, &got)
		return got.Events
	}

	t.Run("events are listed newest first", func(t *testing.T) {
		got := list(t, "")
		if len(got) != 2 {
			t.Fatalf("events %+v", got)
		}
	})

	t.Run("status filters the list", func(t *testing.T) {
		got := list(t, "?status=ignored")
		if len(got) != 1 || got[0].ID != "evt_1" || got[0].Error != "not handled" || got[0].ProcessedAt == nil {
			t.Fatalf("ignored events %+v", got)
		}
		if got := list(t, "?status=received"); len(got) != 1 || got[0].ID != "evt_2" {
			t.Fatalf("received events %+v", got)
		}
	})

	t.Run("limit bounds the list", func(t *testing.T) {
		if got := list(t, "?limit=1"); len(got) != 1 {
			t.Fatalf("events %+v", got)
		}
		if got := list(t, "?limit=100000"); len(got) != 2 {
			t.Fatalf("events %+v", got)
		}
	})

	for _, c := range []struct{ query, code, field string }{
		{"?status=lost", "invalid_status", "status"},
		{"?limit=x", "invalid_limit", "limit"},
		{"?limit=0", "invalid_limit", "limit"},
	} {
		t.Run("listing events with "+c.query+" is 400", func(t *testing.T) {
			msg := h.in(t).do("GET", "/admin/events"+c.query, nil).mustError(t, http.StatusBadRequest, c.code)
			if !strings.Contains(msg, c.field) {
				t.Fatalf("message %q does not name %s", msg, c.field)
			}
		})
	}
}

func TestSummaryReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	h.createInvoice("inv-s1", 10000, true)
	h.createInvoice("inv-s2", 3000, true)
	h.createInvoice("inv-s3", 5000, false) // a draft owes nothing yet
	h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-s1/payments", `{"amount": 4000, "paid_date": "2024-03-10"}`).ID)
	h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-s1/payments", `{"amount": 1000, "paid_date": "2024-04-01"}`).ID)

	type summary struct {
		From, To   string
		Currencies []reconcile.CurrencySummary
	}

	t.Run("the summary totals payments dated in the range and today's outstanding", func(t *testing.T) {
		var got summary
		h.in(t).do("GET", "/admin/reports/summary?from=2024-03-01&to=2024-03-31", nil).must(t, http.StatusOK, &got)
		want := reconcile.CurrencySummary{Currency: "usd", PaymentsManual: 4000, Outstanding: 5000 + 3000}
		if got.From != "2024-03-01" || got.To != "2024-03-31" || len(got.Currencies) != 1 || got.Currencies[0] != want {
			t.Fatalf("summary %+v, want %+v", got, want)
		}
	})

	t.Run("a write-off is counted on the day it is made", func(t *testing.T) {
		h := h.in(t)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-s2/write-off", nil).ID)
		// The ledger dates a write-off by the database's clock; a range of a
		// few days around now holds it whatever the time zones.
		from, to := time.Now().AddDate(0, 0, -2).Format("2006-01-02"), time.Now().AddDate(0, 0, 2).Format("2006-01-02")
		var got summary
		h.do("GET", "/admin/reports/summary?from="+from+"&to="+to, nil).must(t, http.StatusOK, &got)
		want := reconcile.CurrencySummary{Currency: "usd", WrittenOff: 3000, Outstanding: 5000}
		if len(got.Currencies) != 1 || got.Currencies[0] != want {
			t.Fatalf("summary %+v, want %+v", got, want)
		}
	})

	t.Run("without from and to the range is this month up to today", func(t *testing.T) {
		h := h.in(t)
		h.setNow(time.Date(2024, 3, 20, 12, 0, 0, 0, time.UTC))
		defer h.setNow(time.Now().UTC())
		var got summary
		h.do("GET", "/admin/reports/summary", nil).must(t, http.StatusOK, &got)
		if got.From != "2024-03-01" || got.To != "2024-03-20" || got.Currencies[0].PaymentsManual != 4000 {
			t.Fatalf("summary %+v", got)
		}
	})

	t.Run("a range without money lists only what is outstanding", func(t *testing.T) {
		var got summary
		h.in(t).do("GET", "/admin/reports/summary?from=1999-01-01&to=1999-01-31", nil).must(t, http.StatusOK, &got)
		if len(got.Currencies) != 1 || got.Currencies[0] != (reconcile.CurrencySummary{Currency: "usd", Outstanding: 5000}) {
			t.Fatalf("summary %+v", got)
		}
	})

	for _, c := range []struct{ query, code, field string }{
		{"?from=2024-3-1&to=2024-03-31", "invalid_from", "from"},
		{"?from=2024-03-01&to=yesterday", "invalid_to", "to"},
		{"?from=2024-03-31&to=2024-03-01", "invalid_range", "from"},
	} {
		t.Run("a summary with "+c.query+" is 400", func(t *testing.T) {
			msg := h.in(t).do("GET", "/admin/reports/summary"+c.query, nil).mustError(t, http.StatusBadRequest, c.code)
			if !strings.Contains(msg, c.field) {
				t.Fatalf("message %q does not name %s", msg, c.field)
			}
		})
	}
}

func TestJobsListed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createInvoice("inv-jobs", 10000, true)
	h.createInvoice("inv-other", 10000, true)
	// No worker: the jobs stay queued.
	a := h.queue("POST", "/admin/invoices/inv-jobs/payments", map[string]any{"amount": 100})
	b := h.queue("POST", "/admin/invoices/inv-other/payments", map[string]any{"amount": 200})
	c := h.queue("POST", "/admin/invoices/inv-jobs/write-off", map[string]any{})

	type page struct {
		Jobs       []reconcile.Job `json:"jobs"`
		NextCursor string          `json:"next_cursor"`
	}
	ids := func(p page) []string {
		var out []string
		for _, j := range p.Jobs {
			out = append(out, j.ID)
		}
		return out
	}

	t.Run("an invoice's jobs, newest first, a page at a time", func(t *testing.T) {
		var first, second page
		h.in(t).do("GET", "/admin/jobs?invoice_id=inv-jobs&limit=1", nil).must(t, http.StatusOK, &first)
		if len(first.Jobs) != 1 || first.NextCursor == "" {
			t.Fatalf("first page %+v", first)
		}
		h.in(t).do("GET", "/admin/jobs?invoice_id=inv-jobs&limit=1&cursor="+first.NextCursor, nil).must(t, http.StatusOK, &second)
		got := append(ids(first), ids(second)...)
		if !slices.Equal(got, []string{c.ID, a.ID}) || second.NextCursor != "" {
			t.Fatalf("pages %v (next %q), want %v", got, second.NextCursor, []string{c.ID, a.ID})
		}
		if first.Jobs[0].Type != reconcile.JobWriteOff || first.Jobs[0].Status != reconcile.JobQueued {
			t.Fatalf("job %+v", first.Jobs[0])
		}
	})
	t.Run("type and status filter", func(t *testing.T) {
		var p page
		h.in(t).do("GET", "/admin/jobs?type=payment.record&status=queued", nil).must(t, http.StatusOK, &p)
		if got := ids(p); !slices.Equal(got, []string{b.ID, a.ID}) {
			t.Fatalf("queued payments %v", got)
		}
		h.in(t).do("GET", "/admin/jobs?status=failed", nil).must(t, http.StatusOK, &p)
		if len(p.Jobs) != 0 || !bytes.Contains(h.in(t).do("GET", "/admin/jobs?status=failed", nil).body, []byte(`"jobs":[]`)) {
			t.Fatalf("failed jobs %+v", p)
		}
	})
	for _, c := range []struct{ query, code string }{
		{"?status=lost", "invalid_status"},
		{"?type=%00", "invalid_parameter"},
		{"?invoice_id=%ff", "invalid_parameter"},
		{"?limit=0", "invalid_limit"},
		{"?cursor=x", "invalid_cursor"},
	} {
		t.Run("listing jobs with "+c.query+" is 400", func(t *testing.T) {
			h.in(t).do("GET", "/admin/jobs"+c.query, nil).mustError(t, http.StatusBadRequest, c.code)
		})
	}
}
