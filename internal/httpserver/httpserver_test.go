package httpserver_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/payrecon/reconciler/internal/httpserver"
)

func TestInstrument(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := httpserver.NewMetrics(reg)
	answer := func(status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch status {
			case 0: // writes nothing: net/http answers 200
			case -1: // writes a body without a status
				_, _ = w.Write([]byte("ok"))
			case http.StatusEarlyHints: // a 1xx, then the final answer
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusNoContent)
			default:
				w.WriteHeader(status)
				w.WriteHeader(http.StatusTeapot) // superfluous: net/http ignores it, so must the count
			}
		})
	}
	send := func(h http.Handler, n int) {
		for range n {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		}
	}
	send(m.Instrument("silent", answer(0)), 2)
	send(m.Instrument("body", answer(-1)), 1)
	send(m.Instrument("hints", answer(http.StatusEarlyHints)), 1)
	send(m.Instrument("missing", answer(http.StatusNotFound)), 3)
	send(m.Instrument("missing", answer(http.StatusServiceUnavailable)), 1)

	got := gather(t, reg)
	for _, want := range []struct {
		series string
		value  float64
	}{
		{`reconciler_http_requests_total{code="200",handler="silent"}`, 2},
		{`reconciler_http_requests_total{code="200",handler="body"}`, 1},
		{`reconciler_http_requests_total{code="204",handler="hints"}`, 1},
		{`reconciler_http_requests_total{code="404",handler="missing"}`, 3},
		{`reconciler_http_requests_total{code="503",handler="missing"}`, 1},
		{`reconciler_http_request_duration_seconds_count{handler="missing"}`, 4},
		{`reconciler_http_request_duration_seconds_count{handler="silent"}`, 2},
	} {
		if v, ok := got[want.series]; !ok || v != want.value {
			t.Errorf("%s = %v (present %v), want %v", want.series, v, ok, want.value)
		}
	}
	if n := len(got); n != 9 {
		t.Errorf("%d series, want 9 (no 418, no 103): %v", n, got)
	}
}

// gather reads the registry's counters and histogram counts by series.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := ""
			for i, l := range m.GetLabel() {
				if i > 0 {
					labels += ","
				}
				labels += l.GetName() + `="` + l.GetValue() + `"`
			}
			switch {
			case m.GetCounter() != nil:
				series[f.GetName()+"{"+labels+"}"] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				series[f.GetName()+"_count{"+labels+"}"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return series
}
