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
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/admin/cli"
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

const token = "test-admin-token"

// startAPI serves the real admin API on a fresh database, with a real worker
// applying its jobs and delivering notifications, and returns its URL.
func startAPI(t *testing.T) string {
	t.Helper()
	store, pool := testenv.Store(t)
	redisOpt := testenv.Redis(t)
	// Nop: the worker may log while shutting down after the test's end.
	log := zap.NewNop()
	client := worker.NewClient(redisOpt, store, log)
	t.Cleanup(func() { _ = client.Close() })
	notifications := notify.NewStore(pool)
	runner := reconcile.NewRunner(store, client, reconcile.RunnerConfig{RelayAfter: time.Minute, Log: log.Sugar()})
	deliverer := notify.NewDeliverer(notifications, notify.NewHTTPClient(true, nil), notify.DelivererConfig{}, log)
	srv := worker.NewServer(redisOpt, 4, worker.NewHandlers(store, client, runner, time.Minute, log).WithLivemode(false).WithDeliverer(deliverer), log)
	if err := srv.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = notify.Dispatch(ctx, pool, notifications, client, log) }()
	t.Cleanup(func() { cancel(); <-done })
	a := admin.New(admin.Config{Token: token, Store: store, Jobs: client, Keys: client, Operators: operators.NewStore(pool), Log: log})
	a.MountNotifications(notifications)
	api := httptest.NewServer(a)
	t.Cleanup(api.Close)
	return api.URL
}

// operator runs the CLI as an operator would, with an environment.
type operator struct {
	t   *testing.T
	env map[string]string
}

type result struct {
	stdout, stderr string
	code           int
}

func (o operator) run(args ...string) result {
	o.t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), args, func(k string) string { return o.env[k] }, &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

// ok runs a command that must succeed and returns its stdout.
func (o operator) ok(args ...string) string {
	o.t.Helper()
	r := o.run(args...)
	if r.code != 0 {
		o.t.Fatalf("reconciler admin %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs a command that must exit with code and say want on stderr.
func (o operator) fails(code int, want string, args ...string) {
	o.t.Helper()
	r := o.run(args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		o.t.Fatalf("reconciler admin %s: exit %d, stderr %q; want exit %d and %q\nstdout:\n%s",
			strings.Join(args, " "), r.code, r.stderr, code, want, r.stdout)
	}
}

func contains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("output does not contain %q:\n%s", w, out)
		}
	}
}

// newOperator starts an API of its own for the test.
func newOperator(t *testing.T) operator {
	return operator{t: t, env: map[string]string{"RECONCILER_URL": startAPI(t), "ADMIN_TOKEN": token}}
}

