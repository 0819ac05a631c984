package worker_test

import (
	"context"
	"maps"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// openGauges gathers reg and returns reconciler_discrepancies_open by kind,
// and reconciler_discrepancies_up (-1 when absent).
func openGauges(t *testing.T, reg *prometheus.Registry) (map[string]float64, float64) {
	t.Helper()
	open, up := map[string]float64{}, -1.0
	for _, m := range series(t, reg, "reconciler_discrepancies_open") {
		open[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	if ms := series(t, reg, "reconciler_discrepancies_up"); len(ms) > 0 {
		up = ms[0].GetGauge().GetValue()
	}
	return open, up
}

func TestDiscrepancyCollector(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	reg.MustRegister(worker.NewDiscrepancyCollector(s))
	want := func(counts map[reconcile.DiscrepancyKind]float64) map[string]float64 {
		out := map[string]float64{}
		for _, k := range reconcile.DiscrepancyKinds() {
			out[string(k)] = counts[k]
		}
		return out
	}

	t.Run("every kind has a series, 0 before any discrepancy", func(t *testing.T) {
		open, up := openGauges(t, reg)
		if !maps.Equal(open, want(nil)) || up != 1 {
			t.Fatalf("open %v, up %v", open, up)
		}
	})

	t.Run("it counts the open ones of each kind at each scrape, not the resolved", func(t *testing.T) {
		_, err := pool.Exec(ctx, `
			INSERT INTO discrepancies (id, kind, provider_ref, currency, found_run, last_seen_run, status, resolved_at, actor)
			VALUES ('d1', 'amount_mismatch', 'pi_1', 'usd', 'r', 'r', 'open', NULL, NULL),
			       ('d2', 'amount_mismatch', 'pi_2', 'usd', 'r', 'r', 'open', NULL, NULL),
			       ('d3', 'missing_in_stripe', 'pi_3', 'usd', 'r', 'r', 'open', NULL, NULL),
			       ('d4', 'refund_mismatch', 'pi_4', 'usd', 'r', 'r', 'resolved', now(), 'reconciler')`)
		if err != nil {
			t.Fatal(err)
		}
		open, _ := openGauges(t, reg)
		if w := want(map[reconcile.DiscrepancyKind]float64{reconcile.AmountMismatch: 2, reconcile.MissingInStripe: 1}); !maps.Equal(open, w) {
			t.Fatalf("open %v, want %v", open, w)
		}
		if _, err := s.ResolveDiscrepancy(ctx, "d1", "checked", "alice"); err != nil {
			t.Fatal(err)
		}
		open, _ = openGauges(t, reg)
		if w := want(map[reconcile.DiscrepancyKind]float64{reconcile.AmountMismatch: 1, reconcile.MissingInStripe: 1}); !maps.Equal(open, w) {
			t.Fatalf("after a resolution: open %v, want %v", open, w)
		}
	})

	t.Run("a database that does not answer is reported down, with no counts", func(t *testing.T) {
		pool.Close()
		open, up := openGauges(t, reg)
		if len(open) != 0 || up != 0 {
			t.Fatalf("open %v, up %v", open, up)
		}
	})
}
