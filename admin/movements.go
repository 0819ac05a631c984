package admin

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/internal/reqlog"
	"github.com/payrecon/reconciler/reconcile"
)

// movementsHeader is the first line of the movements CSV.
var movementsHeader = []string{"date", "invoice_id", "number", "client", "currency", "kind", "amount", "source", "reference", "actor"}

// How the CSV is sent: flushed every flushRows rows, each flush giving the
// client writeWindow more to take them, so a long export is not cut by the
// server's write timeout while a client that stops reading still is.
const (
	flushRows   = 500
	writeWindow = time.Minute
)

// movements answers GET /admin/reports/movements.csv?from=&to=: one CSV
// row per money movement dated in the range (by default this month up to
// today, as the summary).
func (a *API) movements(w http.ResponseWriter, r *http.Request) error {
	from, to, err := a.dateRange(r)
	if err != nil {
		return err
	}
	return a.WriteMovementsCSV(w, r, from, to)
}

// WriteMovementsCSV answers r with the movements CSV of from..to, streamed
// as PostgreSQL sends the rows. It returns an error only when nothing was
// sent yet, for the caller to answer; an error after the first row cuts
// the connection (the handler panics with http.ErrAbortHandler), so a
// partial file never passes for a whole one. The console serves the same
// file with it.
func (a *API) WriteMovementsCSV(w http.ResponseWriter, r *http.Request, from, to reconcile.Date) error {
	if _, err := require(r.Context(), operators.RoleViewer, "read the movements"); err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	out := csv.NewWriter(w)
	started := false
	rows := 0
	err := a.store.Movements(r.Context(), from, to, func(m reconcile.Movement) error {
		if !started {
			started = true
			writeCSVHeaders(w, "movements-"+from.String()+"-"+to.String()+".csv")
			if err := out.Write(movementsHeader); err != nil {
				return err
			}
		}
		rows++
		if err := out.Write([]string{m.Date.String(), cell(m.InvoiceID), cell(m.Number), cell(m.Client), m.Currency,
			string(m.Kind), strconv.FormatInt(int64(m.Amount), 10), cell(m.Source), cell(m.Reference), cell(m.Actor)}); err != nil {
			return err
		}
		if rows%flushRows == 0 {
			out.Flush()
			_ = rc.SetWriteDeadline(time.Now().Add(writeWindow)) // not every writer supports it; the server's timeout then holds
			_ = rc.Flush()
		}
		return out.Error()
	})
	if err != nil && !started {
		return err // nothing sent yet: an ordinary error answer
	}
	if err != nil {
		// Half a CSV must not pass for a whole one: the connection is cut
		// rather than the answer ended cleanly.
		reqlog.Logger(r.Context(), a.log).Warn("admin: movements export cut short", zap.Int("rows", rows), zap.Error(err))
		panic(http.ErrAbortHandler)
	}
	if !started { // no movement in the range: the header alone
		writeCSVHeaders(w, "movements-"+from.String()+"-"+to.String()+".csv")
		_ = out.Write(movementsHeader)
	}
	out.Flush()
	return nil
}

func writeCSVHeaders(w http.ResponseWriter, filename string) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// cell guards a text cell against formula injection: a spreadsheet opening
// the file runs a cell that starts with = + - or @ (or a tab or carriage
// return before one) as a formula, so such a cell is prefixed with a single
// quote, which shows it as the text it is. encoding/csv does the quoting.
// Dates, currencies, kinds and amounts are ours and need no guard; a
// negative amount stays a number.
func cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
