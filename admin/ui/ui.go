// Package ui is the operator console: a few server-rendered HTML pages under
// /admin/ui for the everyday flows (invoices, payments, credit notes,
// write-offs, reports, and what needs attention: discrepancies with Stripe,
// events waiting for a person, reconciliation runs). It needs no
// JavaScript.
//
// The console is a second front end of the admin API, not a second ledger
// client: every change goes through the same functions of admin.API as the
// JSON routes (RecordPayment, DeletePayment, IssueCreditNote,
// ReverseCreditNote, WriteOff, Reopen, SendInvoice, ResolveEvent,
// ResolveDiscrepancy), so it is checked, queued as a job and applied by the
// worker exactly as an API call is. Reads come from the ledger store.
//
// The JSON API authenticates every /admin request with a bearer key, which
// a browser cannot send; so the console is mounted beside it, at
// "/admin/ui/", and authenticates with a session cookie instead, issued in
// exchange for the admin token or an operator's key. Sessions are rows in
// PostgreSQL, read on every request: logging out, or revoking the operator,
// ends them at once. Every form carries a CSRF token tied to the session,
// and the console offers only what the session's role may do (the admin
// API refuses the rest anyway).
package ui

import (
	"crypto/sha256"
	"html/template"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/reconcile"
)

// Prefix is the path the console is mounted at, next to the admin API:
//
//	mux.Handle("/admin/", api)
//	mux.Handle(ui.Prefix, ui.New(...))
//
// ServeMux picks the longer pattern, so the admin API's bearer check never
// sees console requests.
const Prefix = "/admin/ui/"

// DefaultPageSize is how many invoices a listing page shows unless
// Config.PageSize says otherwise.
const DefaultPageSize = 25

// Config is what the console needs. API, Store and Operators are required.
type Config struct {
	// Token is the admin token, the one the JSON API takes as a bearer
	// token: the bootstrap admin types it to log in (operators type their
	// own keys), and CSRF tokens are signed with a key derived from it, so
	// changing it ends the bootstrap admin's sessions and every form.
	// Empty: every page answers 503.
	Token string
	// Operators keeps the operators' keys and the console's sessions.
	Operators *operators.Store
	// API makes every change, through the same code paths as the JSON API.
	API *admin.API
	// Store answers the pages' reads.
	Store *reconcile.Store
	// Log receives internal errors. Nil logs nothing.
	Log *zap.Logger
	// Now is the clock of sessions and of "today" in forms. Nil is time.Now.
	Now func() time.Time
	// PageSize is how many invoices a listing page shows; 0 is
	// DefaultPageSize.
	PageSize int
	// LoginBurst and LoginEvery limit login attempts per client address
	// and per key tried: LoginBurst at once, then one per LoginEvery
	// (0: DefaultLoginBurst, DefaultLoginEvery).
	LoginBurst int
	LoginEvery time.Duration
	// FailedLoginDelay is how long a wrong key waits for its answer
	// (0: DefaultFailedLoginDelay; negative: none).
	FailedLoginDelay time.Duration
}

