package reconcile_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestConcurrentOperatorsOnOneInvoice has many goroutines paying, deleting,
// writing off and reopening one invoice at once. The row lock must make it
// as if they ran one by one: no manual payment overpays, and the stored
// totals equal the rows.
func TestConcurrentOperatorsOnOneInvoice(t *testing.T) {
	t.Parallel()
	pool := testenv.PoolOn(t, testenv.DatabaseURL(t), 8)
	s := reconcile.NewStore(pool)
	ctx := context.Background()

	t.Run("thirty payments of 1000 on 10000: exactly ten succeed", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		var wg sync.WaitGroup
		results := make(chan error, 30)
		for i := range 30 {
			wg.Go(func() {
				_, _, err := s.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester",
					Key: fmt.Sprintf("%s-%d", inv.ID, i), InvoiceID: inv.ID, Amount: 1000, PaidDate: today})
				results <- err
			})
		}
		wg.Wait()
		close(results)
		ok, refused := 0, 0
		for err := range results {
			switch errCode(err) {
			case "":
				ok++
			case "overpayment":
				refused++
			default:
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 10 || refused != 20 {
			t.Fatalf("%d succeeded and %d were refused, want 10 and 20", ok, refused)
		}
		mustTotals(t, s, inv.ID, totals{10000, 0, 0, reconcile.StatePaid})
	})

	t.Run("payments, deletes, write-offs and reopens racing keep every invariant", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		var wg sync.WaitGroup
		for g := range 12 {
			wg.Go(func() {
				for i := range 25 {
					k := fmt.Sprintf("%s-%d-%d", inv.ID, g, i)
					switch (g + i) % 4 {
					case 0, 1:
						_, _, _ = s.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: k, InvoiceID: inv.ID, Amount: reconcile.Amount(700 + 100*g), PaidDate: today})
					case 2:
						if d, err := s.GetInvoiceDetail(ctx, inv.ID); err == nil && len(d.Payments) > 0 {
							_, _ = s.DeletePayment(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv.ID, d.Payments[i%len(d.Payments)].ID)
						}
					default:
						if i%2 == 0 {
							_, _ = s.WriteOff(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv.ID, "")
						} else {
							_, _ = s.Reopen(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv.ID)
						}
					}
				}
			})
		}
		wg.Wait()
		checkTruth(t, pool)
		// Replaying the history in order, no manual payment ever took the
		// invoice past its amount.
		rows, err := pool.Query(ctx, `SELECT kind, amount FROM invoice_history WHERE invoice_id = $1 ORDER BY id`, inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		var paid int64
		for rows.Next() {
			var kind string
			var amount *int64
			if err := rows.Scan(&kind, &amount); err != nil {
				t.Fatal(err)
			}
			switch kind {
			case "payment_recorded":
				paid += *amount
			case "payment_deleted":
				paid -= *amount
			}
			if paid > 10000 {
				t.Fatalf("payments reached %d on an invoice of 10000", paid)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetInvoice(ctx, inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if int64(got.PaidAmount) != paid {
			t.Fatalf("history adds up to %d paid, the invoice says %d", paid, got.PaidAmount)
		}
	})
}
