// Package testenv hands each test its own PostgreSQL database and Redis
// database, real ones, and removes them when the test ends, so test packages
// run in parallel without seeing each other.
//
// TEST_DATABASE_URL (default postgres://localhost:5432/postgres) names a
// server and a database to connect to for creating others; TEST_REDIS_URL
// (default redis://localhost:6379/0) a Redis server.
package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/migrate"
	"github.com/payrecon/reconciler/reconcile"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// serverURL is the maintenance database tests create theirs from.
func serverURL() string {
	return env("TEST_DATABASE_URL", "postgres://localhost:5432/postgres?sslmode=disable")
}

// withDatabase returns serverURL pointing at another database.
func withDatabase(t testing.TB, name string) string {
	u, err := url.Parse(serverURL())
	if err != nil {
		t.Fatalf("testenv: TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// templateLock guards templates across test processes, of this checkout and
// of others with other migrations: cloning holds it shared, so clones run
// side by side; building a template and dropping old ones hold it
// exclusively, so no template is dropped while it is being cloned.
const templateLock = 7_346_201

// clone creates the database name from a migrated template of the current
// migrations, building the template first when it does not exist.
func clone(ctx context.Context, t testing.TB, admin *pgx.Conn, name string) {
	sum, err := migrate.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := "reconciler_template_" + sum
	for range 3 {
		lock(ctx, t, admin, `SELECT pg_advisory_lock_shared($1)`)
		var exists bool
		err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tmpl).Scan(&exists)
		if err == nil && exists {
			_, err = admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE `+pgx.Identifier{tmpl}.Sanitize())
		}
		unlock(ctx, admin, `SELECT pg_advisory_unlock_shared($1)`)
		if err != nil {
			t.Fatalf("testenv: create database from template: %v", err)
		}
		if exists {
			return
		}
		build(ctx, t, admin, tmpl)
	}
	t.Fatalf("testenv: template %s vanished three times", tmpl)
}

// build makes the template tmpl for the current migrations, unless another
// process did meanwhile, and drops the templates of other migrations that
// nobody is cloning.
func build(ctx context.Context, t testing.TB, admin *pgx.Conn, tmpl string) {
	lock(ctx, t, admin, `SELECT pg_advisory_lock($1)`)
	defer unlock(ctx, admin, `SELECT pg_advisory_unlock($1)`)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tmpl).Scan(&exists); err != nil {
		t.Fatalf("testenv: look up template: %v", err)
	}
	if exists {
		return
	}
	// A template another checkout built within the day stays: checkouts of
	// different migrations test side by side on one server. Each template
	// carries its build time in its comment.
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database
		WHERE datname LIKE 'reconciler_template_%'
		  AND coalesce(substring(shobj_description(oid, 'pg_database') FROM '^built ([0-9]+)$')::bigint, 0)
		      < extract(epoch FROM now() - interval '1 day')`)
	if err != nil {
		t.Fatalf("testenv: list templates: %v", err)
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("testenv: list templates: %v", err)
	}
	for _, o := range old {
		_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{o}.Sanitize())
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{tmpl + "_build"}.Sanitize()); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("testenv: create template: %v", err)
	}
	if _, err := migrate.Up(ctx, withDatabase(t, tmpl+"_build")); err != nil {
		t.Fatalf("testenv: migrate template: %v", err)
	}
	if _, err := admin.Exec(ctx, `COMMENT ON DATABASE `+pgx.Identifier{tmpl + "_build"}.Sanitize()+
		` IS 'built `+strconv.FormatInt(time.Now().Unix(), 10)+`'`); err != nil {
		t.Fatalf("testenv: mark template: %v", err)
	}
	// Renamed only once complete, so a half-built template is never cloned.
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{tmpl + "_build"}.Sanitize()+` RENAME TO `+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		t.Fatalf("testenv: finish template: %v", err)
	}
}

func lock(ctx context.Context, t testing.TB, admin *pgx.Conn, sql string) {
	if _, err := admin.Exec(ctx, sql, templateLock); err != nil {
		t.Fatalf("testenv: lock templates: %v", err)
	}
}

func unlock(ctx context.Context, admin *pgx.Conn, sql string) {
	_, _ = admin.Exec(context.WithoutCancel(ctx), sql, templateLock) // the session ends soon anyway
}

