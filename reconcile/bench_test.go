package reconcile_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/testing/proccpu"
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

// BenchmarkGroupOfFreshPayments measures the worker's group commit of the
// commonest events, each the first word of a new money movement (a
// PaymentIntent and its Charge, random ids as Stripe's): groups of 40, one
// after another on one connection, each paying a fresh invoice. Beside
// ns/op it reports PostgreSQL's CPU per event (pg-µs/event, from /proc, when
// the server runs on this machine): a figure the machine's other load moves
// much less than the wall clock.
func BenchmarkGroupOfFreshPayments(b *testing.B) {
	const groupSize = 40
	db := testenv.PoolOn(b, testenv.DatabaseURL(b), 1)
	s := reconcile.NewStore(db)
	ctx := context.Background()
	n := 2 * b.N
	if _, err := db.Exec(ctx, `
		INSERT INTO invoices (id, number, client, currency, amount, balance, state, sent_at)
		SELECT 'inv_' || md5(i::text), 'N', 'c', 'usd', 1000, 1000, 'open', now() FROM generate_series(1, $1) i`, n); err != nil {
		b.Fatal(err)
	}
	var invoices []string
	if err := db.QueryRow(ctx, `SELECT array_agg('inv_' || md5(i::text) ORDER BY i) FROM generate_series(1, $1) i`, n).Scan(&invoices); err != nil {
		b.Fatal(err)
	}
	events := make([]reconcile.InboxEvent, n)
	payments := make([]reconcile.OnlinePayment, n)
	for i := range events {
		events[i] = reconcile.InboxEvent{ID: ids.New("evt"), Type: "payment_intent.succeeded", Created: time.Now(), Payload: []byte("{}")}
		payments[i] = reconcile.OnlinePayment{ProviderRef: ids.New("pi"), Links: []string{ids.New("ch")},
			InvoiceID: invoices[i], Amount: 1000, Currency: "usd", PaidDate: today}
	}
	for from := 0; from < n; from += 1000 {
		if _, err := s.StoreEvents(ctx, events[from:min(n, from+1000)]); err != nil {
			b.Fatal(err)
		}
	}
	applyGroups := func(from, to int) {
		for ; from < to; from += groupSize {
			applyGroup(b, s, events[from:min(to, from+groupSize)], payments[from:min(to, from+groupSize)])
		}
	}
	applyGroups(0, b.N)
	if _, err := db.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	var backend int
	if err := db.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		b.Fatal(err)
	}
	cpuBefore, cpuKnown := proccpu.Seconds(backend)
	b.ResetTimer()
	applyGroups(b.N, n)
	b.StopTimer()
	if cpuAfter, ok := proccpu.Seconds(backend); ok && cpuKnown {
		b.ReportMetric((cpuAfter-cpuBefore)*1e6/float64(b.N), "pg-µs/event")
	}
}

// applyGroup applies the payments of events in one group commit, and fails
// b unless each was processed.
func applyGroup(b *testing.B, s *reconcile.Store, events []reconcile.InboxEvent, payments []reconcile.OnlinePayment) {
	ctx := context.Background()
	results := make([]reconcile.EventResult, len(payments))
	err := s.Group(ctx, func(g *reconcile.Store) error {
		for i, p := range payments {
			res, err := g.RecordOnlinePayment(ctx, events[i].ID, p)
			if err != nil {
				return err
			}
			results[i] = res
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for i, res := range results {
		if res.Status != reconcile.EventProcessed {
			b.Fatalf("event %s: %+v", events[i].ID, res)
		}
	}
}
