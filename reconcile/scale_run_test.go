package reconcile_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestRunAtScale seeds RECONCILE_SCALE invoices with three payments each
// (one in a thousand drifted) and times a full run, reporting its peak heap.
// It is a measurement, not a check of speed: it runs only when asked, e.g.
// RECONCILE_SCALE=1000000 go test -run TestRunAtScale -v ./reconcile
func TestRunAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RECONCILE_SCALE"))
	if n <= 0 {
		t.Skip("set RECONCILE_SCALE to the number of invoices to measure a full run over")
	}
	s, db := testenv.Store(t)
	ctx := context.Background()
	seedStart := time.Now()
	for _, q := range []string{
		`INSERT INTO invoices (id, number, client, currency, amount, paid_amount, balance, state, sent_at)
		 SELECT 'inv_' || lpad(g::text, 9, '0'), 'N-' || g, 'client-' || (g % 1000), 'usd', 30000, 15000, 15000, 'partial', now()
		 FROM generate_series(1, $1) g`,
		`INSERT INTO payments (id, invoice_id, source, amount, currency, paid_date, method)
		 SELECT 'pay_' || g || '_' || k, 'inv_' || lpad(g::text, 9, '0'), 'manual', 5000, 'usd', current_date, 'check'
		 FROM generate_series(1, $1) g, generate_series(1, 3) k`,
		`UPDATE invoices SET paid_amount = paid_amount + 1, balance = balance - 1
		 WHERE substr(id, 5)::int % 1000 = 0 AND $1 > 0`,
	} {
		_, err := db.Exec(ctx, q, n)
		noErr(t, err)
	}
	_, err := db.Exec(ctx, `VACUUM ANALYZE`) // as autovacuum would have by then
	noErr(t, err)
	t.Logf("seeded %d invoices, %d payments in %v", n, 3*n, time.Since(seedStart).Round(time.Millisecond))

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	runner := reconcile.NewRunner(s, &recordingRelay{store: s}, reconcile.RunnerConfig{RelayAfter: time.Minute})
	start := time.Now()
	_, steps := runOnce(t, s, runner, true)
	took := time.Since(start)
	close(done)
	wg.Wait()
	l := steps.Ledger
	t.Logf("full run over %d invoices: %v, peak heap in use %.1f MiB (%.1f MiB before); checked %d, drift %d, repaired %d",
		n, took.Round(time.Millisecond), float64(peak)/(1<<20), float64(base.HeapInuse)/(1<<20), l.Checked, l.DriftFound, l.Repaired)
	if want := n / 1000; l.Checked != n || l.Repaired != want {
		t.Fatalf("checked %d, repaired %d; want %d, %d", l.Checked, l.Repaired, n, want)
	}
}
