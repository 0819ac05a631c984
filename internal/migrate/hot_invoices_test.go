package migrate_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/migrate"
)

// TestHotInvoicesUpgrade: migration 012 on a ledger that has invoices
// lists the overpaid ones it finds, and leaves the invoices' update no
// index on what a change rewrites.
func TestHotInvoicesUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := migratedTo(t, 11)
	// Balances as a recompute left them: overpaid, due, paid, and an
	// overpaid invoice deleted since (its row stays).
	if _, err := conn.Exec(ctx, `
		INSERT INTO invoices (id, number, client, currency, amount, paid_amount, balance, state, deleted_at) VALUES
			('inv_over', 'A', 'acme', 'usd', 1000, 1500, -500, 'paid', NULL),
			('inv_due', 'B', 'acme', 'usd', 1000, 200, 800, 'partial', NULL),
			('inv_paid', 'C', 'acme', 'usd', 1000, 1000, 0, 'paid', NULL),
			('inv_gone', 'D', 'acme', 'usd', 1000, 1001, -1, 'paid', now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.UpConn(ctx, conn); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT invoice_id FROM overpaid_invoices ORDER BY invoice_id`)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"inv_gone", "inv_over"}; !slices.Equal(listed, want) {
		t.Fatalf("overpaid_invoices %v, want %v (the run's report leaves deleted ones out)", listed, want)
	}
	// No index of invoices may name a column a recompute rewrites.
	var blocking []string
	rows, err = conn.Query(ctx, `
		SELECT DISTINCT a.attname FROM pg_index x
		JOIN pg_attribute a ON a.attrelid = x.indrelid
		WHERE x.indrelid = 'invoices'::regclass AND a.attname = ANY ($1)
		  AND (a.attnum = ANY (x.indkey) OR pg_get_expr(x.indpred, x.indrelid) LIKE '%' || a.attname || '%')
		ORDER BY 1`,
		[]string{"credited_amount", "paid_amount", "refunded_amount", "disputed_amount", "written_off_amount",
			"balance", "state", "paid_at", "written_off_at", "updated_at"})
	if err != nil {
		t.Fatal(err)
	}
	if blocking, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(blocking) > 0 {
		t.Fatalf("invoices' indexes name %v, which every change rewrites: its updates cannot be HOT", blocking)
	}
}

// migratedTo connects to a new database migrated to version, for a test of
// the next migrations' upgrade of the rows it stores there.
func migratedTo(t *testing.T, version int32) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, emptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	if err := migrate.UpTo(ctx, conn, version); err != nil {
		t.Fatal(err)
	}
	return conn
}
