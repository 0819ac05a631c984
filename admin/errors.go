package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/reqlog"
)

// httpError is a refusal made at the HTTP edge (a bad header, a body too
// large), where the ledger has no say and the status is known outright.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.code + ": " + e.message }

func httpErr(status int, code, message string) *httpError {
	return &httpError{status: status, code: code, message: message}
}

// invalid is a 400 about one field; message must name the field.
func invalid(code, message string) *httpError {
	return httpErr(http.StatusBadRequest, code, message)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError answers err as the contract's JSON error. It is the one place
// that maps errors to statuses: ledger refusals by their kind, a database
// out of reach as 503 (the caller should retry), and anything else as 500
// with its detail only in the log. Routes added with Handle use it too.
func (a *API) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, message := a.Classify(r, err)
	b, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: message}}) // two strings always marshal
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // a caller that hung up has nothing to learn
}

// Classify maps err to the status, machine code and message it is answered
// with, logging what callers are not shown. It is exported so that another
// front end of the same actions (the operator console) refuses exactly as
// this API does.
func (a *API) Classify(r *http.Request, err error) (status int, code, message string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.code, he.message
	}
	if le, ok := apperr.As(err); ok {
		switch le.Kind {
		case apperr.KindInvalid:
			return http.StatusBadRequest, le.Code, le.Message
		case apperr.KindNotFound:
			return http.StatusNotFound, le.Code, le.Message
		case apperr.KindConflict:
			return http.StatusConflict, le.Code, le.Message
		case apperr.KindRefused:
			return http.StatusUnprocessableEntity, le.Code, le.Message
		}
	}
	if r.Context().Err() != nil {
		// The caller hung up or its deadline passed: nobody reads this answer
		// and nothing is wrong with the server, so no error log.
		return http.StatusServiceUnavailable, "request_canceled", "the request ended before it was answered"
	}
	if databaseUnavailable(err) {
		reqlog.Logger(r.Context(), a.log).Warn("admin: database unavailable", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		return http.StatusServiceUnavailable, "database_unavailable", "the database is unavailable; retry"
	}
	reqlog.Logger(r.Context(), a.log).Error("admin: internal error", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	return http.StatusInternalServerError, "internal", "internal error"
}

// databaseUnavailable reports whether err means PostgreSQL could not be
// reached or is not taking work: a retry later may succeed, so the caller
// gets 503 rather than 500.
func databaseUnavailable(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr), pgconn.SafeToRetry(err), pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &pgErr):
		// 08: connection exception; 53300: too many connections; 57P01..03:
		// the server is shutting down or starting.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "53300" || strings.HasPrefix(pgErr.Code, "57P")
	}
	// pgxpool reports a closed pool with a plain error.
	return strings.Contains(err.Error(), "closed pool")
}

// WriteJSON answers v as JSON with status.
func (a *API) WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.log.Error("admin: encode answer", zap.Error(err))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"code":"internal","message":"internal error"}}` + "\n"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
