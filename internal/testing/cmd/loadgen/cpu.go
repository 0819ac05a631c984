package main

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// loadgenApp is the application_name of the load generator's connections.
const loadgenApp = "loadgen"

// readPhaseCPU reads where CPU went so far (readCPU), leaving out the
// backends of the load generator's own connections: a drain polls the inbox
// twenty times a second, and that is not PostgreSQL working for the
// service.
func readPhaseCPU(ctx context.Context, db *pgxpool.Pool, servicePID int) hostCPU {
	return readCPU(servicePID, loadgenBackends(ctx, db))
}

// loadgenBackends are the pids of the bench database's backends that serve
// the load generator (application_name loadgen), whichever command opened
// them; none when they cannot be read.
func loadgenBackends(ctx context.Context, db *pgxpool.Pool) map[int]bool {
	rows, err := db.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, loadgenApp)
	if err != nil {
		return nil
	}
	defer rows.Close()
	pids := map[int]bool{}
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			pids[pid] = true
		}
	}
	return pids
}

// cpuFigures reports a phase's CPU per unit of work as figures:
// PREFIX_cpu_us_per_event for the service and PREFIX_pg_cpu_us_per_event
// for PostgreSQL (the bench database's backends but the load generator's,
// its autovacuum workers and the server's shared writers), in µs of CPU
// per event. /proc counts in ticks of 10 ms: over a phase of seconds and
// thousands of events, the error is well under a µs per event.
func cpuFigures(prefix string, before, after hostCPU, events float64) {
	if prefix == "" || events <= 0 {
		return
	}
	emit(prefix+"_cpu_us_per_event", (after.service-before.service)/events*1e6, "us/event")
	emit(prefix+"_pg_cpu_us_per_event", (after.postgres-before.postgres)/events*1e6, "us/event")
}
