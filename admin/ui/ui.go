// Package ui is the operator console: a few server-rendered HTML pages under
// /admin/ui for the everyday flows (invoices, payments, credit notes,
// write-offs, events that need attention, reconciliation runs). It needs no
// JavaScript.
//
// The console is a second front end of the admin API, not a second ledger
// client: every change goes through the same functions of admin.API as the
// JSON routes (RecordPayment, DeletePayment, IssueCreditNote,
// ReverseCreditNote, WriteOff, Reopen, SendInvoice), so it is checked,
// queued as a job and applied by the worker exactly as an API call is.
// Reads come from the ledger store.
//
// The JSON API authenticates every /admin request with a bearer token,
// which a browser cannot send; so the console is mounted beside it, at
// "/admin/ui/", and authenticates with a signed session cookie instead,
// issued in exchange for the same admin token. Every form carries a CSRF
// token tied to the session.
package ui

import (
	"crypto/sha256"
	"html/template"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin"
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

// Config is what the console needs. API and Store are required.
type Config struct {
	// Token is the admin token, the one the JSON API takes as a bearer
	// token; operators type it to log in, and the session cookie is signed
	// with a key derived from it, so changing the token ends every session.
	// Empty: every page answers 503.
	Token string
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
}

// Handler serves the console; mount it at Prefix.
type Handler struct {
	api      *admin.API
	store    *reconcile.Store
	log      *zap.Logger
	now      func() time.Time
	pageSize int

	hasToken bool
	tokenSum [sha256.Size]byte
	// signKey signs session cookies and CSRF tokens.
	signKey []byte

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
		hasToken: cfg.Token != "",
		tokenSum: sha256.Sum256([]byte(cfg.Token)),
		signKey:  deriveKey(cfg.Token),
		pages:    parsePages(),
		mux:      http.NewServeMux(),
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
	h.mux.HandleFunc("GET /admin/ui/events", h.page(h.events))

	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/send", h.action(h.send))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/payments", h.action(h.recordPayment))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/payments/{payment_id}/delete", h.action(h.deletePayment))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/credit-notes", h.action(h.issueCreditNote))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/credit-notes/{credit_note_id}/reverse", h.action(h.reverseCreditNote))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/write-off", h.action(h.writeOff))
	h.mux.HandleFunc("POST /admin/ui/invoices/{id}/reopen", h.action(h.reopen))

	// Anything else under the prefix, whatever the method.
	h.mux.HandleFunc("/admin/ui/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, http.StatusNotFound, "Not found", "There is no page "+r.URL.Path+" in the console.")
	})
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
	if !h.hasToken && r.URL.Path != "/admin/ui/static/console.css" {
		h.renderError(w, r, http.StatusServiceUnavailable, "Console not configured",
			"The console is closed because no admin token is configured (ADMIN_TOKEN).")
		return
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
