package migrate_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/migrate"
)

// emptyDatabase creates a database with no schema at all (not cloned from
// the test template, which is already migrated) and drops it afterwards.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	server := os.Getenv("TEST_DATABASE_URL")
	if server == "" {
		server = "postgres://localhost:5432/postgres?sslmode=disable"
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := strings.ToLower(ids.New("migtest"))
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), server)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	u, _ := url.Parse(server)
	u.Path = "/" + name
	return u.String()
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	t.Parallel()
	t.Run("four processes migrating a new database at once all succeed at the same version", func(t *testing.T) {
		db := emptyDatabase(t)
		var wg sync.WaitGroup
		versions := make([]int32, 4)
		errs := make([]error, 4)
		for i := range 4 {
			wg.Go(func() { versions[i], errs[i] = migrate.Up(context.Background(), db) })
		}
		wg.Wait()
		for i := range 4 {
			if errs[i] != nil {
				t.Fatalf("migration %d: %v", i, errs[i])
			}
			if versions[i] != versions[0] || versions[i] < 1 {
				t.Fatalf("versions %v", versions)
			}
		}
	})
	t.Run("a DATABASE_URL with pool parameters migrates", func(t *testing.T) {
		if _, err := migrate.Up(context.Background(), emptyDatabase(t)+"&pool_max_conns=20"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("migrating again changes nothing", func(t *testing.T) {
		db := emptyDatabase(t)
		first, err := migrate.Up(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		second, err := migrate.Up(context.Background(), db)
		if err != nil || second != first {
			t.Fatalf("second run: version %d, error %v; first was %d", second, err, first)
		}
	})
}

func TestMigrateReachesTheHighestNumber(t *testing.T) {
	t.Parallel()
	t.Run("a database ends at the highest migration number, even while lower numbers are still reserved by other branches", func(t *testing.T) {
		v, err := migrate.Up(context.Background(), emptyDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		if v < 8 {
			t.Fatalf("version %d, want at least 8 (008_operators.sql)", v)
		}
	})
}
