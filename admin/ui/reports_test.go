package ui_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/admin/ui"
	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/reconcile"
)

// dueInvoice makes a sent invoice of amount usd of client, due on due.
func (h *harness) dueInvoice(t *testing.T, id, client string, amount reconcile.Amount, due time.Time) {
	t.Helper()
	d := reconcile.DateOf(due)
	ctx := context.Background()
	if _, err := h.store.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: id, Number: "F-" + id, Client: client,
		Currency: "usd", Amount: amount, DueDate: &d}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, id); err != nil {
		t.Fatal(err)
	}
}

func TestOverdueSearchAndTotals(t *testing.T) {
	t.Parallel()
	// Pages of one invoice: the totals are of every page.
	h := newHarness(t, func(c *ui.Config) { c.PageSize = 1 })
	now := time.Now().UTC()
	h.dueInvoice(t, "inv_late", "Globex", 250000, now.AddDate(0, 0, -10))
	h.dueInvoice(t, "inv_soon", "Initech", 10000, now.AddDate(0, 0, 10))
	h.createInvoice(t, "inv_plain", 5000, true)
	b := h.loggedIn(t)

	t.Run("the Overdue tab lists the invoices past due, marked overdue", func(t *testing.T) {
		p := b.get("/admin/ui/invoices?tab=overdue").must(t, http.StatusOK)
		if got := p.listed(); !slices.Equal(got, []string{"inv_late"}) {
			t.Fatalf("listed %v", got)
		}
		p.mustContain(t, ">Overdue<", "overdue")
		b.get("/admin/ui/invoices/inv_late").must(t, http.StatusOK).mustContain(t, `id="overdue"`)
		b.get("/admin/ui/invoices/inv_soon").must(t, http.StatusOK).mustNotContain(t, `id="overdue"`)
	})

	t.Run("the list shows its totals per currency, of every page", func(t *testing.T) {
		p := b.get("/admin/ui/invoices?tab=open").must(t, http.StatusOK)
		if got := p.listed(); len(got) != 1 {
			t.Fatalf("listed %v, want a page of one", got)
		}
		row := strings.Join(strings.Fields(tagPattern.ReplaceAllString(rowOf(t, p.body, "totals"), " ")), " ")
		if want := "USD 3 $2,650.00 $0.00 $2,650.00"; row != want {
			t.Fatalf("totals %q, want %q", row, want)
		}
	})

	t.Run("search finds invoices by a part of their number or client, in the tab", func(t *testing.T) {
		for q, want := range map[string][]string{
			"globex": {"inv_late"}, "F-inv_s": {"inv_soon"}, "acme": {"inv_plain"}, "nobody": nil,
		} {
			got := b.get("/admin/ui/invoices?tab=open&q="+q).must(t, http.StatusOK).listed()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("search %q: listed %v, want %v", q, got, want)
			}
		}
		b.get("/admin/ui/invoices?tab=open&q=globex").must(t, http.StatusOK).mustContain(t, `value="globex"`, "Clear")
	})
}

func TestReportsPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	asOf := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	h.dueInvoice(t, "inv_a", "acme", 123456, asOf.AddDate(0, 0, 5))  // current
	h.dueInvoice(t, "inv_b", "acme", 20000, asOf.AddDate(0, 0, -45)) // 31-60 days
	h.dueInvoice(t, "inv_c", "acme", 30000, asOf.AddDate(0, 0, -95)) // over 90
	b := h.loggedInAs(t, h.newOperator(t, "vicky", operators.RoleViewer))

	t.Run("the aging table shows the buckets on the day asked, in the currency's units", func(t *testing.T) {
		p := b.get("/admin/ui/reports?as_of=2024-06-30").must(t, http.StatusOK)
		row := strings.Join(strings.Fields(tagPattern.ReplaceAllString(rowOf(t, p.body, "aging"), " ")), " ")
		if want := "USD $1,234.56 $0.00 $200.00 $0.00 $300.00"; row != want {
			t.Fatalf("aging row %q, want %q", row, want)
		}
		p.mustContain(t, `href="/admin/ui/reports/movements.csv?from=`, "Download")
	})

	t.Run("a viewer downloads the movements CSV from the console", func(t *testing.T) {
		ctx := context.Background()
		if _, _, err := h.store.RecordManualPayment(ctx, reconcile.ManualPayment{Key: "k_rep", Actor: "pat",
			InvoiceID: "inv_b", Amount: 5000, PaidDate: reconcile.DateOf(asOf)}); err != nil {
			t.Fatal(err)
		}
		p := b.get("/admin/ui/reports/movements.csv?from=2024-06-01&to=2024-06-30").must(t, http.StatusOK)
		if ct := p.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Fatalf("Content-Type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("rows %q, %v", rows, err)
		}
		if got := strings.Join(rows[1], "|"); !strings.HasPrefix(got, "2024-06-30|inv_b|F-inv_b|acme|usd|payment|5000|manual|pay_") ||
			!strings.HasSuffix(got, "|pat") {
			t.Fatalf("row %q", got)
		}
	})

	t.Run("bad dates are a 400 page, not a file", func(t *testing.T) {
		b.get("/admin/ui/reports/movements.csv?from=2024-06-30&to=2024-06-01").must(t, http.StatusBadRequest).
			mustContain(t, "Check the dates")
		b.get("/admin/ui/reports?as_of=soon").must(t, http.StatusBadRequest)
	})
}

// rowOf is the first body row of the table with id.
func rowOf(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no table %s in:\n%s", id, body)
	}
	rest := body[i:]
	start := strings.Index(rest, "<tbody>")
	if start < 0 {
		t.Fatalf("no body in table %s", id)
	}
	rest = rest[start+len("<tbody>"):]
	end := strings.Index(rest, "</tr>")
	if end < 0 {
		t.Fatalf("no row in table %s", id)
	}
	return rest[:end]
}
