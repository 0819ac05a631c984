package chaos

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// dirPrefix names the suite's working directories under the temporary
// directory, so that a later run can find those of a run that was killed.
const dirPrefix = "reconciler-chaos-"

// cluster is everything the suite runs: PostgreSQL, Redis and the service's
// processes, with the secrets they share.
type cluster struct {
	dir     string
	logs    string // the service processes' logs, and nothing else
	pg      *postgres
	redis   *process
	rport   int
	web     []*process
	webURL  []string
	workers []*process
	sched   *process
	token   string // ADMIN_TOKEN
	secret  string // STRIPE_WEBHOOK_SECRET
	dbURL   string
	frozen  stalled // processes a stall fault holds stopped
}

// services lists the service processes, in the order they are stopped.
func (c *cluster) services() []*process {
	out := []*process{c.sched}
	out = append(out, c.web...)
	return append(out, c.workers...)
}

// startCluster starts PostgreSQL and Redis, migrates, and starts two web
// processes, two workers and a scheduler. On error what was started is
// stopped again.
func startCluster(ctx context.Context, cfg Config) (c *cluster, err error) {
	reapStale(cfg.logf)
	// Always a new directory of its own, even under cfg.Dir: a clean run
	// removes it whole.
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp(cfg.Dir, dirPrefix)
	if err != nil {
		return nil, err
	}
	c = &cluster{dir: dir, logs: filepath.Join(dir, "logs"),
		token: "chaos-admin-" + randomHex(12), secret: "whsec_chaos" + randomHex(16)}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "driver.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.logs, 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}

	bin, err := FindPostgres()
	if err != nil {
		return nil, err
	}
	cred, err := postgresUser()
	if err != nil {
		return nil, err
	}
	c.pg = &postgres{bin: bin, data: filepath.Join(dir, "pg", "data"), sock: filepath.Join(dir, "pg", "sock"),
		log: filepath.Join(dir, "pg", "postgres.log"), ctl: filepath.Join(dir, "pg", "pg_ctl.log"), port: ports[0], cred: cred}
	if err := os.MkdirAll(filepath.Dir(c.pg.data), 0o755); err != nil {
		return nil, err
	}
	for _, p := range []string{dir, filepath.Dir(c.pg.data)} {
		if err := os.Chmod(p, 0o755); err != nil {
			return nil, err
		}
		if err := c.pg.chown(p); err != nil {
			return nil, err
		}
	}
	cfg.logf("postgres: initdb in %s, port %d", c.pg.data, c.pg.port)
	if err := c.pg.init(ctx); err != nil {
		return nil, err
	}
	if err := c.pg.start(ctx); err != nil {
		return nil, err
	}
	if err := createDatabase(ctx, c.pg.url("postgres"), "chaos"); err != nil {
		return nil, err
	}
	c.dbURL = c.pg.url("chaos")

	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server is not installed (apt-get install redis-server)")
	}
	c.rport = ports[1]
	redisDir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(redisDir, 0o755); err != nil {
		return nil, err
	}
	c.redis = &process{name: "redis", path: redisBin, log: filepath.Join(dir, "redis.log"), env: os.Environ(),
		args: []string{"--port", strconv.Itoa(c.rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", redisDir, "--protected-mode", "no"}}
	if err := c.startRedis(ctx); err != nil {
		return nil, err
	}

	env := c.serviceEnv(cfg)
	migrate := exec.CommandContext(ctx, cfg.Binary, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		_ = os.WriteFile(filepath.Join(c.logs, "migrate.log"), out, 0o644)
		return nil, fmt.Errorf("reconciler migrate: %w: %s", err, tail(filepath.Join(c.logs, "migrate.log"), 600))
	} else if err := os.WriteFile(filepath.Join(c.logs, "migrate.log"), out, 0o644); err != nil {
		return nil, err
	}
	svc := func(name, role string, extra ...string) *process {
		return &process{name: name, path: cfg.Binary, args: []string{role}, env: append(append([]string(nil), env...), extra...),
			log: filepath.Join(c.logs, name+".log")}
	}
	for i := range 2 {
		port := ports[2+i]
		c.web = append(c.web, svc(fmt.Sprintf("web%d", i+1), "web", "PORT="+strconv.Itoa(port)))
		c.webURL = append(c.webURL, fmt.Sprintf("http://127.0.0.1:%d", port))
		c.workers = append(c.workers, svc(fmt.Sprintf("worker%d", i+1), "worker"))
	}
	c.sched = svc("scheduler", "scheduler")
	for _, p := range c.services() {
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	for i := range c.web {
		if err := c.waitWeb(ctx, i); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// serviceEnv is the environment of every service process: the suite's own
// without the service's variables, then the suite's settings.
func (c *cluster) serviceEnv(cfg Config) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DATABASE_URL", "REDIS_URL", "PORT", "ADMIN_TOKEN", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY",
			"STRIPE_API_BASE", "RECONCILE_EVERY", "RELAY_AFTER", "WORKER_CONCURRENCY", "LOG_LEVEL", "LOG_FORMAT",
			"NOTIFY_ALLOW_PRIVATE", "STRIPE_LIVEMODE":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"DATABASE_URL="+c.dbURL,
		fmt.Sprintf("REDIS_URL=redis://127.0.0.1:%d/0", c.rport),
		"ADMIN_TOKEN="+c.token,
		"STRIPE_WEBHOOK_SECRET="+c.secret,
		"RELAY_AFTER=2s",
		"RECONCILE_EVERY=1m",
		"WORKER_CONCURRENCY="+strconv.Itoa(cfg.WorkerConcurrency),
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
		// The suite's hanging notification receiver listens on loopback.
		"NOTIFY_ALLOW_PRIVATE=true",
		// The suite's events are test-mode ones (livemode false), as the
		// Stripe CLI's are: they must touch the ledger.
		"STRIPE_LIVEMODE=false",
	)
}

// startRedis starts Redis and waits until it answers PING.
func (c *cluster) startRedis(ctx context.Context) error {
	if err := c.redis.start(); err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(c.rport)
	return waitFor(ctx, 20*time.Second, "redis to answer PING", func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		return err == nil && strings.HasPrefix(line, "+PONG")
	})
}

// waitWeb waits until web process i answers /healthz.
func (c *cluster) waitWeb(ctx context.Context, i int) error {
	client := &http.Client{Timeout: time.Second}
	return waitFor(ctx, 30*time.Second, c.web[i].name+" to answer /healthz", func() bool {
		resp, err := client.Get(c.webURL[i] + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// close stops everything still running; the directory stays.
func (c *cluster) close() {
	c.frozen.resume()
	for _, p := range c.services() {
		if p != nil {
			p.kill()
		}
	}
	if c.redis != nil {
		c.redis.kill()
	}
	if c.pg != nil {
		c.pg.stop()
	}
}

// createDatabase creates database name on the server at url.
func createDatabase(ctx context.Context, url, name string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to the private PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// freePorts finds n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitFor polls ok every 100ms until it holds, for at most limit.
func waitFor(ctx context.Context, limit time.Duration, what string, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", limit, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// reapStale stops the PostgreSQL of earlier runs whose driver died without
// cleaning up (a test binary killed on its timeout), and removes their
// directories. Their other processes died with the driver (Pdeathsig).
func reapStale(logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "driver.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // still running, or not ours to judge
		}
		killPostmaster(filepath.Join(dir, "pg", "data"))
		if err := os.RemoveAll(dir); err == nil {
			logf("removed the leftovers of a killed run: %s", dir)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
