package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The diagnostics below explain a phase's figures on stderr: where the CPU
// went (setup.go), what PostgreSQL committed and synced, and what its
// backends were waiting for. None of them is a figure.

// dbCounters are PostgreSQL's cumulative counters for the bench database and
// its WAL.
type dbCounters struct {
	at                      time.Time
	commits, rollbacks      int64
	walRecords, walBytes    int64
	walWrites, walSyncs     int64
	tupInserted, tupUpdated int64
	// Updates of the invoices table, and those of them that were HOT
	// (heap-only: no index entry written).
	invoiceUpdates, invoiceHotUpdates int64
	blocksRead, blocksHit             int64
	walAvailable                      bool
	// Checkpoints begun, and the milliseconds their ends spent syncing the
	// data files: a sync holds the WAL's own syncs, so commits wait behind
	// it, and a latency tail often is one (PostgreSQL 15 and 16 count them
	// in pg_stat_bgwriter).
	checkpoints          int64
	checkpointSyncMillis float64
	checkpointsAvailable bool
}

func readDBCounters(ctx context.Context, db *pgxpool.Pool) dbCounters {
	c := dbCounters{at: time.Now()}
	// Statistics are cached per transaction; a fresh snapshot is asked for.
	_ = db.QueryRow(ctx, `
		SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, blks_read, blks_hit
		FROM pg_stat_database WHERE datname = current_database()`).
		Scan(&c.commits, &c.rollbacks, &c.tupInserted, &c.tupUpdated, &c.blocksRead, &c.blocksHit)
	_ = db.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'invoices'`).
		Scan(&c.invoiceUpdates, &c.invoiceHotUpdates)
	err := db.QueryRow(ctx, `SELECT wal_records, wal_bytes::bigint, wal_write, wal_sync FROM pg_stat_wal`).
		Scan(&c.walRecords, &c.walBytes, &c.walWrites, &c.walSyncs)
	c.walAvailable = err == nil
	err = db.QueryRow(ctx, `SELECT checkpoints_timed + checkpoints_req, checkpoint_sync_time FROM pg_stat_bgwriter`).
		Scan(&c.checkpoints, &c.checkpointSyncMillis)
	c.checkpointsAvailable = err == nil
	return c
}

// dbNote describes the counters' change over a phase, per unit of work.
func dbNote(a, b dbCounters, units float64, unit string) string {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return ""
	}
	commits := float64(b.commits - a.commits)
	s := fmt.Sprintf("postgres: %.0f commits/s (%.2f per %s), %.0f rows inserted/s, %.0f updated/s",
		commits/secs, commits/max(units, 1), unit, float64(b.tupInserted-a.tupInserted)/secs, float64(b.tupUpdated-a.tupUpdated)/secs)
	if upd := b.invoiceUpdates - a.invoiceUpdates; upd > 0 {
		s += fmt.Sprintf(" (invoices %.0f, %.0f%% of them HOT)", float64(upd)/secs,
			100*float64(b.invoiceHotUpdates-a.invoiceHotUpdates)/float64(upd))
	}
	if a.walAvailable && b.walAvailable {
		syncs := float64(b.walSyncs - a.walSyncs)
		s += fmt.Sprintf("; WAL %.1f MB/s, %.0f syncs/s (%.2f %ss per sync), %.0f B per %s",
			float64(b.walBytes-a.walBytes)/secs/1e6, syncs/secs, units/max(syncs, 1), unit,
			float64(b.walBytes-a.walBytes)/max(units, 1), unit)
	}
	if a.checkpointsAvailable && b.checkpointsAvailable {
		s += fmt.Sprintf("; %d checkpoints begun, data files synced for %.0f ms",
			b.checkpoints-a.checkpoints, b.checkpointSyncMillis-a.checkpointSyncMillis)
	}
	return s
}

// waitSampler samples what the bench database's other backends are doing
// every interval: a poor man's wait-event profile of PostgreSQL.
type waitSampler struct {
	mu      sync.Mutex
	counts  map[string]int
	samples int
	stop    context.CancelFunc
	done    chan struct{}
}

func startWaitSampler(ctx context.Context, db *pgxpool.Pool, interval time.Duration) *waitSampler {
	ctx, cancel := context.WithCancel(ctx)
	w := &waitSampler{counts: map[string]int{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rows, err := db.Query(ctx, `
				SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, ''), left(query, 60)
				FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)
			if err != nil {
				continue
			}
			w.mu.Lock()
			w.samples++
			for rows.Next() {
				var state, typ, ev, query string
				if rows.Scan(&state, &typ, &ev, &query) != nil {
					continue
				}
				w.counts[classify(state, typ, ev, query)]++
			}
			w.mu.Unlock()
			rows.Close()
		}
	}()
	return w
}

// classify names what a backend was doing: running (CPU), waiting on
// something, or idle in a transaction while the client thinks.
func classify(state, typ, ev, query string) string {
	q := strings.Join(strings.Fields(query), " ")
	if i := strings.IndexAny(q, "($"); i > 0 {
		q = q[:i]
	}
	switch {
	case state == "idle":
		return "idle (connection unused)"
	case state == "idle in transaction":
		return "idle in transaction (waiting for the client) after: " + q
	case typ == "":
		return "running: " + q
	case typ == "Client" && ev == "ClientRead":
		return "reading from the client: " + q
	default:
		return typ + ":" + ev + ": " + q
	}
}

// report stops sampling and returns the top states, as average backends.
func (w *waitSampler) report(top int) string {
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.samples == 0 {
		return "no samples"
	}
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range w.counts {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var b strings.Builder
	fmt.Fprintf(&b, "backends of the bench database, average over %d samples:", w.samples)
	for i, e := range all {
		if i == top {
			break
		}
		fmt.Fprintf(&b, "\n    %5.2f  %s", float64(e.v)/float64(w.samples), e.k)
	}
	return b.String()
}
