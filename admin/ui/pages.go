package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/admin/cli"
	"github.com/payrecon/reconciler/reconcile"
)

//go:embed templates/*.html static/console.css
var files embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "invoices", "invoice", "confirm", "reverse", "events", "error"}

var funcs = template.FuncMap{
	"money":  money,
	"moneyp": func(a *reconcile.Amount, currency string) string { return moneyOrDash(a, currency) },
	"when":   when,
	"whenp": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return when(*t)
	},
	"datep": func(d *reconcile.Date) string {
		if d == nil {
			return "—"
		}
		return d.String()
	},
	"label": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
}

// parsePages parses every page with the layout; the templates are embedded,
// so an error is a bug.
func parsePages() map[string]*template.Template {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files,
			"templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// money shows an amount of minor units in major units with the currency
// code: 4000 usd is "40.00 USD".
func money(a reconcile.Amount, currency string) string {
	return cli.FormatAmount(int64(a), currency) + " " + strings.ToUpper(currency)
}

func moneyOrDash(a *reconcile.Amount, currency string) string {
	if a == nil {
		return "—"
	}
	return money(*a, currency)
}

// when shows a time in UTC, to the minute.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// base is what the layout shows on every page.
type base struct {
	Title string
	// Nav names the current section: "invoices" or "events".
	Nav string
	// Refresh reloads the page every second (a job still running).
	Refresh bool
	// ErrorTitle and Error are a refusal shown at the top of the page.
	ErrorTitle string
	Error      string
	Notice     string
	// LoggedIn and CSRF are filled in by render from the session.
	LoggedIn bool
	CSRF     string
}

func (b *base) layout() *base { return b }

// view is a page's data: a struct that embeds base.
type view interface{ layout() *base }

// render writes a page. It is executed into memory first, so a template
// error is a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	if s, ok := h.readSession(r); ok {
		b := v.layout()
		b.LoggedIn, b.CSRF = true, h.csrfToken(s)
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.Error("ui: render page", zap.String("page", name), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a browser that went away has nothing to learn
}

// errorPage is a page that is only a message.
type errorPage struct {
	base
	Message string
}

// renderError answers a page that says what went wrong.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	h.render(w, r, status, "error", &errorPage{base: base{Title: title}, Message: message})
}

// forbidden answers a refused form (CSRF or origin): nothing was done.
func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, why string) {
	h.renderError(w, r, http.StatusForbidden, "Forbidden", why+" Nothing was changed.")
}

// internal answers a fault that is not the operator's.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("ui: internal error", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	h.renderError(w, r, http.StatusInternalServerError, "Something went wrong",
		"The console could not do this. Nothing more is known here; the server log has the detail.")
}

// refusal maps err as the JSON API does (admin.API.Classify: a ledger
// refusal by its kind, a database down as 503) to a status, a heading and
// a message for people. inv, when known, lets amounts be shown in major
// units.
func (h *Handler) refusal(r *http.Request, err error, inv *reconcile.Invoice) (status int, title, message string) {
	status, code, message := h.api.Classify(r, err)
	switch status {
	case http.StatusBadRequest:
		title = "Check the form"
	case http.StatusNotFound:
		title = "Not found"
	case http.StatusConflict:
		title = "Not allowed in this state"
	case http.StatusUnprocessableEntity:
		title = "Refused"
	case http.StatusServiceUnavailable:
		title = "Unavailable"
		message = "The database is unavailable; try again in a moment."
	default:
		// Classify logged the detail.
		title = "Something went wrong"
		message = "The console could not do this; the server log has the detail."
	}
	if code == "idempotency_key_reused" {
		// The back button, then the same form posted with other values.
		message = "This form was already used for another request. Open the invoice again to start afresh."
	}
	if code == "overpayment" && inv != nil {
		unpaid := inv.Unpaid()
		message = fmt.Sprintf("This payment is more than the %s still unpaid on invoice %s. Record at most %s.",
			money(unpaid, inv.Currency), inv.Number, money(unpaid, inv.Currency))
	}
	if code == "credit_note_exceeds_balance" && inv != nil {
		due := max(inv.Balance, 0)
		message = fmt.Sprintf("This credit note is more than the %s still due on invoice %s. Credit at most %s.",
			money(due, inv.Currency), inv.Number, money(due, inv.Currency))
		if due == 0 && inv.WriteOffLive {
			message = fmt.Sprintf("Nothing is left due on invoice %s: its write-off covers the rest. Reopen it first.", inv.Number)
		}
	}
	if status < 500 {
		message += " Nothing was changed."
	}
	return status, title, message
}

// serveCSS serves the console's one style sheet.
func serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeFileFS(w, r, files, "static/console.css")
}
