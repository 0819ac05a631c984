package worker

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
)

// listPage is how many tasks one Inspector call reads.
const listPage = 1000

// queuedEvents returns the ids of the events a task still in Redis will
// process: the pending, scheduled, retrying and running tasks of the events
// queue. A relay skips them, so a backlog still queued, or a poison event
// waiting for its retry, is never queued again under another task: however
// many sweeps run, an event has one live task. A task archived (its retries
// spent) covers nothing.
func (c *Client) queuedEvents(ctx context.Context) (map[string]struct{}, error) {
	return c.queuedIDs(ctx, QueueEvents, TypeProcessEvent, func(payload []byte) []string {
		var p EventPayload
		if json.Unmarshal(payload, &p) != nil {
			return nil
		}
		return p.EventIDs
	})
}

// queuedJobs returns the ids of the jobs a task still in Redis will run, as
// queuedEvents does for events: a job queued in a batch's task is not
// queued again under its own.
func (c *Client) queuedJobs(ctx context.Context) (map[string]struct{}, error) {
	return c.queuedIDs(ctx, QueueJobs, TypeRunJob, func(payload []byte) []string {
		var p JobPayload
		if json.Unmarshal(payload, &p) != nil {
			return nil
		}
		if p.JobID != "" {
			return []string{p.JobID}
		}
		return p.JobIDs
	})
}

// queuedIDs returns the ids that the live tasks of type typ in queue name
// (idsOf reads them from a task's payload).
func (c *Client) queuedIDs(ctx context.Context, queue, typ string, idsOf func([]byte) []string) (map[string]struct{}, error) {
	lists := []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		c.inspector.ListActiveTasks, c.inspector.ListPendingTasks,
		c.inspector.ListScheduledTasks, c.inspector.ListRetryTasks,
	}
	covered := map[string]struct{}{}
	for _, list := range lists {
		for page := 1; ; page++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			tasks, err := list(queue, asynq.PageSize(listPage), asynq.Page(page))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				return covered, nil // nothing was ever queued
			}
			if err != nil {
				return nil, fmt.Errorf("list queued %s tasks: %w", typ, err)
			}
			for _, task := range tasks {
				if task.Type != typ {
					continue
				}
				for _, id := range idsOf(task.Payload) {
					covered[id] = struct{}{}
				}
			}
			if len(tasks) < listPage {
				break
			}
		}
	}
	return covered, nil
}

// relayTaskID names the relay of events in the hour of at. The hour keeps a
// relay from meeting a task archived long ago under the same events (its id
// stays taken), while two relays of the same events at once still meet.
func relayTaskID(eventIDs []string, at time.Time) string {
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(at.UTC().Truncate(time.Hour).Unix())))
	for _, id := range eventIDs {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return "events:relay:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// relayEvents queues the events of ids that no live task covers, in tasks
// of up to maxEventsPerTask, and returns how many it queued.
func (c *Client) relayEvents(ctx context.Context, ids []string, covered map[string]struct{}, at time.Time) (int, error) {
	uncovered := slices.DeleteFunc(slices.Clone(ids), func(id string) bool {
		_, ok := covered[id]
		return ok
	})
	for chunk := range slices.Chunk(uncovered, maxEventsPerTask) {
		if err := c.enqueueEventTask(ctx, chunk, relayTaskID(chunk, at)); err != nil {
			return 0, err
		}
		for _, id := range chunk {
			covered[id] = struct{}{} // a later page of this sweep is covered too
		}
	}
	return len(uncovered), nil
}
