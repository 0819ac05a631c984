package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/payrecon/reconciler/reconcile"
)

// sqlish are strings an attacker would try on a query built from input.
var sqlish = []string{
	`'; DROP TABLE invoices; --`,
	`Robert'); DELETE FROM payments WHERE ('1'='1`,
	`" OR 1=1 --`,
	`\'; UPDATE invoices SET amount = 0; --`,
	`$1 $2 ::text`,
}

// TestHostileText stores SQL-looking text in every text field and reads it
// back verbatim: queries are parameterised, never built from input.
func TestHostileText(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()
	for _, s := range sqlish {
		t.Run("text "+s+" is stored as it is", func(t *testing.T) {
			h := h.in(t)
			var inv reconcile.Invoice
			h.do("POST", "/admin/invoices", map[string]any{"number": s, "client": s, "currency": "usd", "amount": 1000}).
				must(t, http.StatusCreated, &inv)
			if inv.Number != s || inv.Client != s {
				t.Fatalf("stored %q / %q", inv.Number, inv.Client)
			}
			h.do("POST", "/admin/invoices/"+inv.ID+"/send", nil).must(t, http.StatusOK, nil)
			h.waitSucceeded(h.queue("POST", "/admin/invoices/"+inv.ID+"/payments", map[string]any{"amount": 100, "notes": s}).ID)
			h.waitSucceeded(h.queue("POST", "/admin/invoices/"+inv.ID+"/write-off", map[string]any{"notes": s}).ID)
			d := h.detail(inv.ID)
			if d.Payments[0].Notes != s || d.History[len(d.History)-1].Notes != s {
				t.Fatalf("notes %q / %q", d.Payments[0].Notes, d.History[len(d.History)-1].Notes)
			}
			// The text as a filter and as a path finds nothing, and breaks nothing.
			if page := h.list("client=" + url.QueryEscape(s)); len(page.Invoices) != 1 {
				t.Fatalf("client filter found %d invoices", len(page.Invoices))
			}
			h.do("GET", "/admin/invoices/"+url.PathEscape(s), nil).mustError(t, http.StatusNotFound, "invoice_not_found")
		})
	}
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM invoices`).Scan(&n); err != nil || n != len(sqlish) {
		t.Fatalf("%d invoices after the hostile text (err %v), want %d", n, err, len(sqlish))
	}
}

// TestHostileShapes sends JSON an attacker would: deeply nested, huge, and
// of the wrong shape. Each is a clear 4xx and changes nothing.
func TestHostileShapes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	inv := h.createInvoice("inv_shapes", 10000, true)
	deep := strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)
	cases := []struct {
		name, body string
		status     int
	}{
		{"a document nested 100000 deep is refused", deep, http.StatusBadRequest},
		{"an amount nested in arrays is refused", `{"amount":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`, http.StatusBadRequest},
		{"a body over 1 MiB is refused", `{"amount": 100, "notes": "` + strings.Repeat("x", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
		{"an amount past int64 is refused", `{"amount": 99999999999999999999999}`, http.StatusBadRequest},
		{"a NUL in the notes is refused, naming the field", `{"amount": 100, "notes": "a\u0000b"}`, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := h.in(t)
			jobs := h.jobRows()
			r := h.do("POST", "/admin/invoices/"+inv.ID+"/payments", c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %.200s", r.status, c.status, r.body)
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal(r.body, &e) != nil || e.Error.Code == "" {
				t.Fatalf("not a JSON error: %.200s", r.body)
			}
			if h.jobRows() != jobs {
				t.Fatal("a job was queued")
			}
		})
	}
}

// FuzzPaymentBody posts arbitrary bodies to the payment endpoint. Whatever
// comes in, the answer is never a 5xx, an error is the contract's JSON, and
// only a 202 queues a job. The seeds, and what the fuzzer finds, are kept
// under testdata/fuzz/FuzzPaymentBody.
func FuzzPaymentBody(f *testing.F) {
	for _, seed := range []string{
		`{"amount": 100}`, `{"amount": 100, "paid_date": "2026-01-31", "method": "check", "notes": "n"}`,
		`{"amount": 12.5}`, `{"amount": "100"}`, `{"amount": -1}`, `{"amount": 1e3}`, `{"amunt": 1}`,
		`{"amount": 1} {"amount": 2}`, `[]`, `null`, `{"paid_date": "2026-02-30", "amount": 1}`, ``,
	} {
		f.Add(seed)
	}
	h := newHarness(f)
	inv := h.createInvoice("inv_fuzz", 1_000_000_000, true)
	f.Fuzz(func(t *testing.T, body string) {
		h := h.in(t)
		jobs := h.jobRows()
		r, err := h.try("POST", "/admin/invoices/"+inv.ID+"/payments", body, "Authorization", "Bearer "+testToken)
		if err != nil {
			t.Fatal(err)
		}
		if r.status >= 500 {
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
		if r.status != http.StatusAccepted {
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			if json.Unmarshal(r.body, &e) != nil || e.Error.Code == "" {
				t.Fatalf("status %d without a JSON error for %q: %s", r.status, body, r.body)
			}
			if h.jobRows() != jobs {
				t.Fatalf("status %d queued a job for %q", r.status, body)
			}
		}
	})
}
