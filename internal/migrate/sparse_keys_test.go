package migrate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/payrecon/reconciler/internal/migrate"
)

// TestSparseKeysUpgrade: migration 013 on a ledger with jobs and payments
// keeps each key unique where it is set, under the same index names, and
// indexes no row that lacks one.
func TestSparseKeysUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := migratedTo(t, 12)
	// Jobs with and without an internal key; payments with and without a
	// movement.
	if _, err := conn.Exec(ctx, `
		INSERT INTO invoices (id, number, client, currency, amount, balance, state) VALUES ('inv_1', 'A', 'acme', 'usd', 1000, 1000, 'open');
		INSERT INTO jobs (id, type, payload, request_hash, actor, internal_key) VALUES
			('job_1', 'reconcile.run', '{}', 'scheduler', 'reconciler', 'reconcile-slot:1'),
			('job_2', 'payment.record', '{}', 'h', 'ann', NULL),
			('job_3', 'payment.record', '{}', 'h', 'ann', NULL);
		INSERT INTO payments (id, invoice_id, source, amount, currency, paid_date, provider_ref, movement_id) VALUES
			('pay_1', 'inv_1', 'stripe', 100, 'usd', '2026-12-01', 'pi_1', 'mov_1'),
			('pay_2', 'inv_1', 'manual', 100, 'usd', '2026-12-01', NULL, NULL),
			('pay_3', 'inv_1', 'manual', 100, 'usd', '2026-12-01', NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.UpConn(ctx, conn); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ index, table string }{
		{"jobs_internal_key_key", "jobs"},
		{"payments_movement", "payments"},
	} {
		var unique bool
		var predicate string
		if err := conn.QueryRow(ctx, `
			SELECT x.indisunique, coalesce(pg_get_expr(x.indpred, x.indrelid), '')
			FROM pg_index x WHERE x.indexrelid = $1::regclass`, c.index).Scan(&unique, &predicate); err != nil {
			t.Fatalf("%s: %v", c.index, err)
		}
		if !unique || predicate == "" {
			t.Fatalf("%s: unique %v, predicate %q; want a unique index of the rows that have a key", c.index, unique, predicate)
		}
	}
	for _, dup := range []string{
		`INSERT INTO jobs (id, type, payload, request_hash, actor, internal_key)
		 VALUES ('job_4', 'reconcile.run', '{}', 'scheduler', 'reconciler', 'reconcile-slot:1')`,
		`INSERT INTO payments (id, invoice_id, source, amount, currency, paid_date, provider_ref, movement_id)
		 VALUES ('pay_4', 'inv_1', 'stripe', 100, 'usd', '2026-12-01', 'pi_2', 'mov_1')`,
	} {
		_, err := conn.Exec(ctx, dup)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			t.Fatalf("a key used twice: %v, want a unique violation", err)
		}
	}
	if _, err := conn.Exec(ctx, `
		INSERT INTO jobs (id, type, payload, request_hash, actor) VALUES ('job_5', 'payment.record', '{}', 'h', 'ann');
		INSERT INTO payments (id, invoice_id, source, amount, currency, paid_date)
		VALUES ('pay_5', 'inv_1', 'manual', 100, 'usd', '2026-12-01')`); err != nil {
		t.Fatalf("rows without a key: %v", err)
	}
}
