package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stalled is the set of processes a stall fault stopped with SIGSTOP and
// has not yet resumed. The cluster resumes them on close too, so a run cut
// short in the middle of a stall leaves nothing frozen behind it: a stopped
// PostgreSQL would not even shut down.
type stalled struct {
	mu   sync.Mutex
	pids []int
}

// add records pids as stopped.
func (s *stalled) add(pids ...int) {
	s.mu.Lock()
	s.pids = append(s.pids, pids...)
	s.mu.Unlock()
}

// resume sends SIGCONT to every process stopped and forgets them.
func (s *stalled) resume() {
	s.mu.Lock()
	pids := s.pids
	s.pids = nil
	s.mu.Unlock()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGCONT) // it may have been killed meanwhile
	}
}

// stall stops the processes stop names with SIGSTOP, holds them for dur (or
// until ctx ends), and resumes them with SIGCONT: a dependency that hangs,
// its connections open and silent, rather than one that refuses them. It
// returns how many processes it stopped.
func (c *cluster) stall(ctx context.Context, dur time.Duration, stop func() ([]int, error)) (int, error) {
	defer c.frozen.resume()
	pids, err := stop()
	if err != nil {
		return 0, err
	}
	sleep(ctx, dur)
	return len(pids), nil
}

// stopPostgres stops with SIGSTOP the postmaster of the private PostgreSQL
// and every process it started (backends, checkpointer, WAL writer,
// autovacuum...), and returns their pids. The postmaster is stopped first,
// so it forks no new backend while its children are found; the children
// are looked for until a pass finds no new one.
func (c *cluster) stopPostgres() ([]int, error) {
	pm, err := postmasterPID(c.pg.data)
	if err != nil {
		return nil, err
	}
	if err := syscall.Kill(pm, syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("SIGSTOP postmaster %d: %w", pm, err)
	}
	c.frozen.add(pm)
	stopped := map[int]bool{pm: true}
	for pass := 0; pass < 5; pass++ {
		var fresh []int
		for _, pid := range childrenOf(pm) {
			if !stopped[pid] {
				fresh = append(fresh, pid)
			}
		}
		if len(fresh) == 0 {
			break
		}
		for _, pid := range fresh {
			if syscall.Kill(pid, syscall.SIGSTOP) == nil {
				stopped[pid] = true
				c.frozen.add(pid)
			}
		}
	}
	pids := make([]int, 0, len(stopped))
	for pid := range stopped {
		pids = append(pids, pid)
	}
	return pids, nil
}

// stopRedis stops the Redis server with SIGSTOP and returns its pid.
func (c *cluster) stopRedis() ([]int, error) {
	pid := c.redis.pid()
	if pid == 0 {
		return nil, fmt.Errorf("redis is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("SIGSTOP redis %d: %w", pid, err)
	}
	c.frozen.add(pid)
	return []int{pid}, nil
}

// postmasterPID reads the postmaster's pid from a data directory's
// postmaster.pid, and makes sure that process is a PostgreSQL one: the file
// outlives a crash, and its pid may be another program's by now.
func postmasterPID(data string) (int, error) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("postmaster pid: %w", err)
	}
	first, _, _ := bytes.Cut(b, []byte("\n"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(first)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("postmaster.pid of %s: no pid in %q", data, first)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("postgres")) {
		return 0, fmt.Errorf("postmaster.pid of %s names pid %d, not a running PostgreSQL", data, pid)
	}
	return pid, nil
}

// childrenOf lists the processes whose parent is ppid, from /proc/*/stat.
func childrenOf(ppid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses,
		// so the fields are counted from its last closing parenthesis.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 2 {
			continue
		}
		if p, err := strconv.Atoi(fields[1]); err != nil || p != ppid {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path))); err == nil {
			out = append(out, pid)
		}
	}
	return out
}
