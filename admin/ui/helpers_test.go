package ui_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/admin/ui"
	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

const testToken = "s3cret-admin-token"

// harness is the console and the JSON API mounted as the web process
// mounts them, on their own database and Redis db, with the real worker.
type harness struct {
	t     *testing.T
	url   string
	store *reconcile.Store
	pool  *pgxpool.Pool
	ui    *ui.Handler
	now   time.Time
	// operators keeps the operators and the console's sessions.
	operators *operators.Store
}

// options change a harness's console config.
type option func(*ui.Config)

func newHarness(t *testing.T, opts ...option) *harness {
	t.Helper()
	store, pool := testenv.Store(t)
	redis := testenv.Redis(t)
	log := zap.NewNop()
	client := worker.NewClient(redis, store, log)
	t.Cleanup(func() { _ = client.Close() })
	srv := worker.NewServer(redis, 4, worker.NewHandlers(store, client, nil, time.Minute, log).WithLivemode(false), log)
	if err := srv.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(srv.Shutdown) })

	h := &harness{t: t, store: store, pool: pool, now: time.Now().UTC(), operators: operators.NewStore(pool)}
	api := admin.New(admin.Config{Token: testToken, Store: store, Jobs: client, Operators: h.operators, Log: log})
	cfg := ui.Config{Token: testToken, API: api, Store: store, Operators: h.operators, Log: log,
		// Tests log in often from one address, and a wrong key answers at
		// once: the limits have tests of their own.
		LoginBurst: 1000, FailedLoginDelay: -1}
	for _, o := range opts {
		o(&cfg)
	}
	h.ui = ui.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/admin/", api)
	mux.Handle(ui.Prefix, h.ui)
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	h.url = web.URL
	return h
}

// browser is a client with a cookie jar that does not follow redirects, so
// tests see them.
type browser struct {
	h    *harness
	t    *testing.T
	http *http.Client
}

func (h *harness) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{h: h, t: t, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

// loggedIn is a browser with a session.
func (h *harness) loggedIn(t *testing.T) *browser {
	t.Helper()
	b := h.browser(t)
	res := b.post("/admin/ui/login", url.Values{"token": {testToken}})
	res.mustRedirect(t, "/admin/ui/invoices")
	return b
}

// page is an answer, read whole.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.h.url+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form; headers are name, value pairs.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.h.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// submit posts the form of the page at path whose action is action, as a
// browser would: with its hidden fields (the CSRF token, the form key) and
// the given values.
func (b *browser) submit(path, action string, values url.Values) page {
	b.t.Helper()
	p := b.get(path)
	p.must(b.t, http.StatusOK)
	form := p.form(b.t, action)
	for k, v := range values {
		form[k] = v
	}
	return b.post(action, form)
}

var (
	formPattern   = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)"[^>]*>(.*?)</form>`)
	hiddenPattern = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// form returns the hidden fields of the page's form posting to action.
func (p page) form(t *testing.T, action string) url.Values {
	t.Helper()
	for _, m := range formPattern.FindAllStringSubmatch(p.body, -1) {
		if html.UnescapeString(m[1]) != action {
			continue
		}
		v := url.Values{}
		for _, f := range hiddenPattern.FindAllStringSubmatch(m[2], -1) {
			v.Set(f[1], html.UnescapeString(f[2]))
		}
		return v
	}
	t.Fatalf("no form posting to %s in:\n%s", action, p.body)
	return nil
}

// hasForm reports whether the page has a form posting to action.
func (p page) hasForm(action string) bool {
	for _, m := range formPattern.FindAllStringSubmatch(p.body, -1) {
		if html.UnescapeString(m[1]) == action {
			return true
		}
	}
	return false
}

func (p page) must(t *testing.T, status int) page {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", p.status, status, p.body)
	}
	return p
}

// mustRedirect fails unless the answer is a 303 to a location starting
// with prefix, and returns the location.
func (p page) mustRedirect(t *testing.T, prefix string) string {
	t.Helper()
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("answer %d to %q, want 303 to %s...; body:\n%s", p.status, loc, prefix, p.body)
	}
	return loc
}

var (
	tagPattern   = regexp.MustCompile(`<[^>]*>`)
	spacePattern = regexp.MustCompile(`\s+`)
)

// text is the page as a reader sees it: no tags, one space between words.
func (p page) text() string {
	return html.UnescapeString(spacePattern.ReplaceAllString(tagPattern.ReplaceAllString(p.body, ""), " "))
}

// mustContain fails unless the page holds every string, in its HTML or in
// its text.
func (p page) mustContain(t *testing.T, want ...string) page {
	t.Helper()
	source, text := html.UnescapeString(p.body), p.text()
	for _, w := range want {
		if !strings.Contains(source, w) && !strings.Contains(text, w) {
			t.Fatalf("page lacks %q:\n%s", w, p.body)
		}
	}
	return p
}

func (p page) mustNotContain(t *testing.T, unwanted ...string) page {
	t.Helper()
	source, text := html.UnescapeString(p.body), p.text()
	for _, u := range unwanted {
		if strings.Contains(source, u) || strings.Contains(text, u) {
			t.Fatalf("page holds %q:\n%s", u, p.body)
		}
	}
	return p
}

// createInvoice makes an invoice of amount minor units of usd, sent when
// sent is set.
func (h *harness) createInvoice(t *testing.T, id string, amount reconcile.Amount, sent bool) reconcile.Invoice {
	t.Helper()
	inv, err := h.store.CreateInvoice(context.Background(), reconcile.NewInvoice{Actor: "tester",
		ID: id, Number: "F-" + id, Client: "acme", Currency: "usd", Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	if sent {
		if inv, err = h.store.SendInvoice(context.Background(), reconcile.Op{Actor: "tester"}, id); err != nil {
			t.Fatal(err)
		}
	}
	return inv
}

func (h *harness) invoice(t *testing.T, id string) reconcile.InvoiceDetail {
	t.Helper()
	d, err := h.store.GetInvoiceDetail(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// jobOf reads the job id out of a redirect to the invoice page.
func jobOf(t *testing.T, location string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatal(err)
	}
	id := u.Query().Get("job")
	if id == "" {
		t.Fatalf("no job in %s", location)
	}
	return id
}

// waitJob waits until the job is finished and fails unless it ended with
// status.
func (h *harness) waitJob(t *testing.T, id string, status reconcile.JobStatus) reconcile.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := h.store.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status.Finished() {
			if j.Status != status {
				t.Fatalf("job %s %s (%s), want %s", id, j.Status, j.Error, status)
			}
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 60s", id, j.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) jobRows(t *testing.T) int {
	t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// unchanged runs fn and fails if it changed the invoice (with its payments
// and history) or stored a job.
func (h *harness) unchanged(t *testing.T, id string, fn func()) {
	t.Helper()
	snapshot := func() string {
		d, err := h.store.GetInvoiceDetail(context.Background(), id)
		if err != nil {
			return "error: " + err.Error()
		}
		b, _ := json.Marshal(d)
		return string(b)
	}
	before, jobs := snapshot(), h.jobRows(t)
	fn()
	if after := snapshot(); after != before {
		t.Fatalf("invoice %s changed:\nbefore %s\nafter  %s", id, before, after)
	}
	if n := h.jobRows(t); n != jobs {
		t.Fatalf("%d jobs stored, want none", n-jobs)
	}
}
