package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
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
)

// AllFaults lists every fault, in the order a report shows them.
var AllFaults = []Fault{FaultWorkerKill, FaultWebKill, FaultRedisRestart, FaultPostgresFast, FaultPostgresImmediate}

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
// fault makes the last ones late. A fault the suite cannot undo (a process
// that will not start again) ends the run with an error.
func (d *driver) inject(load, run context.Context, faults []Fault) error {
	every, ctx := d.cfg.FaultEvery, load
	if len(d.cfg.Faults) > 0 {
		every, ctx = d.cfg.Duration/time.Duration(len(faults)+1), run
	}
	start := time.Now()
	for i, f := range faults {
		sleep(ctx, time.Until(start.Add(time.Duration(i+1)*every)))
		if ctx.Err() != nil {
			return nil
		}
		began := time.Now()
		if err := d.fault(ctx, f); err != nil {
			return fmt.Errorf("fault %s: %w", f, err)
		}
		d.mu.Lock()
		d.faults[f]++
		d.mu.Unlock()
		d.cfg.logf("fault %-21s done in %s", f, time.Since(began).Round(time.Millisecond))
	}
	return nil
}

// fault injects one fault and undoes it: what was killed is started again.
// The undoing is not cut short with parent, so nothing stays down.
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
