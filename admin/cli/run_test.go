package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/payrecon/reconciler/admin/cli"
)

// stub is a scripted admin API that records what it was asked.
type stub struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	mux      *http.ServeMux
}

func newStub(t *testing.T) (*stub, string) {
	s := &stub{mux: http.NewServeMux()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, r)
		s.bodies = append(s.bodies, string(body))
		s.mu.Unlock()
		s.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func (s *stub) answer(pattern string, status int, body string) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func (s *stub) last() (*http.Request, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return nil, ""
	}
	return s.requests[len(s.requests)-1], s.bodies[len(s.bodies)-1]
}

func runCLI(env map[string]string, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

const usdInvoice = `{"id":"inv_1","number":"N-1","client":"Acme","currency":"usd","amount":10000,
	"paid_amount":4000,"written_off_amount":0,"balance":6000,"state":"partial"}`

func TestUsage(t *testing.T) {
	env := map[string]string{"ADMIN_TOKEN": "t", "RECONCILER_URL": "http://127.0.0.1:1"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no command is a usage error", nil, 2, "", "usage: reconciler admin"},
		{"-h lists the commands", []string{"-h"}, 0, "payments record", ""},
		{"help lists the commands", []string{"help"}, 0, "reports summary", ""},
		{"help lists the operators commands", []string{"help"}, 0, "operators revoke", ""},
		{"a command's -h shows its flags", []string{"invoices", "list", "-h"}, 0, "-state", ""},
		{"-h works after arguments", []string{"payments", "record", "inv_1", "--help"}, 0, "-idempotency-key", ""},
		{"a group alone lists its commands", []string{"invoices"}, 2, "", "invoices create"},
		{"a group's -h lists its commands", []string{"payments", "-h"}, 0, "payments delete", ""},
		{"an unknown command is refused", []string{"invoice", "list"}, 2, "", `unknown command "invoice"`},
		{"an unknown subcommand is refused", []string{"invoices", "frobnicate"}, 2, "", `unknown command "invoices frobnicate"`},
		{"a missing argument is named", []string{"invoices", "show"}, 2, "", "missing ID"},
		{"both arguments of payments delete are needed", []string{"payments", "delete", "inv_1"}, 2, "", "missing PAYMENT"},
		{"an extra argument is refused", []string{"invoices", "show", "a", "b"}, 2, "", `unexpected argument "b"`},
		{"an unknown flag is refused", []string{"invoices", "list", "--colour"}, 2, "", "flag provided but not defined: -colour"},
		{"create needs its fields", []string{"invoices", "create", "--number", "1"}, 2, "", "--client is required"},
		{"a bad amount is a usage error", []string{"invoices", "create", "--number", "1", "--client", "c", "--currency", "usd", "--amount", "1.234"}, 2, "", "too many decimals for usd (2)"},
		{"a bad date is a usage error", []string{"report", "summary", "--from", "31/01/2030"}, 2, "", "want a date YYYY-MM-DD"},
		{"a bad method is a usage error", []string{"payments", "record", "inv_1", "--amount", "1", "--method", "bitcoin"}, 2, "", "--method must be"},
		{"--url needs a value", []string{"invoices", "list", "--url"}, 2, "", "--url needs a value"},
		{"--url must be http", []string{"--url", "ftp://x", "invoices", "list"}, 2, "", "want http(s)://host"},
		{"an unreachable server is an error", []string{"invoices", "list"}, 1, "", "cannot reach the admin API at http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(env, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", r.code, tt.code, tt.stdout, r.stdout, tt.stderr, r.stderr)
			}
		})
	}
}

func TestMissingTokenIsSaidBeforeAnyRequest(t *testing.T) {
	s, url := newStub(t)
	r := runCLI(map[string]string{"RECONCILER_URL": url}, "invoices", "list")
	if r.code != 2 || !strings.Contains(r.stderr, "ADMIN_TOKEN is not set") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if req, _ := s.last(); req != nil {
		t.Fatalf("a request was sent without a token: %s %s", req.Method, req.URL)
	}
}