func TestOperatorFlow(t *testing.T) {
	t.Parallel()
	op := newOperator(t)

	out := op.ok("invoices", "create", "--number", "INV-1", "--client", "Acme", "--currency", "usd",
		"--amount", "100.00", "--id", "inv_cli_1", "--due-date", "2030-01-31")
	contains(t, out, "created invoice inv_cli_1", "100.00 usd", "draft")
	contains(t, op.ok("invoices", "send", "inv_cli_1"), "open", "balance 100.00 usd")

	out = op.ok("payments", "record", "inv_cli_1", "--amount", "40", "--method", "bank_transfer", "--wait")
	contains(t, out, "succeeded", "partial", "balance 60.00 usd")

	out = op.ok("invoices", "show", "inv_cli_1")
	contains(t, out, "payments:", "40.00", "bank_transfer", "manual", "history:", "payment_recorded", "60.00 usd")

	var detail struct {
		Payments []struct{ ID string } `json:"payments"`
	}
	if err := json.Unmarshal([]byte(op.ok("invoices", "show", "inv_cli_1", "--json")), &detail); err != nil || len(detail.Payments) != 1 {
		t.Fatalf("invoices show --json: %v, %+v", err, detail)
	}
	paymentID := detail.Payments[0].ID

	out = op.ok("payments", "delete", "inv_cli_1", paymentID, "--wait")
	contains(t, out, "succeeded", "open", "balance 100.00 usd")

	contains(t, op.ok("payments", "record", "inv_cli_1", "--amount", "40", "--wait"), "balance 60.00 usd")

	out = op.ok("write-off", "inv_cli_1", "--notes", "client went bust", "--wait")
	contains(t, out, "succeeded", "written_off", "balance 0.00 usd")

	out = op.ok("invoices", "list", "--state", "written_off")
	contains(t, out, "ID", "BALANCE", "inv_cli_1", "INV-1", "written_off", "100.00 usd", "40.00", "60.00")
	if strings.Contains(op.ok("invoices", "list", "--state", "open"), "inv_cli_1") {
		t.Fatal("a written-off invoice is listed as open")
	}

	var page struct {
		Invoices []struct {
			ID      string `json:"id"`
			Balance int64  `json:"balance"`
		} `json:"invoices"`
	}
	if err := json.Unmarshal([]byte(op.ok("--json", "invoices", "list")), &page); err != nil {
		t.Fatalf("--json invoices list is not JSON: %v", err)
	}
	if len(page.Invoices) != 1 || page.Invoices[0].ID != "inv_cli_1" || page.Invoices[0].Balance != 0 {
		t.Fatalf("--json invoices list: %+v", page)
	}

	out = op.ok("reopen", "inv_cli_1", "--wait")
	contains(t, out, "succeeded", "partial", "balance 60.00 usd")
	contains(t, op.ok("report", "summary"), "CURRENCY", "usd", "60.00")
	contains(t, op.ok("reports", "summary"), "CURRENCY", "usd", "60.00")
}

func TestWrongTokenIsUnauthorized(t *testing.T) {
	t.Parallel()
	op := newOperator(t)
	op.env["ADMIN_TOKEN"] = "not-the-token"
	op.fails(1, "error: unauthorized: ", "invoices", "list")
}

func TestOverpaymentIsRefused(t *testing.T) {
	t.Parallel()
	op := newOperator(t)
	op.ok("invoices", "create", "--id", "inv_over", "--number", "INV-2", "--client", "Acme", "--currency", "usd", "--amount", "100")
	op.ok("invoices", "send", "inv_over")
	op.fails(1, "error: overpayment: ", "payments", "record", "inv_over", "--amount", "100.01")
	contains(t, op.ok("invoices", "show", "inv_over"), "balance:", "100.00 usd")
}

func TestErrorsOfTheAPIAreShownWithTheirCode(t *testing.T) {
	t.Parallel()
	op := newOperator(t)
	op.fails(1, "error: invoice_not_found: ", "invoices", "show", "inv_missing")
	op.ok("invoices", "create", "--id", "inv_draft", "--number", "D-1", "--client", "Acme", "--currency", "usd", "--amount", "5")
	op.fails(1, "error: invoice_exists: ", "invoices", "create", "--id", "inv_draft", "--number", "D-1", "--client", "Acme", "--currency", "usd", "--amount", "5")
	op.fails(1, "error: invoice_not_sent: ", "write-off", "inv_draft")
	op.fails(1, "error: invoice_not_sent: ", "payments", "record", "inv_draft", "--amount", "1")
	op.fails(1, "error: job_not_found: ", "jobs", "show", "job_missing")
	contains(t, op.ok("invoices", "delete", "inv_draft"), "deleted invoice inv_draft")
	op.fails(1, "error: invoice_not_found: ", "invoices", "show", "inv_draft")
}

func TestAmountsFollowTheInvoicesCurrency(t *testing.T) {
	t.Parallel()
	op := newOperator(t)
	op.ok("invoices", "create", "--id", "inv_jpy", "--number", "J-1", "--client", "Tanaka", "--currency", "JPY", "--amount", "5000")
	op.ok("invoices", "send", "inv_jpy")
	op.fails(2, "too many decimals for jpy (0)", "payments", "record", "inv_jpy", "--amount", "500.5")
	contains(t, op.ok("payments", "record", "inv_jpy", "--amount", "500", "--wait"), "balance 4500 jpy")

	op.ok("invoices", "create", "--id", "inv_kwd", "--number", "K-1", "--client", "Gulf", "--currency", "kwd", "--amount", "10.5")
	op.ok("invoices", "send", "inv_kwd")
	contains(t, op.ok("payments", "record", "inv_kwd", "--amount", "0.125", "--wait"), "balance 10.375 kwd")
	contains(t, op.ok("invoices", "list"), "5000 jpy", "4500", "10.500 kwd", "10.375")
}

