package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/payrecon/reconciler/internal/notify"
)

// The admin API's fuzz targets: one for each JSON body, one for every path
// parameter, one for every query parameter. Whatever comes in, the answer
// is never a 5xx, an error is the contract's JSON, and nothing is stored
// unless the answer says so. Seeds, and what the fuzzer finds, are kept
// under testdata/fuzz/<target>; make test runs each target briefly (make
// fuzz, FUZZTIME).

// fuzzHarness is an API with the notification routes mounted and a sent
// invoice, inv_fuzz, with room for payments.
func fuzzHarness(f *testing.F) *harness {
	h := newHarness(f)
	h.api.MountNotifications(notify.NewStore(h.pool))
	h.createInvoice("inv_fuzz", 1_000_000_000, true)
	return h
}

// rows counts what a request may store.
type rows struct{ Jobs, Invoices, Endpoints int }

func (h *harness) rows() rows {
	h.t.Helper()
	var r rows
	err := h.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM invoices),
		(SELECT count(*) FROM endpoints)`).Scan(&r.Jobs, &r.Invoices, &r.Endpoints)
	if err != nil {
		h.t.Fatalf("count rows: %v", err)
	}
	return r
}

// fuzzCall sends a request and holds its answer to the invariants: no 5xx,
// an error is the contract's JSON, a refusal changes no row, and a success
// changes rows only as allowed says.
func fuzzCall(t *testing.T, h *harness, method, path, body string, allowed func(before, after rows) bool) {
	h = h.in(t)
	before := h.rows()
	r, err := h.try(method, path, body, "Authorization", "Bearer "+testToken)
	if err != nil {
		return // not a request the client can send (a malformed URL)
	}
	if r.status >= 500 {
		t.Fatalf("%s %s %q: status %d: %s", method, path, body, r.status, r.body)
	}
	if r.status >= 400 {
		var e apiError
		if json.Unmarshal(r.body, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s %s %q: status %d without the contract's JSON error: %s", method, path, body, r.status, r.body)
		}
	}
	after := h.rows()
	if r.status >= 300 && after != before {
		t.Fatalf("%s %s %q: status %d changed rows %+v to %+v", method, path, body, r.status, before, after)
	}
	if r.status < 300 && after != before && !allowed(before, after) {
		t.Fatalf("%s %s %q: status %d changed rows %+v to %+v", method, path, body, r.status, before, after)
	}
}

func jobQueued(before, after rows) bool {
	return after == rows{Jobs: before.Jobs + 1, Invoices: before.Invoices, Endpoints: before.Endpoints}
}

// FuzzInvoiceBody posts arbitrary bodies to POST /admin/invoices: only a
// 201 stores an invoice, one.
func FuzzInvoiceBody(f *testing.F) {
	for _, seed := range []string{
		`{"number": "F-1", "client": "acme", "currency": "usd", "amount": 1000}`,
		`{"id": "inv_1", "number": "F-1", "client": "acme", "currency": "jpy", "amount": 500, "issue_date": "2026-01-31", "due_date": "2026-02-28", "stripe_invoice_id": "in_1"}`,
		`{"number": "F-1", "client": "acme", "currency": "usd", "amount": 12.5}`,
		`{"number": "F-1", "client": "acme", "currency": "USD", "amount": "1000"}`,
		`{"number": "", "client": "acme", "currency": "usd", "amount": 1}`,
		`{"id": "inv\u0000x", "number": "F", "client": "c", "currency": "usd", "amount": 1}`,
		`{"number": "F\u0000", "client": "c", "currency": "usd", "amount": 1}`,
		`{"number": "F", "client": "c", "currency": "usd", "amount": 9223372036854775808}`,
		`{"number": "F", "client": "c", "currency": "usd", "amount": 1, "due_date": "2026-02-30"}`,
		`{"number": "F", "client": "c", "currency": "usd", "amount": 1, "extra": true}`,
		`[]`, `null`, ``, `{}`, `{"amount": 1} {}`,
	} {
		f.Add(seed)
	}
	h := fuzzHarness(f)
	f.Fuzz(func(t *testing.T, body string) {
		fuzzCall(t, h, "POST", "/admin/invoices", body, func(before, after rows) bool {
			return after == rows{Jobs: before.Jobs, Invoices: before.Invoices + 1, Endpoints: before.Endpoints}
		})
	})
}

// FuzzWriteOffBody posts arbitrary bodies to POST .../write-off: only a 202
// queues a job.
func FuzzWriteOffBody(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"notes": "gone"}`, `{"notes": 1}`, `{"notes": "a\u0000b"}`, `{"note": "x"}`,
		`{"notes": "` + strings.Repeat("n", 2100) + `"}`, `[]`, `null`, `{"notes": "x"} {}`,
	} {
		f.Add(seed)
	}
	h := fuzzHarness(f)
	f.Fuzz(func(t *testing.T, body string) {
		fuzzCall(t, h, "POST", "/admin/invoices/inv_fuzz/write-off", body, jobQueued)
	})
}