// DatabaseURL creates a fresh, migrated database for this test, drops it
// when the test ends, and returns its URL.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, serverURL())
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at TEST_DATABASE_URL is not reachable (run scripts/services.sh ensure): %v", err)
	}
	defer admin.Close(context.Background())
	dropLeftBehind(ctx, admin, time.Now())
	name := testDatabaseName(time.Now())
	clone(ctx, t, admin, name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL())
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return withDatabase(t, name)
}

// leftAfter is how old a test's database must be before the start of
// another test drops it. A test process that ends without its cleanups (a
// fuzz worker stopped at its deadline, a panic, a timeout) leaves its
// database behind; no test runs this long, and one still connected is not
// dropped.
const leftAfter = 6 * time.Hour

// testDatabaseName names a test's database after its creation time, so that
// one left behind is known by its name: test_<unix seconds>_<random>.
func testDatabaseName(created time.Time) string {
	return "test_" + strconv.FormatInt(created.Unix(), 10) + "_" + strings.ToLower(ids.New("db"))
}

// dropLeftBehind drops the test databases created more than leftAfter
// before now that nobody is connected to.
func dropLeftBehind(ctx context.Context, admin *pgx.Conn, now time.Time) {
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE datname ~ '^test_[0-9]+_'`)
	if err != nil {
		return // the test's own clone reports an unreachable server
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		secs, _, _ := strings.Cut(strings.TrimPrefix(name, "test_"), "_")
		created, err := strconv.ParseInt(secs, 10, 64)
		if err != nil || now.Sub(time.Unix(created, 0)) < leftAfter {
			continue
		}
		// Not WITH (FORCE): a database still in use stays.
		_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize())
	}
}

// Pool opens a small pool on a fresh database; PostgreSQL allows only 100
// connections and test packages run side by side.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return PoolOn(t, DatabaseURL(t), 4)
}

// PoolOn opens a pool of at most size connections on url, closed when the
// test ends (before its database is dropped).
func PoolOn(t testing.TB, url string, size int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cfg.MaxConns = size
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Store is a ledger store on a fresh database.
func Store(t testing.TB) (*reconcile.Store, *pgxpool.Pool) {
	t.Helper()
	pool := Pool(t)
	return reconcile.NewStore(pool), pool
}

// redisDBs are the Redis databases tests lease; database 0 holds the leases.
const redisDBs = 15

// Redis leases a Redis database for this test, empty, and empties it again
// when the test ends. Tests wait when all are leased.
func Redis(t testing.TB) asynq.RedisClientOpt {
	t.Helper()
	base, err := asynq.ParseRedisURI(env("TEST_REDIS_URL", "redis://localhost:6379/0"))
	if err != nil {
		t.Fatalf("testenv: TEST_REDIS_URL: %v", err)
	}
	opt, ok := base.(asynq.RedisClientOpt)
	if !ok {
		t.Fatalf("testenv: TEST_REDIS_URL must be a plain redis:// URL")
	}
	ctx := context.Background()
	leases := redis.NewClient(&redis.Options{Addr: opt.Addr, Password: opt.Password, DB: 0})
	defer leases.Close()
	token := ids.New("lease")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		for db := 1; db <= redisDBs; db++ {
			key := fmt.Sprintf("reconciler:testenv:redis-db:%d", db)
			got, err := leases.SetNX(ctx, key, token, 15*time.Minute).Result()
			if err != nil {
				t.Fatalf("testenv: Redis at TEST_REDIS_URL is not reachable (run scripts/services.sh ensure): %v", err)
			}
			if !got {
				continue
			}
			opt.DB = db
			flush(t, opt)
			t.Cleanup(func() {
				flush(t, opt)
				c := redis.NewClient(&redis.Options{Addr: opt.Addr, Password: opt.Password, DB: 0})
				defer c.Close()
				c.Del(context.Background(), key)
			})
			return opt
		}
		if time.Now().After(deadline) {
			t.Fatal("testenv: every Redis database stayed leased for 3 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func flush(t testing.TB, opt asynq.RedisClientOpt) {
	c := redis.NewClient(&redis.Options{Addr: opt.Addr, Password: opt.Password, DB: opt.DB})
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Errorf("testenv: flush Redis db %d: %v", opt.DB, err)
	}
}

// WantLedgerError fails the test unless err is the ledger's refusal of the
// given kind and code.
func WantLedgerError(t testing.TB, err error, kind apperr.Kind, code string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("got error %v, want ledger error %s", err, code)
	}
	if e.Kind != kind || e.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", e.Kind, e.Code, e.Message, kind, code)
	}
}
