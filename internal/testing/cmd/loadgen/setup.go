package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/testing/proccpu"
	"github.com/payrecon/reconciler/reconcile"
)

// cmdFreePort prints a TCP port nothing listens on. Another process may take
// it before the service does; the script then fails to start it, clearly.
func cmdFreePort(_ context.Context, args []string) error {
	if err := flags("freeport").Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return err
	}
	fmt.Println(port)
	return nil
}

// cmdCreateDB drops the bench database (closing its connections) and
// creates it anew, then prints its URL: DATABASE_URL with the database
// replaced.
func cmdCreateDB(ctx context.Context, args []string) error {
	fs := flags("createdb")
	name := fs.String("db", "reconciler_bench", "database to create anew")
	drop := fs.Bool("drop-only", false, "drop it and create nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !reconcile.ValidID(*name) {
		return fmt.Errorf("database name %q: use letters, digits, '_' or '-'", *name)
	}
	base := env("DATABASE_URL", "postgres://localhost:5432/reconciler?sslmode=disable")
	benchURL, err := withDatabase(base, *name)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect to DATABASE_URL to create %s: %w", *name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{*name}.Sanitize()
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", *name, err)
	}
	if *drop {
		return nil
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+ident); err != nil {
		return fmt.Errorf("create database %s: %w", *name, err)
	}
	fmt.Println(benchURL)
	return nil
}

// withDatabase replaces the database of a postgres:// URL.
func withDatabase(raw, db string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
		return "", fmt.Errorf("DATABASE_URL is not a postgres:// URL")
	}
	u.Path, u.RawPath = "/"+db, ""
	return u.String(), nil
}

// leaseKey is the key a Redis database's lease lives under, shared with
// internal/testing/testenv so that the bench and concurrent tests never share a
// database.
func leaseKey(db int) string { return fmt.Sprintf("reconciler:testenv:redis-db:%d", db) }

const (
	redisDBs = 15               // databases 1..15 are leased; 0 holds the leases
	leaseTTL = 30 * time.Minute // longer than the whole bench
)

func redisOptions(raw string) (asynq.RedisClientOpt, error) {
	opt, err := asynq.ParseRedisURI(raw)
	if err != nil {
		return asynq.RedisClientOpt{}, fmt.Errorf("REDIS_URL: %w", err)
	}
	o, ok := opt.(asynq.RedisClientOpt)
	if !ok {
		return asynq.RedisClientOpt{}, fmt.Errorf("REDIS_URL must be a plain redis:// URL")
	}
	return o, nil
}

