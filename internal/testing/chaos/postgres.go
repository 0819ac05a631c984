package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// postgres is a private PostgreSQL cluster made with initdb and driven with
// pg_ctl, so the suite may restart it in any mode. As root it runs as the
// postgres OS user, since PostgreSQL refuses to run as root.
type postgres struct {
	bin  string // the directory of initdb, pg_ctl and postgres
	data string
	sock string
	log  string // the server's log (pg_ctl -l)
	ctl  string // what initdb and pg_ctl themselves print
	port int
	cred *syscall.Credential
}

// FindPostgres returns the directory of Debian's PostgreSQL binaries
// (/usr/lib/postgresql/<version>/bin, the newest), or CHAOS_PG_BIN.
func FindPostgres() (string, error) {
	if d := os.Getenv("CHAOS_PG_BIN"); d != "" {
		return d, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	type cand struct {
		dir string
		ver int
	}
	var cands []cand
	for _, f := range found {
		dir := filepath.Dir(f)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			continue
		}
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		cands = append(cands, cand{dir, v})
	}
	if len(cands) == 0 {
		return "", errors.New("no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql, or set CHAOS_PG_BIN)")
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].ver > cands[j].ver })
	return cands[0].dir, nil
}

// postgresUser is the credential to run PostgreSQL with: the postgres user
// when the suite runs as root, nil (the suite's own user) otherwise.
func postgresUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres OS user: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// chown gives path to the user PostgreSQL runs as.
func (pg *postgres) chown(path string) error {
	if pg.cred == nil {
		return nil
	}
	return os.Chown(path, int(pg.cred.Uid), int(pg.cred.Gid))
}

// run runs one of the PostgreSQL programs to completion, its output
// appended to pg.ctl; the error quotes the end of that output.
func (pg *postgres) run(ctx context.Context, name string, args ...string) error {
	f, err := os.OpenFile(pg.ctl, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "\n## %s %s %s\n", time.Now().Format(time.RFC3339Nano), name, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, name), args...)
	cmd.Dir = filepath.Dir(pg.data)
	cmd.Env = []string{"PATH=" + pg.bin + ":/usr/bin:/bin", "LC_ALL=C", "LANG=C"}
	// A file, not a pipe: the postmaster pg_ctl leaves running must not hold
	// a pipe that Wait would wait on.
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w (see %s)%s", name, args[len(args)-1], err, pg.ctl, tail(pg.ctl, 600))
	}
	return nil
}

// init makes the cluster: trust authentication, no fsync while building it.
func (pg *postgres) init(ctx context.Context) error {
	if err := os.MkdirAll(pg.sock, 0o755); err != nil {
		return err
	}
	if err := pg.chown(pg.sock); err != nil {
		return err
	}
	return pg.run(ctx, "initdb", "-D", pg.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions")
}

// start starts the server and waits until it takes connections.
func (pg *postgres) start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", pg.port, pg.sock)
	return pg.run(ctx, "pg_ctl", "-D", pg.data, "-l", pg.log, "-o", opts, "-w", "-t", "60", "start")
}

// restart is pg_ctl restart in mode "fast" or "immediate" (a crash:
// recovery replays the WAL). The server keeps its options.
func (pg *postgres) restart(ctx context.Context, mode string) error {
	return pg.run(ctx, "pg_ctl", "-D", pg.data, "-l", pg.log, "-m", mode, "-w", "-t", "60", "restart")
}

// stop stops the server, killing it if a fast shutdown does not do.
func (pg *postgres) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if pg.run(ctx, "pg_ctl", "-D", pg.data, "-m", "fast", "-w", "-t", "30", "stop") == nil {
		return
	}
	if pg.run(ctx, "pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "-t", "10", "stop") == nil {
		return
	}
	killPostmaster(pg.data)
}

// killPostmaster kills the postmaster named in a data directory's
// postmaster.pid, if any, and the processes it started: a run killed in the
// middle of a stall leaves them stopped, and a stopped backend would never
// notice its postmaster's death.
func killPostmaster(data string) {
	pid, err := postmasterPID(data)
	if err != nil {
		return
	}
	children := childrenOf(pid) // before the kill: then they are orphans
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for _, child := range children {
		_ = syscall.Kill(child, syscall.SIGKILL)
	}
}

// url is the connection URL of database db.
func (pg *postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, db)
}

// tail returns the last n bytes of a file, on a new line, or "".
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return ""
	}
	return "\n" + strings.TrimSpace(string(b))
}
