package webhooks_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/payrecon/reconciler/internal/httpserver"
	"github.com/payrecon/reconciler/internal/reqlog"
	"github.com/payrecon/reconciler/webhooks"
)

// BenchmarkRequestPath sends one signed event per op through what the web
// role wraps the webhook in (reqlog's middleware, the mux, the request
// metrics, as cmd/reconciler wires them) and the handler, into a group
// commit that stores nothing. It is the web tier's own CPU and allocations
// per event, without PostgreSQL's and without net/http's connection
// handling: the request and the response writer are reused, so what is
// counted is the service's code. The logger is the production JSON one, at
// warn (as make bench runs it) and at info (LOG_LEVEL's default).
func BenchmarkRequestPath(b *testing.B) {
	payload := fixture(b, "payment_intent.succeeded.json")
	for _, level := range []zapcore.Level{zapcore.WarnLevel, zapcore.InfoLevel} {
		b.Run("log level "+level.String(), func(b *testing.B) {
			log := productionLogger(level)
			h := webhooks.NewUnstored(webhooks.Config{Secrets: []string{secret}}, log.Named("webhooks"))
			defer h.Close()
			metrics := httpserver.NewMetrics(prometheus.NewRegistry())
			mux := http.NewServeMux()
			mux.Handle("/webhooks/stripe", metrics.Instrument("webhooks", h))
			chain := reqlog.Middleware(log, mux)

			body := &reusableBody{}
			r, err := http.NewRequest(http.MethodPost, "http://localhost/webhooks/stripe", body)
			if err != nil {
				b.Fatal(err)
			}
			r.ContentLength = int64(len(payload))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Stripe-Signature", sign(payload, secret, time.Now()))
			w := &discardWriter{header: http.Header{}}
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				body.Reset(payload)
				clear(w.header)
				w.code = 0
				chain.ServeHTTP(w, r)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// productionLogger is config.NewLogger's JSON logger at level, writing
// nowhere.
func productionLogger(level zapcore.Level) *zap.Logger {
	cfg := zap.NewProductionEncoderConfig()
	core := zapcore.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.AddSync(io.Discard), level)
	// zap.NewProductionConfig samples: 100 lines of a message a second,
	// then one in 100.
	core = zapcore.NewSamplerWithOptions(core, time.Second, 100, 100)
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel))
}

// reusableBody is a request body that can be read again.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}

func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