func TestJobsAndIdempotencyKeys(t *testing.T) {
	t.Parallel()
	op := newOperator(t)
	op.ok("invoices", "create", "--id", "inv_key", "--number", "K-1", "--client", "Acme", "--currency", "usd", "--amount", "50")
	op.ok("invoices", "send", "inv_key")

	record := func() (job struct{ ID, Status string }) {
		t.Helper()
		out := op.ok("--json", "payments", "record", "inv_key", "--amount", "10", "--idempotency-key", "k-1")
		if err := json.Unmarshal([]byte(out), &job); err != nil || job.ID == "" {
			t.Fatalf("payments record --json: %v: %s", err, out)
		}
		return job
	}
	first, again := record(), record()
	if first.ID != again.ID {
		t.Fatalf("the same idempotency key queued two jobs: %s and %s", first.ID, again.ID)
	}

	var waited struct {
		Job     struct{ ID, Status string } `json:"job"`
		Invoice struct{ Balance int64 }     `json:"invoice"`
	}
	out := op.ok("payments", "record", "inv_key", "--amount", "10", "--idempotency-key", "k-1", "--wait", "--json")
	if err := json.Unmarshal([]byte(out), &waited); err != nil {
		t.Fatalf("--wait --json is not JSON: %v: %s", err, out)
	}
	if waited.Job.ID != first.ID || waited.Job.Status != "succeeded" || waited.Invoice.Balance != 4000 {
		t.Fatalf("--wait --json: %+v", waited)
	}
	contains(t, op.ok("jobs", "show", first.ID), first.ID, "payment.record", "succeeded", "inv_key")

	out = op.ok("reconcile", "--full", "--wait")
	contains(t, out, "reconcile.run", "succeeded", "run_")
	contains(t, op.ok("events", "list"), "no events")
}

// TestNotificationsFromTheCLI is the operator's story of outbound
// notifications: register a local receiver, record a partial payment, write
// off the rest; the receiver hears invoice.payment_recorded then
// invoice.written_off, signed, each once.
func TestNotificationsFromTheCLI(t *testing.T) {
	t.Parallel()
	op := newOperator(t)
	var mu sync.Mutex
	var secret string
	var types []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := notify.Verify(body, r.Header.Get(notify.SignatureHeader), secret, time.Minute); err != nil {
			t.Errorf("signature: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var n struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &n)
		types = append(types, n.Type)
	}))
	t.Cleanup(receiver.Close)

	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(op.ok("--json", "endpoints", "add", receiver.URL, "--description", "accounting")), &ep); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = ep.Secret
	mu.Unlock()
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	if out := op.ok("endpoints", "list"); !strings.Contains(out, ep.ID) || strings.Contains(out, secret) {
		t.Fatalf("endpoints list shows %q", out)
	}
	op.ok("invoices", "create", "--id", "inv_ntf", "--number", "N-1", "--client", "acme", "--currency", "usd", "--amount", "100.00")
	op.ok("invoices", "send", "inv_ntf")
	op.ok("payments", "record", "inv_ntf", "--amount", "40", "--wait")
	op.ok("write-off", "inv_ntf", "--wait")
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := append([]string(nil), types...)
		mu.Unlock()
		if len(got) >= 2 {
			if strings.Join(got, " ") != "invoice.payment_recorded invoice.written_off" {
				t.Fatalf("received %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received only %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := op.ok("endpoints", "deliveries", ep.ID)
	if strings.Count(out, "delivered") != 2 {
		t.Fatalf("deliveries:\n%s", out)
	}
	op.ok("endpoints", "delete", ep.ID)
	if out := op.ok("endpoints", "list"); !strings.Contains(out, "no endpoints") {
		t.Fatalf("after delete: %s", out)
	}
}
