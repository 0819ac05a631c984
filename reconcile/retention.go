package reconcile

import (
	"context"
	"fmt"
	"time"
)

// PruneBatch is how many rows one prune statement touches: small enough that
// each is a short transaction holding few row locks, so a prune never holds
// up the ledger, however much there is to prune.
const PruneBatch = 1000

// pruneEventPayloads empties the payloads of one batch of events done with
// and received before $1. It skips rows another transaction holds: the
// ledger's change of an event wins, and the next day's prune takes it.
const pruneEventPayloads = `
	UPDATE events SET payload = ''::bytea
	WHERE id IN (
		SELECT id FROM events
		WHERE octet_length(payload) > 0 AND status IN ('processed', 'ignored', 'failed') AND received_at < $1
		ORDER BY received_at
		LIMIT $2
		FOR UPDATE SKIP LOCKED)`

// pruneJobs deletes one batch of jobs finished before $1, oldest first
// through jobs_listing: a job finishes after it is created (migration 018).
const pruneJobs = `
	DELETE FROM jobs
	WHERE id IN (
		SELECT id FROM jobs
		WHERE created_at < $1 AND status IN ('succeeded', 'failed') AND finished_at < $1
		ORDER BY created_at
		LIMIT $2
		FOR UPDATE SKIP LOCKED)`

// PruneEventPayloads empties the raw payloads of the events received before
// before that are done with (processed, ignored, failed), batch of at most
// batch by batch, and reports how many. The event rows stay, with their
// status, invoice and error; an event still waiting (received, unmatched,
// needs_review) keeps its payload, since it may yet be applied.
func (s *Store) PruneEventPayloads(ctx context.Context, before time.Time, batch int) (int64, error) {
	n, err := s.pruneInBatches(ctx, pruneEventPayloads, before, batch)
	if err != nil {
		return n, fmt.Errorf("prune event payloads: %w", err)
	}
	return n, nil
}

// PruneJobs deletes the jobs that finished before before, batch by batch,
// and reports how many. Their ledger changes stay: the payments, write-offs
// and history rows keyed by a job's id are never pruned, so a request
// replayed after its job is gone changes the ledger no more than before.
func (s *Store) PruneJobs(ctx context.Context, before time.Time, batch int) (int64, error) {
	n, err := s.pruneInBatches(ctx, pruneJobs, before, batch)
	if err != nil {
		return n, fmt.Errorf("prune jobs: %w", err)
	}
	return n, nil
}

// pruneInBatches runs statement ($1 before, $2 batch) until it touches fewer
// than batch rows, each run a transaction of its own, and adds up the rows.
func (s *Store) pruneInBatches(ctx context.Context, statement string, before time.Time, batch int) (int64, error) {
	if batch < 1 {
		batch = PruneBatch
	}
	var total int64
	for {
		tag, err := s.db.Exec(ctx, statement, before, batch)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}
