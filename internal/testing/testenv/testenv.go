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
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

// templateLock serialises building the template across test processes.
const templateLock = 7_346_201

// template makes sure a migrated template database for the current
// migrations exists, and names it. Cloning it is much faster than migrating
// each test's database.
func template(ctx context.Context, t testing.TB, admin *pgx.Conn) string {
	sum, err := migrate.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	name := "reconciler_tmpl_" + sum
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock($1)`, templateLock); err != nil {
		t.Fatalf("testenv: lock template: %v", err)
	}
	defer admin.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, templateLock) //nolint:errcheck // the session ends soon anyway
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatalf("testenv: look up template: %v", err)
	}
	if exists {
		return name
	}
	// Templates of older migrations are no use any more, unless another
	// checkout's tests are cloning one right now: a template in use is left
	// (no FORCE), and whoever needs it again rebuilds it.
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'reconciler_tmpl_%'`)
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
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name + "_build"}.Sanitize()); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("testenv: create template: %v", err)
	}
	if _, err := migrate.Up(ctx, withDatabase(t, name+"_build")); err != nil {
		t.Fatalf("testenv: migrate template: %v", err)
	}
	// Renamed only once complete, so a half-built template is never cloned.
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{name + "_build"}.Sanitize()+` RENAME TO `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: finish template: %v", err)
	}
	return name
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
	name := strings.ToLower(ids.New("test"))
	// Another checkout's tests, on other migrations, may drop our template
	// between its check and the clone (it is not in use then), or be
	// dropping it as we clone (PostgreSQL marks it invalid meanwhile):
	// build it again and clone again.
	for attempt := 1; ; attempt++ {
		tmpl := template(ctx, t, admin)
		_, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE `+pgx.Identifier{tmpl}.Sanitize())
		if err == nil {
			break
		}
		var pgErr *pgconn.PgError
		// 3D000 invalid_catalog_name: gone; 55000 object_not_in_prerequisite_state: being dropped.
		if attempt == 5 || !errors.As(err, &pgErr) || (pgErr.Code != "3D000" && pgErr.Code != "55000") {
			t.Fatalf("testenv: create database: %v", err)
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond) // a drop in progress ends soon
	}
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
