package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

const testToken = "s3cret-admin-token"

// harness is one API on its own database and Redis db, with the real worker
// client behind it and, when started, the real worker server.
type harness struct {
	t        testing.TB
	url      string
	api      *admin.API
	store    *reconcile.Store
	pool     *pgxpool.Pool
	redis    asynq.RedisClientOpt
	client   *worker.Client
	handlers *worker.Handlers

	now *atomic.Pointer[time.Time]
}

// in is the harness for a subtest: its failures go to t.
func (h *harness) in(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// newHarness builds the API with the given config changes applied.
func newHarness(t testing.TB, change ...func(*admin.Config)) *harness {
	t.Helper()
	pool := testenv.PoolOn(t, testenv.DatabaseURL(t), 10)
	h := &harness{t: t, store: reconcile.NewStore(pool), pool: pool, redis: testenv.Redis(t), now: new(atomic.Pointer[time.Time])}
	h.setNow(time.Now().UTC())
	h.client = worker.NewClient(h.redis, h.store, zap.NewNop())
	t.Cleanup(func() { _ = h.client.Close() })
	runner := reconcile.NewRunner(h.store, h.client, reconcile.RunnerConfig{RelayAfter: time.Minute})
	h.handlers = worker.NewHandlers(h.store, h.client, runner, time.Minute, zap.NewNop()).WithLivemode(false)
	cfg := admin.Config{Token: testToken, Store: h.store, Jobs: h.client, Keys: h.client, Operators: operators.NewStore(pool),
		Log: zap.NewNop(), Now: h.clock}
	for _, c := range change {
		c(&cfg)
	}
	h.api = admin.New(cfg)
	srv := httptest.NewServer(h.api)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *harness) clock() time.Time { return *h.now.Load() }

func (h *harness) setNow(t time.Time) { h.now.Store(&t) }

// startWorker runs the real worker server until the test ends or stop is
// called.
func (h *harness) startWorker() (stop func()) {
	h.t.Helper()
	srv := worker.NewServer(h.redis, 4, h.handlers, zap.NewNop())
	if err := srv.Start(); err != nil {
		h.t.Fatalf("start worker: %v", err)
	}
	var once sync.Once
	stop = func() { once.Do(srv.Shutdown) }
	h.t.Cleanup(stop)
	return stop
}

// response is an answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the admin token. body is a string sent as is, or
// a value sent as JSON, or nil for none. headers are name, value pairs.
func (h *harness) do(method, path string, body any, headers ...string) response {
	h.t.Helper()
	return h.doAuth(method, path, body, append([]string{"Authorization", "Bearer " + testToken}, headers...)...)
}

// doAuth sends a request with only the given headers.
func (h *harness) doAuth(method, path string, body any, headers ...string) response {
	h.t.Helper()
	res, err := h.try(method, path, body, headers...)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// try sends a request with only the given headers; it is safe to call from
// any goroutine.
func (h *harness) try(method, path string, body any, headers ...string) (response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return response{}, fmt.Errorf("encode body: %w", err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.url+path, r)
	if err != nil {
		return response{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: raw}, nil
}

// authed is the header pair of the admin token.
var authed = []string{"Authorization", "Bearer " + testToken}

// must fails the test unless the answer has status; it decodes the body
// into out when out is not nil.
func (r response) must(t testing.TB, status int, out any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); status != http.StatusNoContent && ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// mustError fails the test unless the answer is the JSON error of status
// and code, and returns its message.
func (r response) mustError(t testing.TB, status int, code string) string {
	t.Helper()
	var e apiError
	r.must(t, status, &e)
	if e.Error.Code != code {
		t.Fatalf("error code %q, want %q; body %s", e.Error.Code, code, r.body)
	}
	if e.Error.Message == "" {
		t.Fatalf("error without a message: %s", r.body)
	}
	return e.Error.Message
}

// createInvoice creates an invoice of amount usd through the API, sent when
// sent is set.
func (h *harness) createInvoice(id string, amount int64, sent bool) reconcile.Invoice {
	h.t.Helper()
	var inv reconcile.Invoice
	h.do("POST", "/admin/invoices", map[string]any{"id": id, "number": "F-" + id, "client": "acme",
		"currency": "usd", "amount": amount}).must(h.t, http.StatusCreated, &inv)
	if sent {
		h.do("POST", "/admin/invoices/"+id+"/send", nil).must(h.t, http.StatusOK, &inv)
	}
	return inv
}

// detail reads an invoice with its payments and history.
func (h *harness) detail(id string) reconcile.InvoiceDetail {
	h.t.Helper()
	var d reconcile.InvoiceDetail
	h.do("GET", "/admin/invoices/"+id, nil).must(h.t, http.StatusOK, &d)
	return d
}

// queue sends a job-queueing write and returns its job.
func (h *harness) queue(method, path string, body any, headers ...string) reconcile.Job {
	h.t.Helper()
	var j reconcile.Job
	h.do(method, path, body, headers...).must(h.t, http.StatusAccepted, &j)
	if j.ID == "" || j.Status != reconcile.JobQueued && !j.Status.Finished() && j.Status != reconcile.JobRunning {
		h.t.Fatalf("queued job %+v", j)
	}
	return j
}

// waitJob polls GET /admin/jobs/{id} until the job is finished.
func (h *harness) waitJob(id string) reconcile.Job {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var j reconcile.Job
		h.do("GET", "/admin/jobs/"+id, nil).must(h.t, http.StatusOK, &j)
		if j.Status.Finished() {
			return j
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s still %s after 60s", id, j.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitSucceeded waits for a job and fails the test unless it succeeded.
func (h *harness) waitSucceeded(id string) reconcile.Job {
	h.t.Helper()
	j := h.waitJob(id)
	if j.Status != reconcile.JobSucceeded {
		h.t.Fatalf("job %s %s: %s", id, j.Status, j.Error)
	}
	return j
}

// jobRows counts the rows of the jobs table: a refused request adds none.
func (h *harness) jobRows() int {
	h.t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		h.t.Fatalf("count jobs: %v", err)
	}
	return n
}

// unchanged runs fn and fails the test if it changed the invoice (as GET
// shows it, with payments and history) or stored a job.
func (h *harness) unchanged(id string, fn func()) {
	h.t.Helper()
	before, jobs := h.do("GET", "/admin/invoices/"+id, nil), h.jobRows()
	fn()
	after := h.do("GET", "/admin/invoices/"+id, nil)
	if before.status != after.status || !bytes.Equal(before.body, after.body) {
		h.t.Fatalf("invoice %s changed:\nbefore %d %s\nafter  %d %s", id, before.status, before.body, after.status, after.body)
	}
	if n := h.jobRows(); n != jobs {
		h.t.Fatalf("%d jobs stored, want none", n-jobs)
	}
}

// figures are what amount assertions compare.
type figures struct {
	Paid, WrittenOff, Balance reconcile.Amount
	State                     reconcile.State
}

func figuresOf(inv reconcile.Invoice) figures {
	return figures{inv.PaidAmount, inv.WrittenOffAmount, inv.Balance, inv.State}
}

func (h *harness) mustFigures(id string, want figures) reconcile.InvoiceDetail {
	h.t.Helper()
	d := h.detail(id)
	if got := figuresOf(d.Invoice); got != want {
		h.t.Fatalf("invoice %s: %+v, want %+v", id, got, want)
	}
	return d
}
