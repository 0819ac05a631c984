// Package reqlog gives every HTTP request an id, echoed in X-Request-Id,
// and a logger that carries it, so each log line of a request can be found
// together.
package reqlog

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/ids"
)

// Header carries the request id, in and out.
const Header = "X-Request-Id"

type ctxKey struct{}

// A caller's id is kept only when it is short and plain, so it cannot
// forge log lines or carry data.
var validID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Middleware names each request (the caller's X-Request-Id, else a new
// one), answers with the id, puts a logger with request_id in the context,
// and logs one line per request: method, path, status and duration, never
// the body, the query or the headers (they may hold secrets).
func Middleware(log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !validID.MatchString(id) {
			id = ids.New("req")
		}
		w.Header().Set(Header, id)
		l := log.With(zap.String("request_id", id))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, l)))
		l.Debug("http request", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", sw.status), zap.Duration("took", time.Since(start)))
	})
}

// Logger is the request's logger, or fallback outside a request.
func Logger(ctx context.Context, fallback *zap.Logger) *zap.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*zap.Logger); ok {
		return l
	}
	return fallback
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
