package admin_test

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/reconcile"
)

func TestAgingReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, c := range []struct {
		id, currency, due string
		amount            int64
	}{
		{"ag-current", "usd", "2024-07-01", 10000},
		{"ag-30", "usd", "2024-05-31", 7000},
		{"ag-31", "usd", "2024-05-30", 4000},
		{"ag-90", "usd", "2024-04-01", 6000},
		{"ag-91", "usd", "2024-03-31", 8000},
		{"ag-eur", "eur", "", 2500},
	} {
		body := map[string]any{"id": c.id, "number": "N-" + c.id, "client": "acme", "currency": c.currency, "amount": c.amount}
		if c.due != "" {
			body["due_date"] = c.due
		}
		h.do("POST", "/admin/invoices", body).must(t, http.StatusCreated, nil)
		h.do("POST", "/admin/invoices/"+c.id+"/send", nil).must(t, http.StatusOK, nil)
	}
	h.createInvoice("ag-draft", 999, false) // not sent: owes nothing yet

	type aging struct {
		AsOf       string                   `json:"as_of"`
		Currencies []reconcile.AgingBuckets `json:"currencies"`
	}
	t.Run("balances are bucketed by days past due on as_of, per currency", func(t *testing.T) {
		var got aging
		h.in(t).do("GET", "/admin/reports/aging?as_of=2024-06-30", nil).must(t, http.StatusOK, &got)
		want := []reconcile.AgingBuckets{
			{Currency: "eur", Current: 2500},
			{Currency: "usd", Current: 10000, Overdue1To30: 7000, Overdue31To60: 4000, Overdue61To90: 6000, OverdueOver90: 8000},
		}
		if got.AsOf != "2024-06-30" || !slices.Equal(got.Currencies, want) {
			t.Fatalf("aging %+v, want %+v", got, want)
		}
	})
	t.Run("as_of defaults to today", func(t *testing.T) {
		h := h.in(t)
		h.setNow(time.Date(2024, 7, 1, 9, 0, 0, 0, time.UTC))
		defer h.setNow(time.Now().UTC())
		var got aging
		h.do("GET", "/admin/reports/aging", nil).must(t, http.StatusOK, &got)
		if got.AsOf != "2024-07-01" || len(got.Currencies) != 2 || got.Currencies[1].Overdue31To60 != 7000+4000 {
			t.Fatalf("aging %+v", got)
		}
	})
	t.Run("a bad as_of is 400 naming it", func(t *testing.T) {
		msg := h.in(t).do("GET", "/admin/reports/aging?as_of=30/06/2024", nil).mustError(t, http.StatusBadRequest, "invalid_as_of")
		if !strings.Contains(msg, "as_of") {
			t.Fatalf("message %q", msg)
		}
	})
}

func TestMovementsCSV(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	// A client name a spreadsheet would run as a formula, and one that
	// needs CSV quoting.
	h.do("POST", "/admin/invoices", map[string]any{"id": "mv-1", "number": "=1+1", "client": `Acme, "Big" Inc`,
		"currency": "usd", "amount": 10000}).must(t, http.StatusCreated, nil)
	h.do("POST", "/admin/invoices/mv-1/send", nil).must(t, http.StatusOK, nil)
	key := h.newOperator("mona", operators.RoleOperator)
	var job reconcile.Job
	h.as(key, "POST", "/admin/invoices/mv-1/payments", `{"amount":4000,"paid_date":"2024-03-10","notes":"wire"}`).
		must(t, http.StatusAccepted, &job)
	h.waitSucceeded(job.ID)
	h.waitSucceeded(h.queue("POST", "/admin/invoices/mv-1/payments", `{"amount":1500,"paid_date":"2024-03-12"}`).ID)
	payments := h.detail("mv-1").Payments

	get := func(t *testing.T, query string) (response, [][]string) {
		t.Helper()
		res := h.in(t).doAuth("GET", "/admin/reports/movements.csv"+query, nil, "Authorization", "Bearer "+h.newOperator(
			"viewer-"+strings.NewReplacer("?", "", "=", "", "&", "", "-", "").Replace(query), operators.RoleViewer))
		if res.status != http.StatusOK {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
		rows, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
		if err != nil {
			t.Fatalf("not CSV: %v\n%s", err, res.body)
		}
		return res, rows
	}

	t.Run("a viewer downloads the range's movements as CSV, with exact amounts and actors", func(t *testing.T) {
		res, rows := get(t, "?from=2024-03-01&to=2024-03-31")
		if ct := res.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := res.header.Get("Content-Disposition"); cd != `attachment; filename="movements-2024-03-01-2024-03-31.csv"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		want := [][]string{
			{"date", "invoice_id", "number", "client", "currency", "kind", "amount", "source", "reference", "actor"},
			{"2024-03-10", "mv-1", "'=1+1", `Acme, "Big" Inc`, "usd", "payment", "4000", "manual", payments[0].ID, "mona"},
			{"2024-03-12", "mv-1", "'=1+1", `Acme, "Big" Inc`, "usd", "payment", "1500", "manual", payments[1].ID, "admin"},
		}
		if !slices.EqualFunc(rows, want, slices.Equal) {
			t.Fatalf("rows\n got %q\nwant %q", rows, want)
		}
		if !strings.Contains(string(res.body), `"Acme, ""Big"" Inc"`) {
			t.Fatalf("the client is not quoted as CSV quotes: %s", res.body)
		}
	})

	t.Run("a range with no movement is the header alone", func(t *testing.T) {
		_, rows := get(t, "?from=2023-01-01&to=2023-12-31")
		if len(rows) != 1 || rows[0][0] != "date" {
			t.Fatalf("rows %q", rows)
		}
	})

	for _, c := range []struct{ query, code string }{
		{"?from=2024-03-31&to=2024-03-01", "invalid_range"},
		{"?from=yesterday", "invalid_from"},
		{"?to=2024-13-01", "invalid_to"},
	} {
		t.Run("a bad range "+c.query+" is a JSON 400", func(t *testing.T) {
			h.in(t).do("GET", "/admin/reports/movements.csv"+c.query, nil).mustError(t, http.StatusBadRequest, c.code)
		})
	}
}

func TestOverdueListing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	h.do("POST", "/admin/invoices", map[string]any{"id": "late", "number": "L-1", "client": "acme", "currency": "usd",
		"amount": 1000, "due_date": yesterday}).must(t, http.StatusCreated, nil)
	h.do("POST", "/admin/invoices/late/send", nil).must(t, http.StatusOK, nil)
	h.createInvoice("on-time", 1000, true)

	t.Run("overdue=true lists the invoices sent, with a balance, past due, each marked overdue", func(t *testing.T) {
		var page struct{ Invoices []reconcile.Invoice }
		h.in(t).do("GET", "/admin/invoices?overdue=true", nil).must(t, http.StatusOK, &page)
		if len(page.Invoices) != 1 || page.Invoices[0].ID != "late" || !page.Invoices[0].Overdue {
			t.Fatalf("overdue invoices %+v", page.Invoices)
		}
		if d := h.in(t).detail("on-time"); d.Overdue {
			t.Fatal("an invoice without a due date is overdue")
		}
	})
	t.Run("overdue=maybe is 400", func(t *testing.T) {
		h.in(t).do("GET", "/admin/invoices?overdue=maybe", nil).mustError(t, http.StatusBadRequest, "invalid_overdue")
	})
}
