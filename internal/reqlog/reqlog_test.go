package reqlog_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/payrecon/reconciler/internal/reqlog"
)

func TestMiddleware(t *testing.T) {
	// serve sends one request with the given X-Request-Id (none when
	// empty) through the middleware, logging at level; the handler logs one
	// warning through Logger and one info line with Field.
	serve := func(t *testing.T, level zapcore.Level, id string) (*httptest.ResponseRecorder, *observer.ObservedLogs) {
		t.Helper()
		core, logs := observer.New(level)
		log := zap.New(core)
		h := reqlog.Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reqlog.Logger(r.Context(), log.Named("handler")).Warn("from the handler")
			if ce := log.Check(zapcore.InfoLevel, "checked"); ce != nil {
				ce.Write(reqlog.Field(r.Context()))
			}
			w.WriteHeader(http.StatusTeapot)
		}))
		r := httptest.NewRequest(http.MethodGet, "/somewhere?secret=1", nil)
		if id != "" {
			r.Header.Set(reqlog.Header, id)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w, logs
	}

	t.Run("a plain caller id is kept, answered and on every line of the request", func(t *testing.T) {
		w, logs := serve(t, zapcore.DebugLevel, "trace-42:a.b_C")
		if got := w.Header().Get(reqlog.Header); got != "trace-42:a.b_C" {
			t.Fatalf("answered id %q", got)
		}
		entries := logs.All()
		if len(entries) != 3 {
			t.Fatalf("%d lines, want the handler's two and the request line", len(entries))
		}
		for _, e := range entries {
			if got := e.ContextMap()["request_id"]; got != "trace-42:a.b_C" {
				t.Errorf("line %q has request_id %v", e.Message, got)
			}
		}
		if entries[0].LoggerName != "handler" {
			t.Errorf("Logger dropped the caller's logger name: %q", entries[0].LoggerName)
		}
		line := entries[2]
		if line.Message != "http request" || line.Level != zapcore.DebugLevel {
			t.Fatalf("last line %q at %v, want the request line at debug", line.Message, line.Level)
		}
		if f := line.ContextMap(); f["status"] != int64(http.StatusTeapot) || f["path"] != "/somewhere" || f["method"] != "GET" {
			t.Errorf("request line fields %v", f)
		}
	})

	t.Run("a missing, long or unplain caller id is replaced by a fresh one", func(t *testing.T) {
		for _, id := range []string{"", strings.Repeat("a", 65), "bad id", "tab\there", "line\nbreak", "naïve", "{json}"} {
			w, _ := serve(t, zapcore.InfoLevel, id)
			got := w.Header().Get(reqlog.Header)
			if !strings.HasPrefix(got, "req_") || got == id {
				t.Errorf("caller id %q answered %q, want a fresh req_ id", id, got)
			}
		}
		if w, _ := serve(t, zapcore.InfoLevel, strings.Repeat("a", 64)); w.Header().Get(reqlog.Header) != strings.Repeat("a", 64) {
			t.Errorf("a 64-byte id was replaced")
		}
	})

	t.Run("above debug no request line is logged", func(t *testing.T) {
		_, logs := serve(t, zapcore.InfoLevel, "")
		for _, e := range logs.All() {
			if e.Message == "http request" {
				t.Fatalf("request line logged at info")
			}
		}
		if n := logs.Len(); n != 2 {
			t.Fatalf("%d lines, want the handler's two", n)
		}
	})

	t.Run("outside a request Logger and Field add nothing", func(t *testing.T) {
		core, logs := observer.New(zapcore.InfoLevel)
		log := zap.New(core)
		ctx := t.Context()
		reqlog.Logger(ctx, log).Info("x", reqlog.Field(ctx))
		if f := logs.All()[0].ContextMap(); len(f) != 0 {
			t.Fatalf("fields %v, want none", f)
		}
		if reqlog.ID(ctx) != "" {
			t.Fatalf("ID outside a request")
		}
	})
}