// cmdRedisLease takes the first free Redis database as internal/testing/testenv
// does, empties it, and prints "URL TOKEN".
func cmdRedisLease(ctx context.Context, args []string) error {
	fs := flags("redis-lease")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for a free database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	base := env("REDIS_URL", "redis://localhost:6379/0")
	opt, err := redisOptions(base)
	if err != nil {
		return err
	}
	leases := redis.NewClient(&redis.Options{Addr: opt.Addr, Username: opt.Username, Password: opt.Password, DB: 0})
	defer leases.Close()
	token := ids.New("bench")
	deadline := time.Now().Add(*wait)
	for {
		for db := 1; db <= redisDBs; db++ {
			got, err := leases.SetNX(ctx, leaseKey(db), token, leaseTTL).Result()
			if err != nil {
				return fmt.Errorf("lease a database of the Redis at REDIS_URL: %w", err)
			}
			if !got {
				continue
			}
			if err := flushDB(ctx, opt, db); err != nil {
				return err
			}
			u, err := url.Parse(base)
			if err != nil {
				return fmt.Errorf("REDIS_URL: %w", err)
			}
			u.Path = "/" + strconv.Itoa(db)
			fmt.Println(u.String(), token)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("every Redis database 1..%d stayed leased for %v", redisDBs, *wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func flushDB(ctx context.Context, opt asynq.RedisClientOpt, db int) error {
	c := redis.NewClient(&redis.Options{Addr: opt.Addr, Username: opt.Username, Password: opt.Password, DB: db})
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush Redis db %d: %w", db, err)
	}
	return nil
}

// cmdRedisRelease empties a leased database and gives the lease back, when
// the token still holds it.
func cmdRedisRelease(ctx context.Context, args []string) error {
	fs := flags("redis-release")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("usage: loadgen redis-release REDIS_URL TOKEN")
	}
	opt, err := redisOptions(fs.Arg(0))
	if err != nil {
		return err
	}
	if opt.DB < 1 || opt.DB > redisDBs {
		return fmt.Errorf("db %d is not a leased database", opt.DB)
	}
	leases := redis.NewClient(&redis.Options{Addr: opt.Addr, Username: opt.Username, Password: opt.Password, DB: 0})
	defer leases.Close()
	held, err := leases.Get(ctx, leaseKey(opt.DB)).Result()
	if err == redis.Nil || (err == nil && held != fs.Arg(1)) {
		return nil // expired and maybe leased again: not ours to flush
	}
	if err != nil {
		return err
	}
	if err := flushDB(ctx, opt, opt.DB); err != nil {
		return err
	}
	return leases.Del(ctx, leaseKey(opt.DB)).Err()
}

// cmdReady exits 0 when BENCH_URL/readyz answers 200.
func cmdReady(ctx context.Context, args []string) error {
	if err := flags("ready").Parse(args); err != nil {
		return err
	}
	base, err := need("BENCH_URL")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %d", resp.StatusCode)
	}
	return nil
}

// hostCPU is a note of where CPU went: this process, the service, and the
// PostgreSQL processes working for the bench database (its backends and
// autovacuum workers, and the server's shared background processes), read
// from /proc. Backends of other databases (concurrent tests) are left out,
// and so are the pids in skip: the load generator's own backends, whose
// polling is no part of the service's cost (readPhaseCPU).
type hostCPU struct {
	at                      time.Time
	self, service, postgres float64 // seconds
	// redis is every redis-server's on the host: the bench's database is
	// leased from a server others may use, and its CPU is not split by
	// database. On these machines nothing else uses it during a bench.
	redis float64
}

func readCPU(servicePID int, skip map[int]bool) hostCPU {
	c := hostCPU{at: time.Now(), self: procCPU(os.Getpid())}
	if servicePID > 0 {
		c.service = procCPU(servicePID)
	}
	db := benchDatabase()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if skip[pid] {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		if string(comm) == "redis-server\n" {
			c.redis += procCPU(pid)
		}
		if string(comm) != "postgres\n" {
			continue
		}
		// A backend's title is "postgres: CLUSTER: USER DATABASE HOST(PORT) STATE".
		title, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		t := strings.TrimRight(string(title), "\x00 ")
		if strings.Contains(t, " "+db+" ") || strings.HasSuffix(t, " "+db) || isSharedPostgres(t) {
			c.postgres += procCPU(pid)
		}
	}
	return c
}

// benchDatabase is the database DATABASE_URL names.
func benchDatabase() string {
	u, err := url.Parse(os.Getenv("DATABASE_URL"))
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// isSharedPostgres reports whether a postgres process title is one of the
// server's own processes, which work for every database.
func isSharedPostgres(title string) bool {
	for _, p := range []string{"walwriter", "checkpointer", "background writer", "wal writer"} {
		if strings.HasSuffix(title, p) {
			return true
		}
	}
	return false
}

// procCPU is a process's user+system CPU in seconds; 0 when it is gone.
func procCPU(pid int) float64 {
	seconds, _ := proccpu.Seconds(pid)
	return seconds
}

// cpuNote says how the CPU of a phase was spent, per unit of work.
func cpuNote(before, after hostCPU, units float64, unit string) string {
	wall := after.at.Sub(before.at).Seconds()
	per := func(s float64) string {
		if units <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.0fµs/%s", s/units*1e6, unit)
	}
	svc, pg, self, redis := after.service-before.service, after.postgres-before.postgres, after.self-before.self, after.redis-before.redis
	return fmt.Sprintf("cpu over %.1fs wall (2 cores = %.1f cpu-s): service %.1fs (%s), postgres for this database (not loadgen's queries) %.1fs (%s), redis %.1fs (%s), loadgen %.1fs (%s)",
		wall, 2*wall, svc, per(svc), pg, per(pg), redis, per(redis), self, per(self))
}