// Handler serves the console; mount it at Prefix.
type Handler struct {
	api      *admin.API
	store    *reconcile.Store
	log      *zap.Logger
	now      func() time.Time
	pageSize int

	operators *operators.Store
	hasToken  bool
	tokenSum  [sha256.Size]byte
	// signKey signs CSRF tokens.
	signKey []byte
	// tokenDigest marks the bootstrap admin's sessions with the token they
	// were made under.
	tokenDigest []byte
	logins      *loginLimiter
	failedDelay time.Duration

	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds the console. It panics if its embedded templates do not parse,
// which a test catches.
func New(cfg Config) *Handler {
	h := &Handler{
		api:      cfg.API,
		store:    cfg.Store,
		log:      cfg.Log,
		now:      cfg.Now,
		pageSize: cfg.PageSize,

		operators:   cfg.Operators,
		hasToken:    cfg.Token != "",
		tokenSum:    sha256.Sum256([]byte(cfg.Token)),
		signKey:     deriveKey("reconciler-ui-csrf", cfg.Token),
		tokenDigest: deriveKey("reconciler-ui-session-owner", cfg.Token),
		logins:      newLoginLimiter(orDefault(cfg.LoginEvery, DefaultLoginEvery), orDefault(cfg.LoginBurst, DefaultLoginBurst)),
		failedDelay: orDefault(cfg.FailedLoginDelay, DefaultFailedLoginDelay),

		pages: parsePages(),
		mux:   http.NewServeMux(),
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.pageSize <= 0 {
		h.pageSize = DefaultPageSize
	}
	h.routes()
	return h
}

func (h *Handler) routes() {
	h.mux.HandleFunc("GET /admin/ui/static/console.css", serveCSS)
	h.mux.HandleFunc("GET /admin/ui/login", h.loginForm)
	h.mux.HandleFunc("POST /admin/ui/login", h.login)
	h.mux.HandleFunc("POST /admin/ui/logout", h.action(h.logout))

	h.mux.HandleFunc("GET /admin/ui/{$}", h.page(func(w http.ResponseWriter, r *http.Request, _ session) {
		http.Redirect(w, r, "/admin/ui/invoices", http.StatusSeeOther)
	}))
	h.mux.HandleFunc("GET /admin/ui/invoices", h.page(h.invoices))
	h.mux.HandleFunc("GET /admin/ui/invoices/{id}", h.page(h.invoice))
	h.mux.HandleFunc("GET /admin/ui/invoices/{id}/payments/{payment_id}/delete", h.page(h.confirmDelete))
	h.mux.HandleFunc("GET /admin/ui/invoices/{id}/credit-notes/{credit_note_id}/reverse", h.page(h.confirmReverse))
	h.mux.HandleFunc("GET /admin/ui/invoices/{id}/write-off", h.page(h.confirmWriteOff))
	h.mux.HandleFunc("GET /admin/ui/events", h.page(h.events))
	h.mux.HandleFunc("GET /admin/ui/reports", h.page(h.reports))
	h.mux.HandleFunc("GET /admin/ui/reports/movements.csv", h.page(h.movementsCSV))
	h.mux.HandleFunc("GET /admin/ui/events/{id}/apply", h.page(h.confirmApply))

	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/send", h.action(h.send))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/payments", h.action(h.recordPayment))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/payments/{payment_id}/delete", h.action(h.deletePayment))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/credit-notes", h.action(h.issueCreditNote))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/credit-notes/{credit_note_id}/reverse", h.action(h.reverseCreditNote))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/write-off", h.action(h.writeOff))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/reopen", h.action(h.reopen))
	h.mux.HandleFunc("POST /admin/ui/events/{id}/ignore", h.action(h.ignoreEvent))
	h.mux.HandleFunc("POST /admin/ui/events/{id}/apply", h.action(h.applyEvent))
	h.mux.HandleFunc("POST /admin/ui/discrepancies/{id}/resolve", h.action(h.resolveDiscrepancy))

	// Anything else under the prefix, whatever the method.
	h.mux.HandleFunc("/admin/ui/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, http.StatusNotFound, "Not found", "There is no page "+r.URL.Path+" in the console.")
	})
}

// orDefault is v, or def when v is zero; a negative v is zero.
func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// ServeHTTP serves a console request. A console without a token is closed:
// every page answers 503, as the JSON API does.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	// No scripts, no frames, no third parties, forms only to ourselves.
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	if r.URL.Path != "/admin/ui/static/console.css" {
		switch {
		case !h.hasToken:
			h.renderError(w, r, http.StatusServiceUnavailable, "Console not configured",
				"The console is closed because no admin token is configured (ADMIN_TOKEN).")
			return
		case h.operators == nil:
			// Sessions live in the operators store: without one, nobody could
			// log out for good, so nobody logs in.
			h.renderError(w, r, http.StatusServiceUnavailable, "Console not configured",
				"The console is closed because it has no store for its sessions.")
			return
		}
	}
	// A path or query no id or filter can hold (a NUL, invalid UTF-8) is
	// refused before any page reads the ledger, as the JSON API does.
	if _, pattern := h.mux.Handler(r); pattern != "" {
		if err := admin.CheckParams(r, pattern); err != nil {
			h.renderError(w, r, http.StatusBadRequest, "Bad request", "The address holds bytes that are not text. Nothing was done.")
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}
