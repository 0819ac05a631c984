package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Fault is a kind of failure the suite injects.
type Fault string

// The faults.
const (
	// FaultWorkerKill kills a worker with SIGKILL, jobs in hand, and starts
	// it again.
	FaultWorkerKill Fault = "worker_kill9"
	// FaultWebKill kills a web process with SIGKILL, requests in flight,
	// and starts it again.
	FaultWebKill Fault = "web_kill9"
	// FaultRedisRestart kills Redis and starts it empty: every queued task,
	// task id and lease is gone.
	FaultRedisRestart Fault = "redis_restart"
	// FaultPostgresFast is pg_ctl restart -m fast: sessions are ended.
	FaultPostgresFast Fault = "pg_restart_fast"
	// FaultPostgresImmediate is pg_ctl restart -m immediate: a crash, and
	// recovery from the WAL.
	FaultPostgresImmediate Fault = "pg_restart_immediate"
	// FaultPostgresStall stops every process of PostgreSQL (the postmaster
	// and all its backends) with SIGSTOP for Config.StallFor, then resumes
	// them with SIGCONT: a database that hangs, its connections open and
	// silent, not one that refuses them.
	FaultPostgresStall Fault = "pg_stall"
	// FaultRedisStall stops the Redis server with SIGSTOP for
	// Config.StallFor, then resumes it with SIGCONT.
	FaultRedisStall Fault = "redis_stall"
)

// AllFaults lists every fault, in the order a report shows them.
var AllFaults = []Fault{FaultWorkerKill, FaultWebKill, FaultRedisRestart, FaultPostgresFast, FaultPostgresImmediate,
	FaultPostgresStall, FaultRedisStall}

// schedule is when each fault of a run happens, from the start of the load:
// cfg.Faults once each, spread evenly, or rounds of every fault in a random
// order, one every cfg.FaultEvery.
func schedule(cfg Config) []Fault {
	if len(cfg.Faults) > 0 {
		return cfg.Faults
	}
	n := int(cfg.Duration/cfg.FaultEvery) - 1
	var out []Fault
	for len(out) < n {
		round := append([]Fault(nil), AllFaults...)
		rand.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		out = append(out, round...)
	}
	return out[:max(n, 0)]
}

// inject runs the faults of the schedule and counts them. Rounds stop when
// load ends; a list given in cfg.Faults is injected whole, even if a slow
// fault makes the last ones late. A fault starts no sooner than half the
// interval after the previous one ended, so that a long one (a stall) is
// not followed at once by the next and their effects stay apart. A fault
// the suite cannot undo (a process that will not start again) ends the run
// with an error.
func (d *driver) inject(load, run context.Context, faults []Fault) error {
	every, ctx := d.cfg.FaultEvery, load
	if len(d.cfg.Faults) > 0 {
		every, ctx = d.cfg.Duration/time.Duration(len(faults)+1), run
	}
	start, ended := time.Now(), time.Now()
	for i, f := range faults {
		sleep(ctx, max(time.Until(start.Add(time.Duration(i+1)*every)), time.Until(ended.Add(every/2))))
		if ctx.Err() != nil {
			return nil
		}
		wi := d.beginFault(f)
		err := d.fault(ctx, f)
		w := d.endFault(wi)
		ended = w.ended
		if err != nil {
			return fmt.Errorf("fault %s: %w", f, err)
		}
		d.mu.Lock()
		d.faults[f]++
		d.mu.Unlock()
		d.cfg.logf("fault %-21s done in %s", f, w.ended.Sub(w.began).Round(time.Millisecond))
	}
	return nil
}

// faultWindow is when one fault was in progress.
type faultWindow struct {
	fault        Fault
	began, ended time.Time // ended is zero while it goes on
}

func (d *driver) beginFault(f Fault) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.windows = append(d.windows, faultWindow{fault: f, began: time.Now()})
	return len(d.windows) - 1
}

func (d *driver) endFault(i int) faultWindow {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.windows[i].ended = time.Now()
	return d.windows[i]
}

// faultsBetween lists the faults in progress at some moment between from
// and to.
func (d *driver) faultsBetween(from, to time.Time) []faultWindow {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []faultWindow
	for _, w := range d.windows {
		if !w.began.After(to) && (w.ended.IsZero() || !w.ended.Before(from)) {
			out = append(out, w)
		}
	}
	return out
}

// faultsDuring names the faults in progress at some moment between from and
// to, with when each began relative to ref, as evidence: "pg_stall (began
// 1.2s before)"; "no fault" when there were none.
func (d *driver) faultsDuring(from, to, ref time.Time) string {
	var out []string
	for _, w := range d.faultsBetween(from, to) {
		rel := ref.Sub(w.began).Round(time.Millisecond)
		if rel >= 0 {
			out = append(out, fmt.Sprintf("%s (began %s before)", w.fault, rel))
		} else {
			out = append(out, fmt.Sprintf("%s (began %s after)", w.fault, -rel))
		}
	}
	if len(out) == 0 {
		return "no fault"
	}
	return strings.Join(out, ", ")
}

// fault injects one fault and undoes it: what was killed is started again,
// what was stopped is resumed. The undoing is not cut short with parent, so
// nothing stays down; a stall is, so that an interrupted run ends at once.
func (d *driver) fault(parent context.Context, f Fault) error {
	ctx := context.WithoutCancel(parent)
	pause := func() { time.Sleep(300*time.Millisecond + time.Duration(rand.IntN(700))*time.Millisecond) }
	switch f {
	case FaultWorkerKill:
		w := d.c.workers[rand.IntN(len(d.c.workers))]
		w.kill()
		pause()
		return w.start()
	case FaultWebKill:
		i := rand.IntN(len(d.c.web))
		d.c.web[i].kill()
		pause()
		if err := d.c.web[i].start(); err != nil {
			return err
		}
		return d.c.waitWeb(ctx, i)
	case FaultRedisRestart:
		d.c.redis.kill()
		pause()
		return d.c.startRedis(ctx)
	case FaultPostgresFast:
		return d.c.pg.restart(ctx, "fast")
	case FaultPostgresImmediate:
		return d.c.pg.restart(ctx, "immediate")
	case FaultPostgresStall, FaultRedisStall:
		stop := d.c.stopPostgres
		if f == FaultRedisStall {
			stop = d.c.stopRedis
		}
		// parent, not ctx: a run interrupted resumes them at once.
		n, err := d.c.stall(parent, d.cfg.StallFor, stop)
		if err == nil {
			d.cfg.logf("%s: %d processes were stopped", f, n)
		}
		return err
	}
	return fmt.Errorf("unknown fault %q", f)
}

// watch starts again, once a second, any service process that exited
// without being asked (a crash is the service's own fault, and is
// reported; the load goes on).
func (d *driver) watch(ctx context.Context) {
	for ctx.Err() == nil {
		sleep(ctx, time.Second)
		for _, p := range d.c.services() {
			if p.crashed() && ctx.Err() == nil {
				d.cfg.logf("%s exited by itself; starting it again", p.name)
				if err := p.start(); err != nil {
					d.evidence("could not start %s again: %v", p.name, err)
				}
			}
		}
	}
}
