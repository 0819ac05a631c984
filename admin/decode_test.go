package admin_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestStrictDecoding(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createInvoice("inv-dec", 10000, true)

	payments := []struct {
		name, body, code, field string
	}{
		{"an unknown field is refused naming it", `{"amount": 100, "amuont": 100}`, "invalid_field", "amuont"},
		{"a number where a string belongs is refused naming the field", `{"amount": 100, "notes": 5}`, "invalid_field", "notes"},
		{"a fractional amount is refused", `{"amount": 12.5}`, "invalid_amount", "amount"},
		{"an amount in quotes is refused", `{"amount": "100"}`, "invalid_amount", "amount"},
		{"an amount in exponent form is refused", `{"amount": 1e3}`, "invalid_amount", "amount"},
		{"an amount of 100.0 is refused", `{"amount": 100.0}`, "invalid_amount", "amount"},
		{"an amount past int64 is refused", `{"amount": 9223372036854775808}`, "invalid_amount", "amount"},
		{"an amount that is an object is refused", `{"amount": {"value": 1}}`, "invalid_amount", "amount"},
		{"a negative amount is refused", `{"amount": -100}`, "invalid_amount", "amount"},
		{"a zero amount is refused", `{"amount": 0}`, "invalid_amount", "amount"},
		{"a missing amount is refused", `{"notes": "x"}`, "invalid_amount", "amount"},
		{"a null amount is refused", `{"amount": null}`, "invalid_amount", "amount"},
		{"a date in another format is refused", `{"amount": 100, "paid_date": "03/01/2024"}`, "invalid_paid_date", "paid_date"},
		{"an impossible date is refused", `{"amount": 100, "paid_date": "2024-02-30"}`, "invalid_paid_date", "paid_date"},
		{"an empty date is refused", `{"amount": 100, "paid_date": ""}`, "invalid_paid_date", "paid_date"},
		{"an unknown method is refused", `{"amount": 100, "method": "bitcoin"}`, "invalid_method", "method"},
		{"notes past 2000 characters are refused", `{"amount": 100, "notes": "` + strings.Repeat("n", 2001) + `"}`, "invalid_notes", "notes"},
		{"trailing garbage is refused", `{"amount": 100} garbage`, "malformed_json", "body"},
		{"a second JSON value is refused", `{"amount": 100}{"amount": 100}`, "malformed_json", "body"},
		{"a cut-off object is refused", `{"amount": 100`, "malformed_json", "body"},
		{"invalid JSON is refused", `{amount: 100}`, "malformed_json", "body"},
		{"an array is refused", `[{"amount": 100}]`, "malformed_json", "body"},
		{"null is refused", `null`, "malformed_json", "body"},
		{"an empty body is refused", ``, "malformed_json", "body"},
	}
	for _, c := range payments {
		t.Run("payment: "+c.name, func(t *testing.T) {
			h := h.in(t)
			h.unchanged("inv-dec", func() {
				msg := h.do("POST", "/admin/invoices/inv-dec/payments", c.body).mustError(t, http.StatusBadRequest, c.code)
				if !strings.Contains(msg, c.field) {
					t.Fatalf("message %q does not name %s", msg, c.field)
				}
			})
		})
	}

	invoices := []struct {
		name, body, code, field string
	}{
		{"a currency in capitals is refused", `{"number":"F","client":"c","currency":"USD","amount":100}`, "invalid_currency", "currency"},
		{"a currency of four letters is refused", `{"number":"F","client":"c","currency":"usdt","amount":100}`, "invalid_currency", "currency"},
		{"a fractional invoice amount is refused", `{"number":"F","client":"c","currency":"usd","amount":12.5}`, "invalid_amount", "amount"},
		{"an invoice amount in quotes is refused", `{"number":"F","client":"c","currency":"usd","amount":"1250"}`, "invalid_amount", "amount"},
		{"a bad issue date is refused", `{"number":"F","client":"c","currency":"usd","amount":100,"issue_date":"2024-1-5"}`, "invalid_issue_date", "issue_date"},
		{"a due date that is a number is refused", `{"number":"F","client":"c","currency":"usd","amount":100,"due_date":20240105}`, "invalid_field", "due_date"},
		{"a missing number is refused", `{"client":"c","currency":"usd","amount":100}`, "invalid_number", "number"},
		{"a missing client is refused", `{"number":"F","currency":"usd","amount":100}`, "invalid_client", "client"},
		{"a bad id is refused", `{"id":"a b","number":"F","client":"c","currency":"usd","amount":100}`, "invalid_id", "id"},
		{"an unknown invoice field is refused", `{"number":"F","client":"c","currency":"usd","amount":100,"tax":5}`, "invalid_field", "tax"},
	}
	for _, c := range invoices {
		t.Run("invoice: "+c.name, func(t *testing.T) {
			h := h.in(t)
			var before, after struct{ Invoices []any }
			h.do("GET", "/admin/invoices", nil).must(t, http.StatusOK, &before)
			msg := h.do("POST", "/admin/invoices", c.body).mustError(t, http.StatusBadRequest, c.code)
			if !strings.Contains(msg, c.field) {
				t.Fatalf("message %q does not name %s", msg, c.field)
			}
			h.do("GET", "/admin/invoices", nil).must(t, http.StatusOK, &after)
			if len(after.Invoices) != len(before.Invoices) {
				t.Fatalf("%d invoices, want %d", len(after.Invoices), len(before.Invoices))
			}
		})
	}

	t.Run("a body over 1 MiB is 413 and queues nothing", func(t *testing.T) {
		h := h.in(t)
		big := `{"amount": 100, "notes": "` + strings.Repeat("x", 1<<20) + `"}`
		h.unchanged("inv-dec", func() {
			h.do("POST", "/admin/invoices/inv-dec/payments", big).mustError(t, http.StatusRequestEntityTooLarge, "body_too_large")
		})
		h.do("POST", "/admin/invoices", big).mustError(t, http.StatusRequestEntityTooLarge, "body_too_large")
	})

	t.Run("a body of exactly 1 MiB is read", func(t *testing.T) {
		h := h.in(t)
		body := `{"amount": 100}`
		body += strings.Repeat(" ", 1<<20-len(body))
		h.unchanged("inv-dec", func() {
			h.do("POST", "/admin/invoices/inv-dec/write-off", body).mustError(t, http.StatusBadRequest, "invalid_field")
		})
	})

	t.Run("an empty body or {} is a write-off without notes", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-dec-draft", 5000, false)
		for _, body := range []string{"", "{}", "  \n"} {
			// A draft has no write-off: the 409 shows the body was accepted.
			h.unchanged("inv-dec-draft", func() {
				h.do("POST", "/admin/invoices/inv-dec-draft/write-off", body).mustError(t, http.StatusConflict, "invoice_not_sent")
			})
		}
	})
}
