// Package reqlog gives every HTTP request an id, echoed in X-Request-Id,
// and a way to log with it, so each log line of a request can be found
// together.
package reqlog

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/payrecon/reconciler/internal/ids"
)

// Header carries the request id, in and out.
const Header = "X-Request-Id"

// fieldName is the request id's key in log lines.
const fieldName = "request_id"

type ctxKey struct{}

// Middleware names each request (the caller's X-Request-Id, else a new
// one), answers with the id, puts the id in the context for Logger and
// Field, and logs one line per request at debug: method, path, status and
// duration, never the body, the query or the headers (they may hold
// secrets).
//
// Nothing is logged or built per request that no log line uses: at info
// and above the request line costs nothing but a level check, and a
// request's logger is made only when something asks for it (Logger).
func Middleware(log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !validID(id) {
			id = ids.New("req")
		}
		// Header is already canonical: no need for Set to canonicalise it.
		w.Header()[Header] = []string{id}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		if !log.Core().Enabled(zapcore.DebugLevel) {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r)
		if ce := log.Check(zapcore.DebugLevel, "http request"); ce != nil {
			ce.Write(zap.String(fieldName, id), zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", sw.status), zap.Duration("took", time.Since(start)))
		}
	})
}

// validID reports whether a caller's id is short and plain ([A-Za-z0-9._:-],
// 1 to 64 bytes), so it cannot forge log lines or carry data.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := range len(id) {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// ID is the request's id, or "" outside a request.
func ID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Field is the request's id as a log field, for a hot path that checks the
// level first (log.Check) and adds the id only to a line it writes; outside
// a request it adds nothing.
func Field(ctx context.Context) zap.Field {
	if id := ID(ctx); id != "" {
		return zap.String(fieldName, id)
	}
	return zap.Skip()
}

// Logger is log with the request's id, or log itself outside a request. It
// builds a logger each call: call it where a line is about to be written,
// not on every request.
func Logger(ctx context.Context, log *zap.Logger) *zap.Logger {
	if id := ID(ctx); id != "" {
		return log.With(zap.String(fieldName, id))
	}
	return log
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
