package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestDatabasesLeftBehindAreDropped: a test process that ends without its
// cleanups (a fuzz worker stopped at its deadline, a panic, a timeout)
// leaves its database behind. The next test to start drops those old
// enough that no test can still be using them, and leaves young ones be.
func TestDatabasesLeftBehindAreDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, serverURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) }) // after the drop below: cleanups run last first
	now := time.Now()
	old, young := testDatabaseName(now.Add(-leftAfter-time.Minute)), testDatabaseName(now.Add(-time.Minute))
	for _, name := range []string{old, young} {
		if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), `DROP DATABASE IF EXISTS `+pgx.Identifier{young}.Sanitize())
	})

	DatabaseURL(t)

	for name, kept := range map[string]bool{old: false, young: true} {
		var exists bool
		if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if exists != kept {
			t.Errorf("database %s: exists %v, want %v", name, exists, kept)
		}
	}
}
