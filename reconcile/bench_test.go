package reconcile_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// BenchmarkRecordOnlinePayment measures the worker's ledger transaction for
// a payment_intent.succeeded: ten at a time, as the worker runs them, each
// paying a fresh invoice in full and marking its inbox event processed.
func BenchmarkRecordOnlinePayment(b *testing.B) {
	db := testenv.PoolOn(b, testenv.DatabaseURL(b), 10)
	s := reconcile.NewStore(db)
	ctx := context.Background()
	n := b.N + 10*b.N/100 + 20 // b.N and RunParallel's rounding
	if _, err := db.Exec(ctx, `
		INSERT INTO invoices (id, number, client, currency, amount, balance, state, sent_at)
		SELECT 'inv_b_' || i, 'N', 'c', 'usd', 1000, 1000, 'open', now() FROM generate_series(1, $1) i`, n); err != nil {
		b.Fatal(err)
	}
	events := make([]reconcile.InboxEvent, n)
	for i := range events {
		events[i] = reconcile.InboxEvent{ID: fmt.Sprintf("evt_b_%d", i+1), Type: "payment_intent.succeeded",
			Created: time.Now(), Payload: []byte("{}")}
	}
	if _, err := s.StoreEvents(ctx, events); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(5) // 10 on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			res, err := s.RecordOnlinePayment(ctx, fmt.Sprintf("evt_b_%d", i), reconcile.OnlinePayment{
				ProviderRef: fmt.Sprintf("pi_b_%d", i), InvoiceID: fmt.Sprintf("inv_b_%d", i),
				Amount: 1000, Currency: "usd", PaidDate: today})
			if err != nil || res.Status != reconcile.EventProcessed {
				b.Errorf("payment %d: %+v, %v", i, res, err)
				return
			}
		}
	})
}