func TestURLComesFromFlagThenEnvironmentThenPort(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"PORT", map[string]string{"PORT": "1"}, nil, "http://localhost:1"},
		{"default", map[string]string{}, nil, "http://localhost:8080"},
		{"RECONCILER_URL", map[string]string{"PORT": "1", "RECONCILER_URL": "http://127.0.0.1:2/"}, nil, "http://127.0.0.1:2"},
		{"--url", map[string]string{"RECONCILER_URL": "http://127.0.0.1:2"}, []string{"--url=http://127.0.0.1:3"}, "http://127.0.0.1:3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["ADMIN_TOKEN"] = "t"
			// Nothing listens on these ports, so the error names the URL
			// used; something may listen on 8080, which then answers.
			r := runCLI(tt.env, append(tt.args, "jobs", "show", "job_x")...)
			reached := !strings.Contains(r.stderr, "cannot reach")
			if r.code != 1 || (!reached && !strings.Contains(r.stderr, "at "+tt.want+" (")) || (reached && tt.name != "default") {
				t.Fatalf("exit %d, stderr %q; want an error naming %s", r.code, r.stderr, tt.want)
			}
		})
	}
}

func TestRequestsFollowTheContract(t *testing.T) {
	s, url := newStub(t)
	env := map[string]string{"RECONCILER_URL": url, "ADMIN_TOKEN": "sekret"}
	s.answer("GET /admin/invoices", 200, `{"invoices":[],"next_cursor":""}`)
	s.answer("GET /admin/invoices/{id}", 200, usdInvoice)
	s.answer("POST /admin/invoices", 201, usdInvoice)
	s.answer("POST /admin/invoices/{id}/payments", 202, `{"id":"job_1","type":"payment.record","status":"queued"}`)

	if r := runCLI(env, "invoices", "list", "--state", "open", "--client", "A&B", "--limit", "5", "--cursor", "c1"); r.code != 0 {
		t.Fatalf("list: %+v", r)
	}
	req, _ := s.last()
	if got := req.Header.Get("Authorization"); got != "Bearer sekret" {
		t.Errorf("Authorization = %q", got)
	}
	if q := req.URL.Query(); q.Get("state") != "open" || q.Get("client") != "A&B" || q.Get("limit") != "5" || q.Get("cursor") != "c1" {
		t.Errorf("list query = %q", req.URL.RawQuery)
	}

	if r := runCLI(env, "invoices", "show", "a/b c"); r.code != 0 {
		t.Fatalf("show: %+v", r)
	}
	if req, _ := s.last(); req.URL.EscapedPath() != "/admin/invoices/a%2Fb%20c" {
		t.Errorf("an id is not escaped in the path: %s", req.URL.EscapedPath())
	}

	r := runCLI(env, "invoices", "create", "--number", "N-1", "--client", "Acme", "--currency", "USD", "--amount", "125.5", "--issue-date", "2030-01-01")
	if r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	_, body := s.last()
	var created map[string]any
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"number": "N-1", "client": "Acme", "currency": "usd", "amount": float64(12550), "issue_date": "2030-01-01"}
	if len(created) != len(want) {
		t.Errorf("create body = %s", body)
	}
	for k, v := range want {
		if created[k] != v {
			t.Errorf("create body %s = %v, want %v (%s)", k, created[k], v, body)
		}
	}

	r = runCLI(env, "payments", "record", "--amount", "12.5", "inv_1", "--notes", "wire", "--idempotency-key", "k1", "--date", "2030-02-01")
	if r.code != 0 {
		t.Fatalf("record: %+v", r)
	}
	req, body = s.last()
	if req.Header.Get("Idempotency-Key") != "k1" || body != `{"amount":1250,"notes":"wire","paid_date":"2030-02-01"}` {
		t.Errorf("record: key %q, body %s", req.Header.Get("Idempotency-Key"), body)
	}
	if !strings.Contains(r.stdout, "job job_1: queued (payment.record)") || !strings.Contains(r.stdout, "jobs show job_1") {
		t.Errorf("record printed:\n%s", r.stdout)
	}
}