// FuzzEndpointBody posts arbitrary bodies to POST /admin/endpoints: only a
// 201 stores an endpoint, one.
func FuzzEndpointBody(f *testing.F) {
	for _, seed := range []string{
		`{"url": "https://hooks.example.com/x"}`,
		`{"url": "https://hooks.example.com/x", "events": ["invoice.paid"], "description": "books"}`,
		`{"url": "ftp://hooks.example.com/x"}`, `{"url": "https://user:pw@hooks.example.com/"}`,
		`{"url": "https://hooks.example.com/\u0000"}`, `{"url": "https://hooks.example.com/", "events": ["nope"]}`,
		`{"url": "https://hooks.example.com/", "events": "invoice.paid"}`, `{"url": 1}`, `[]`, `null`, ``, `{}`,
	} {
		f.Add(seed)
	}
	h := fuzzHarness(f)
	f.Fuzz(func(t *testing.T, body string) {
		fuzzCall(t, h, "POST", "/admin/endpoints", body, func(before, after rows) bool {
			return after == rows{Jobs: before.Jobs, Invoices: before.Invoices, Endpoints: before.Endpoints + 1}
		})
	})
}

// noBodyRoutes take no body, or an empty object.
var noBodyRoutes = []struct{ method, path string }{
	{"POST", "/admin/invoices/inv_fuzz/send"},
	{"POST", "/admin/invoices/inv_fuzz/reopen"},
	{"DELETE", "/admin/invoices/inv_fuzz/payments/pay_none"},
	{"POST", "/admin/reconcile"},
	{"DELETE", "/admin/invoices/inv_none"},
}

// FuzzEmptyBodies sends arbitrary bodies to the routes that take none: a
// body other than nothing or {} is refused, and only a 202 queues a job.
func FuzzEmptyBodies(f *testing.F) {
	for i := range noBodyRoutes {
		for _, seed := range []string{``, `{}`, ` `, `{"x": 1}`, `null`, `[]`, `{} {}`, "\x00"} {
			f.Add(uint8(i), seed)
		}
	}
	h := fuzzHarness(f)
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := noBodyRoutes[int(route)%len(noBodyRoutes)]
		fuzzCall(t, h, r.method, r.path, body, func(before, after rows) bool {
			// A send changes no counted row; a 204 delete removes an invoice.
			return jobQueued(before, after) ||
				after == rows{Jobs: before.Jobs, Invoices: before.Invoices - 1, Endpoints: before.Endpoints}
		})
	})
}

// pathRoutes are every route with a path parameter; %s is where the fuzzed
// value goes.
var pathRoutes = []struct{ method, path, body string }{
	{"GET", "/admin/invoices/%s", ""},
	{"POST", "/admin/invoices/%s/send", ""},
	{"DELETE", "/admin/invoices/%s", ""},
	{"POST", "/admin/invoices/%s/payments", `{"amount": 100}`},
	{"DELETE", "/admin/invoices/inv_fuzz/payments/%s", ""},
	{"DELETE", "/admin/invoices/%s/payments/pay_none", ""},
	{"POST", "/admin/invoices/%s/write-off", ""},
	{"POST", "/admin/invoices/%s/reopen", ""},
	{"GET", "/admin/jobs/%s", ""},
	{"DELETE", "/admin/endpoints/%s", ""},
	{"GET", "/admin/endpoints/%s/deliveries", ""},
	{"POST", "/admin/deliveries/%s/resend", ""},
}

// FuzzPathParams puts arbitrary bytes in every path parameter: never a 5xx,
// and only a 202 queues a job (a 204 may delete the invoice named).
func FuzzPathParams(f *testing.F) {
	for i := range pathRoutes {
		for _, seed := range []string{"inv_fuzz", "", "\x00", "\xff", "inv\x00", "a/b", "..", "%", "'; DROP TABLE jobs; --",
			"job_" + strings.Repeat("x", 300)} {
			f.Add(uint8(i), seed)
		}
	}
	h := fuzzHarness(f)
	f.Fuzz(func(t *testing.T, route uint8, param string) {
		r := pathRoutes[int(route)%len(pathRoutes)]
		fuzzCall(t, h, r.method, fmt.Sprintf(r.path, url.PathEscape(param)), r.body, func(before, after rows) bool {
			return jobQueued(before, after) ||
				after == rows{Jobs: before.Jobs, Invoices: before.Invoices - 1, Endpoints: before.Endpoints}
		})
	})
}

// queryParams are every filter and option of the query string.
var queryParams = []struct{ method, path, name string }{
	{"GET", "/admin/invoices", "state"},
	{"GET", "/admin/invoices", "client"},
	{"GET", "/admin/invoices", "cursor"},
	{"GET", "/admin/invoices", "limit"},
	{"GET", "/admin/invoices", "overdue"},
	{"GET", "/admin/events", "status"},
	{"GET", "/admin/events", "limit"},
	{"GET", "/admin/reconcile/runs", "limit"},
	{"GET", "/admin/reports/summary", "from"},
	{"GET", "/admin/reports/summary", "to"},
	{"GET", "/admin/endpoints/ep_none/deliveries", "status"},
	{"GET", "/admin/endpoints/ep_none/deliveries", "limit"},
	{"POST", "/admin/reconcile", "full"},
}

// FuzzQueryParams puts arbitrary bytes in every query parameter: never a
// 5xx, and only a 202 queues a job.
func FuzzQueryParams(f *testing.F) {
	for i := range queryParams {
		for _, seed := range []string{"", "open", "1", "-1", "99999999999999999999", "true", "2026-02-30", "\x00", "\xff",
			"acme' OR '1'='1", "eyJhIjoxfQ"} {
			f.Add(uint8(i), seed)
		}
	}
	h := fuzzHarness(f)
	f.Fuzz(func(t *testing.T, param uint8, value string) {
		p := queryParams[int(param)%len(queryParams)]
		path := p.path + "?" + url.Values{p.name: {value}}.Encode()
		fuzzCall(t, h, p.method, path, "", jobQueued)
	})
}
