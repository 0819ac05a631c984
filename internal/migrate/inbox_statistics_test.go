package migrate_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/migrate"
)

// TestInboxStatisticsStayLow: every column of the webhook inbox has a
// statistics target of at most 10, and its payload none, so that analyzing
// the inbox samples 3,000 rows rather than 30,000 (migration 014). A column
// added later without a target would bring back the default of 100 for the
// whole table.
func TestInboxStatisticsStayLow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := migratedTo(t, 13)
	if _, err := conn.Exec(ctx, `
		INSERT INTO events (id, type, payload, status)
		SELECT 'evt_' || g, 'payment_intent.succeeded', '{}', CASE WHEN g % 3 = 0 THEN 'processed' ELSE 'received' END
		FROM generate_series(1, 30) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.UpConn(ctx, conn); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `
		SELECT attname, attstattarget FROM pg_attribute
		WHERE attrelid = 'events'::regclass AND attnum > 0 AND NOT attisdropped
		ORDER BY attnum`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct {
		Name   string
		Target int
	}
	columns, err := pgx.CollectRows(rows, pgx.RowToStructByPos[column])
	if err != nil {
		t.Fatal(err)
	}
	if len(columns) == 0 {
		t.Fatal("events has no columns")
	}
	for _, c := range columns {
		want := c.Target >= 0 && c.Target <= 10
		if c.Name == "payload" {
			want = c.Target == 0
		}
		if !want {
			t.Errorf("events.%s has a statistics target of %d (-1 is the default, 100): want at most 10 (payload: 0)", c.Name, c.Target)
		}
	}
	// The inbox is still analyzed, and its statuses still estimated.
	if _, err := conn.Exec(ctx, `ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	var statuses int
	if err := conn.QueryRow(ctx, `
		SELECT coalesce(array_length(most_common_vals::text::text[], 1), 0) FROM pg_stats
		WHERE tablename = 'events' AND attname = 'status'`).Scan(&statuses); err != nil {
		t.Fatal(err)
	}
	if statuses != 2 {
		t.Errorf("events.status has %d most common values after ANALYZE, want 2 (received, processed)", statuses)
	}
}
