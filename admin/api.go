// Package admin is the operator HTTP API under /admin: it authenticates
// (the bootstrap admin's ADMIN_TOKEN, or an operator's own key), checks the
// caller's role against the route (RequiredRole), validates, answers reads
// from the ledger, and queues every change of money as a job (a row in
// PostgreSQL first, an Asynq task second) that the worker applies in the
// caller's name.
package admin

import (
	"context"
	"crypto/sha256"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/reconcile"
)

// JobSubmitter stores a job and queues it. worker.Client implements it; an
// idempotency key already used returns the job it made.
type JobSubmitter interface {
	Submit(ctx context.Context, n reconcile.NewJob) (reconcile.Job, error)
}

// KeyLookup looks up a request's idempotency key and reads the invoice it
// names (none when invoiceID is empty), as reconcile.Store's
// LookupJobByKeyReading does. worker.Client implements it, with the
// lookups of concurrent requests in one round trip.
type KeyLookup interface {
	LookupKey(ctx context.Context, key, requestHash, invoiceID string) (reconcile.Job, bool, reconcile.InvoiceRead, error)
}

// Config is what the API needs. Store and Jobs are required.
type Config struct {
	// Token is the bootstrap admin's bearer token (ADMIN_TOKEN). Empty:
	// every request is answered 503, so a deployment without ADMIN_TOKEN is
	// closed, not open.
	Token string
	Store *reconcile.Store
	Jobs  JobSubmitter
	// Keys looks up the requests' idempotency keys. Nil: the store does,
	// one round trip each.
	Keys KeyLookup
	// Operators holds the operators' keys and roles. Nil: only the admin
	// token is accepted, and the operators routes answer 503.
	Operators *operators.Store
	// Log receives internal errors in full; callers see only a code. Nil
	// logs nothing.
	Log *zap.Logger
	// Now gives "today" for default dates (UTC). Nil is time.Now.
	Now func() time.Time
}

// API serves every path under /admin/; the caller mounts it at "/admin/".
type API struct {
	tokenSum  [sha256.Size]byte
	hasToken  bool
	store     *reconcile.Store
	jobs      JobSubmitter
	keys      KeyLookup
	operators *operators.Store
	log       *zap.Logger
	now       func() time.Time
	mux       *http.ServeMux
	patterns  []string // as given to Handle, for Routes
}

// New builds the API with its routes.
func New(cfg Config) *API {
	a := &API{
		tokenSum:  sha256.Sum256([]byte(cfg.Token)),
		hasToken:  cfg.Token != "",
		store:     cfg.Store,
		jobs:      cfg.Jobs,
		keys:      cfg.Keys,
		operators: cfg.Operators,
		log:       cfg.Log,
		now:       cfg.Now,
		mux:       http.NewServeMux(),
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.routes()
	return a
}

func (a *API) routes() {
	a.Handle("POST /admin/invoices", a.errs(a.createInvoice))
	a.Handle("GET /admin/invoices", a.errs(a.listInvoices))
	a.Handle("GET /admin/invoices/{id}", a.errs(a.getInvoice))
	a.Handle("POST /admin/invoices/{id}/send", a.errs(a.sendInvoice))
	a.Handle("DELETE /admin/invoices/{id}", a.errs(a.deleteInvoice))
	a.Handle("POST /admin/invoices/{id}/payments", a.errs(a.recordPayment))
	a.Handle("DELETE /admin/invoices/{id}/payments/{payment_id}", a.errs(a.deletePayment))
	a.Handle("POST /admin/invoices/{id}/credit-notes", a.errs(a.issueCreditNote))
	a.Handle("DELETE /admin/invoices/{id}/credit-notes/{credit_note_id}", a.errs(a.reverseCreditNote))
	a.Handle("POST /admin/invoices/{id}/write-off", a.errs(a.writeOff))
	a.Handle("POST /admin/invoices/{id}/reopen", a.errs(a.reopen))
	a.Handle("GET /admin/jobs", a.errs(a.listJobs))
	a.Handle("GET /admin/jobs/{id}", a.errs(a.getJob))
	a.Handle("GET /admin/events", a.errs(a.listEvents))
	a.Handle("POST /admin/events/{id}/resolve", a.errs(a.resolveEvent))
	a.Handle("GET /admin/discrepancies", a.errs(a.listDiscrepancies))
	a.Handle("POST /admin/discrepancies/{id}/resolve", a.errs(a.resolveDiscrepancy))
	a.Handle("POST /admin/reconcile", a.errs(a.reconcile))
	a.Handle("GET /admin/reconcile/runs", a.errs(a.listRuns))
	a.Handle("GET /admin/reports/summary", a.errs(a.summary))
	a.Handle("GET /admin/reports/aging", a.errs(a.aging))
	a.Handle("GET /admin/reports/movements.csv", a.errs(a.movements))
	a.Handle("GET /admin/openapi.yaml", ServeOpenAPI)
	a.Handle("POST /admin/operators", a.errs(a.createOperator))
	a.Handle("GET /admin/operators", a.errs(a.listOperators))
	a.Handle("DELETE /admin/operators/{id}", a.errs(a.revokeOperator))
}

// Handle adds a route, with a Go 1.22 ServeMux pattern such as
// "GET /admin/reconcile/runs". It is served behind the same authentication
// as every other route, because ServeHTTP checks the token before routing,
// and only to a role RequiredRole allows.
func (a *API) Handle(pattern string, h http.HandlerFunc) {
	a.mux.HandleFunc(pattern, a.guard(pattern, h))
	a.patterns = append(a.patterns, pattern)
}

// Routes returns the patterns of every route added with Handle, in the
// order they were added; the OpenAPI document's tests check that each is
// documented. Add routes before serving: Routes does not guard against a
// concurrent Handle.
func (a *API) Routes() []string { return append([]string(nil), a.patterns...) }

// handlerFunc is a route that returns its error for WriteError to answer,
// so every failure path ends in the same mapping.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *API) errs(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.WriteError(w, r, err)
		}
	}
}

// ServeHTTP authenticates the request, then routes it. An unknown path or
// method is answered with the contract's JSON error, not the mux's text; a
// path parameter or query that is not text (CheckParams) with a 400 before
// any route runs.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := a.authenticate(w, r)
	if !ok {
		return
	}
	r = r.WithContext(WithPrincipal(r.Context(), p))
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		a.noRoute(w, r, h)
		return
	}
	if err := CheckParams(r, pattern); err != nil {
		a.WriteError(w, r, err)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// noRoute turns the mux's own 404 or 405 (with its Allow header) into the
// contract's JSON error.
func (a *API) noRoute(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		a.WriteError(w, r, httpErr(http.StatusMethodNotAllowed, "method_not_allowed",
			r.Method+" is not allowed on "+r.URL.Path))
		return
	}
	a.WriteError(w, r, httpErr(http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path))
}

// statusRecorder keeps the status and headers a handler writes, and drops
// its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }

func (s *statusRecorder) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return len(b), nil
}
