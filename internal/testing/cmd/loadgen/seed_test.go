package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/payrecon/reconciler/internal/testing/testenv"
)

// TestTheSeedsLoadIntoTheSchema runs each seeding command, small, against a
// fresh database migrated as the service migrates its own: a column the
// schema gained and a seed missed fails here, not at the end of make bench.
func TestTheSeedsLoadIntoTheSchema(t *testing.T) {
	url := testenv.DatabaseURL(t)
	t.Setenv("DATABASE_URL", url)
	db := testenv.PoolOn(t, url, 1)
	ctx := context.Background()
	count := func(table string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	drift := func() int {
		t.Helper()
		var n int
		err := db.QueryRow(ctx, `
			SELECT count(*) FROM invoices i JOIN invoice_truth v USING (id)
			WHERE (i.credited_amount, i.paid_amount, i.written_off_amount, i.balance, i.state)
			   IS DISTINCT FROM (v.credited_amount, v.paid_amount, v.written_off_amount, v.balance, v.state)`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	seed := func(args ...string) {
		t.Helper()
		var stderr bytes.Buffer
		if code := run(ctx, args, &stderr); code != 0 {
			t.Fatalf("loadgen %v: exit %d: %s", args, code, stderr.String())
		}
	}

	seed("seed-pools", "-ingest", "7", "-ingest-all", "5", "-e2e", "3", "-jobs", "2")
	if n := count("invoices"); n != 17 {
		t.Fatalf("seed-pools: %d invoices, want 17", n)
	}
	if n := drift(); n != 0 {
		t.Fatalf("seed-pools: %d invoices disagree with their rows", n)
	}

	seed("seed-scale", "-invoices", "40", "-chunk", "15")
	if n, p := count("invoices"), count("payments"); n != 40 || p != 120 {
		t.Fatalf("seed-scale: %d invoices and %d payments, want 40 and 120", n, p)
	}
	if n := drift(); n != 0 {
		t.Fatalf("seed-scale: %d invoices disagree with their rows", n)
	}

	seed("seed-provider", "-payments", "1000")
	found, pulled := expected(1000)
	if n := count("payments"); n == 0 || n > 1000-pulled {
		t.Fatalf("seed-provider: %d payments, want at most %d (found %d, pulled %d)", n, 1000-pulled, found, pulled)
	}
}
