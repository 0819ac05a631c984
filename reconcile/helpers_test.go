package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/reconcile"
)

var today = reconcile.DateOf(time.Now())

// newInvoice creates an invoice of amount usd, sent when sent is true.
func newInvoice(t *testing.T, s *reconcile.Store, amount reconcile.Amount, sent bool) reconcile.Invoice {
	t.Helper()
	ctx := context.Background()
	inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: "F-1", Client: "acme", Currency: "usd", Amount: amount})
	if err != nil {
		t.Fatalf("create invoice: %v", err)
	}
	if sent {
		if inv, err = s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID); err != nil {
			t.Fatalf("send invoice: %v", err)
		}
	}
	return inv
}

// totals is what the assertions compare: the figures of an invoice.
type totals struct {
	Paid, WrittenOff, Balance reconcile.Amount
	State                     reconcile.State
}

func totalsOf(inv reconcile.Invoice) totals {
	return totals{inv.PaidAmount, inv.WrittenOffAmount, inv.Balance, inv.State}
}

func mustTotals(t *testing.T, s *reconcile.Store, id string, want totals) reconcile.Invoice {
	t.Helper()
	inv, err := s.GetInvoice(context.Background(), id)
	if err != nil {
		t.Fatalf("get invoice %s: %v", id, err)
	}
	if got := totalsOf(inv); got != want {
		t.Fatalf("invoice %s: got %+v, want %+v", id, got, want)
	}
	return inv
}

func mustInvoice(t *testing.T) func(reconcile.Invoice, error) reconcile.Invoice {
	return func(v reconcile.Invoice, err error) reconcile.Invoice { t.Helper(); noErr(t, err); return v }
}

func mustResult(t *testing.T) func(reconcile.EventResult, error) reconcile.EventResult {
	return func(v reconcile.EventResult, err error) reconcile.EventResult { t.Helper(); noErr(t, err); return v }
}

func mustDetail(t *testing.T) func(reconcile.InvoiceDetail, error) reconcile.InvoiceDetail {
	return func(v reconcile.InvoiceDetail, err error) reconcile.InvoiceDetail {
		t.Helper()
		noErr(t, err)
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var keySeq atomic.Int64

func key() string { return fmt.Sprintf("key-%d-%d", time.Now().UnixNano(), keySeq.Add(1)) }

func online(ref, invoiceID string, amount reconcile.Amount) reconcile.OnlinePayment {
	return reconcile.OnlinePayment{ProviderRef: ref, InvoiceID: invoiceID, Amount: amount, Currency: "usd", PaidDate: today}
}

func manual(invoiceID string, amount reconcile.Amount) reconcile.ManualPayment {
	return reconcile.ManualPayment{Actor: "tester", Key: key(), InvoiceID: invoiceID, Amount: amount, PaidDate: today, Method: "check"}
}

// checkTruth fails when any invoice's stored totals differ from its rows.
func checkTruth(t *testing.T, db *pgxpool.Pool) {
	t.Helper()
	var drift int
	err := db.QueryRow(context.Background(), `
		SELECT count(*) FROM invoices i JOIN invoice_truth v USING (id)
		WHERE (i.credited_amount, i.paid_amount, i.written_off_amount, i.balance, i.state)
		   IS DISTINCT FROM (v.credited_amount, v.paid_amount, v.written_off_amount, v.balance, v.state)`).Scan(&drift)
	if err != nil {
		t.Fatal(err)
	}
	if drift != 0 {
		t.Fatalf("%d invoices' stored totals differ from their rows", drift)
	}
	var misfiled int
	err = db.QueryRow(context.Background(), `
		SELECT count(*) FROM invoices i FULL JOIN overpaid_invoices o ON o.invoice_id = i.id
		WHERE (i.balance < 0) IS DISTINCT FROM (o.invoice_id IS NOT NULL)`).Scan(&misfiled)
	if err != nil {
		t.Fatal(err)
	}
	if misfiled != 0 {
		t.Fatalf("%d invoices are overpaid but not in overpaid_invoices, or the other way round", misfiled)
	}
}

func historyCount(t *testing.T, db *pgxpool.Pool, invoiceID string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM invoice_history WHERE invoice_id = $1`, invoiceID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// planReader returns a function that reports whether PostgreSQL's plan of
// sql (with args) reads the index named index, on a connection of db where
// sequential and bitmap scans are off: only a plan that can use no other
// way shows which index may serve.
func planReader(t *testing.T, db *pgxpool.Pool) func(index, sql string, args ...any) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Acquire(ctx)
	noErr(t, err)
	t.Cleanup(conn.Release)
	_, err = conn.Exec(ctx, `SET enable_seqscan = off; SET enable_bitmapscan = off`)
	noErr(t, err)
	return func(index, sql string, args ...any) bool {
		t.Helper()
		rows, err := conn.Query(ctx, `EXPLAIN `+sql, args...)
		noErr(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		noErr(t, err)
		return strings.Contains(strings.Join(lines, "\n"), index)
	}
}
