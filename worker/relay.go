package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/reconcile"
)

// errRelayFailed marks a relay that could not reach Redis.
var errRelayFailed = errors.New("relay failed")

// relayBatch is the page size of a sweep.
const relayBatch = 1000

// RelayCounts are what one sweep queued again.
type RelayCounts struct {
	Events int `json:"events"`
	Jobs   int `json:"jobs"`
}

// Relay queues again every event still received, and every job still
// unfinished, after olderThan: their task was lost with Redis, or the
// process died between the commit and the enqueue. An event or a job a
// task in Redis still covers is skipped (a job alone also keeps its id as
// its task's), so relaying work still queued is a no-op; a relay racing the
// original changes nothing, because processing is idempotent.
func (c *Client) Relay(ctx context.Context, olderThan time.Duration) (RelayCounts, error) {
	var n RelayCounts
	var err error
	if n.Events, err = c.RelayReceived(ctx, olderThan); err != nil {
		return n, err
	}
	covered, err := c.queuedJobs(ctx)
	if err != nil {
		return n, fmt.Errorf("%w: %w", errRelayFailed, err)
	}
	for after := ""; ; {
		jobs, err := c.store.UnfinishedJobs(ctx, olderThan, after, relayBatch)
		if err != nil {
			return n, err
		}
		for _, j := range jobs {
			if _, ok := covered[j.ID]; ok {
				continue
			}
			if err := c.EnqueueJob(ctx, j); err != nil {
				return n, fmt.Errorf("%w: %w", errRelayFailed, err)
			}
			n.Jobs++
		}
		if len(jobs) < relayBatch {
			break
		}
		after = jobs[len(jobs)-1].ID
	}
	if n.Events+n.Jobs > 0 {
		c.log.Info("relayed work Redis had lost", zap.Int("events", n.Events), zap.Int("jobs", n.Jobs))
	}
	return n, nil
}

// RelayReceived queues again every event still received after olderThan
// that no task in Redis covers any more, page by page, and reports how many
// (reconcile.EventQueue: every reconciliation run does it too). However large
// the backlog, one sweep takes all of it: an event is late by RELAY_AFTER
// at worst. An event a task still covers (queued, running, waiting for its
// retry) is left to that task, so a relay never multiplies tasks.
func (c *Client) RelayReceived(ctx context.Context, olderThan time.Duration) (int, error) {
	covered, err := c.queuedEvents(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errRelayFailed, err)
	}
	now := time.Now()
	n := 0
	for after := ""; ; {
		ids, err := c.store.StaleEvents(ctx, reconcile.EventReceived, olderThan, after, relayBatch)
		if err != nil {
			return n, err
		}
		queued, err := c.relayEvents(ctx, ids, covered, now)
		if err != nil {
			return n, fmt.Errorf("%w: %w", errRelayFailed, err)
		}
		n += queued
		if len(ids) < relayBatch {
			return n, nil
		}
		after = ids[len(ids)-1]
	}
}