func TestListingsPageWithTheirFilters(t *testing.T) {
	s, url := newStub(t)
	env := map[string]string{"RECONCILER_URL": url, "ADMIN_TOKEN": "sekret"}
	s.answer("GET /admin/jobs", 200, `{"jobs":[{"id":"job_1","type":"payment.record","status":"failed","invoice_id":"inv_1",`+
		`"error":"overpayment","created_at":"2030-01-01T00:00:00Z"}],"next_cursor":"c2"}`)
	s.answer("GET /admin/events", 200, `{"events":[],"next_cursor":""}`)

	r := runCLI(env, "jobs", "list", "--status", "failed", "--type", "payment.record", "--invoice", "inv_1", "--limit", "1")
	if r.code != 0 {
		t.Fatalf("jobs list: %+v", r)
	}
	req, _ := s.last()
	if q := req.URL.Query(); q.Get("status") != "failed" || q.Get("type") != "payment.record" || q.Get("invoice_id") != "inv_1" ||
		q.Get("limit") != "1" || q.Has("cursor") {
		t.Errorf("jobs list query = %q", req.URL.RawQuery)
	}
	if !strings.Contains(r.stdout, "job_1") || !strings.Contains(r.stdout, "overpayment") || !strings.Contains(r.stdout, "--cursor c2") {
		t.Errorf("jobs list printed:\n%s", r.stdout)
	}

	if r := runCLI(env, "events", "list", "--type", "charge.refunded", "--cursor", "c9"); r.code != 0 || !strings.Contains(r.stdout, "no events") {
		t.Fatalf("events list: %+v", r)
	}
	req, _ = s.last()
	if q := req.URL.Query(); q.Get("type") != "charge.refunded" || q.Get("cursor") != "c9" {
		t.Errorf("events list query = %q", req.URL.RawQuery)
	}
}

func TestErrorAnswers(t *testing.T) {
	s, url := newStub(t)
	env := map[string]string{"RECONCILER_URL": url, "ADMIN_TOKEN": "t"}
	s.answer("GET /admin/invoices/{id}", 409, `{"error":{"code":"invoice_not_sent","message":"send it first"}}`)
	s.mux.HandleFunc("GET /admin/jobs/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>Bad gateway</html>")
	})
	if r := runCLI(env, "invoices", "show", "x"); r.code != 1 || r.stderr != "error: invoice_not_sent: send it first\n" {
		t.Errorf("API error: %+v", r)
	}
	if r := runCLI(env, "jobs", "show", "x"); r.code != 1 || r.stderr != "error: http_502: <html>Bad gateway</html>\n" {
		t.Errorf("a non-JSON error: %+v", r)
	}
}

func TestWaitFollowsTheJobToItsEnd(t *testing.T) {
	s, url := newStub(t)
	env := map[string]string{"RECONCILER_URL": url, "ADMIN_TOKEN": "t"}
	s.answer("GET /admin/invoices/{id}", 200, usdInvoice)
	s.answer("POST /admin/invoices/{id}/write-off", 202, `{"id":"job_w","type":"invoice.write_off","status":"queued"}`)
	s.answer("POST /admin/invoices/{id}/payments", 202, `{"id":"job_p","type":"payment.record","status":"queued"}`)
	var polls atomic.Int32
	s.mux.HandleFunc("GET /admin/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		n := polls.Add(1)
		status, errMsg := "running", ""
		if n >= 3 {
			status = "succeeded"
			if r.PathValue("id") == "job_p" {
				status, errMsg = "failed", "overpayment: payment of 7000 exceeds what is unpaid"
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "type": "t", "status": status, "error": errMsg})
	})

	r := runCLI(env, "write-off", "inv_1", "--wait")
	if r.code != 0 || !strings.Contains(r.stdout, "job job_w: succeeded") || !strings.Contains(r.stdout, "invoice inv_1: partial, balance 60.00 usd") {
		t.Fatalf("write-off --wait: %+v", r)
	}
	if n := polls.Load(); n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}

	polls.Store(0)
	r = runCLI(env, "payments", "record", "inv_1", "--amount", "70", "--wait")
	// The refusal's figure is in the major units the operator typed.
	if r.code != 1 || !strings.Contains(r.stderr, "error: job job_p failed: overpayment: payment of 70.00 usd") {
		t.Fatalf("a failed job: %+v", r)
	}

	polls.Store(0)
	r = runCLI(env, "payments", "record", "inv_1", "--amount", "70", "--wait", "--json")
	var answer struct {
		Job struct{ Status string } `json:"job"`
	}
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &answer) != nil || answer.Job.Status != "failed" {
		t.Fatalf("a failed job with --json: %+v", r)
	}
}
