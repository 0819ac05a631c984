package worker

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

// Limits of the events' group commit across tasks.
const (
	// eventGroupMax is how many events one group commit gathers from the
	// tasks waiting; a task's events are never split between groups, so a
	// task larger than this is a group of its own.
	eventGroupMax = 256
	// eventGroupTimeout bounds one group commit, which outlives any one
	// task's wait for it.
	eventGroupTimeout = time.Minute
)

// eventCombiner lets the tasks a worker runs at once share group commits.
// Each task's events come from one of the webhook's group commits, a
// handful under load; applied one task per transaction, each pays its own
// commit and its own round trips. Instead a task hands its events over and
// waits, and whichever waiting task takes one of the combiner's slots
// applies every event waiting by then (up to eventGroupMax), its own or not,
// in one transaction. It never waits for a group to fill: with a slot free,
// a task's events are applied at once, alone.
//
// The slots are half the tasks the worker runs at once (WithConcurrency):
// events gather only when more tasks wait than that. Fewer slots make
// larger groups, but leave the worker fewer threads busy, and beside the
// web tier on the same cores it then gets less of them and falls behind
// (with two slots of ten, the drain's PostgreSQL CPU per event fell a
// tenth, but events waited hundreds of milliseconds beside ingest).
type eventCombiner struct {
	// slots holds a token for each group commit running.
	slots chan struct{}

	mu      sync.Mutex
	waiting []*eventRequest
}

// eventRequest is one task's events waiting for a group commit.
type eventRequest struct {
	events []taskEvent
	done   chan error // buffered: the committer never waits for a task that gave up
}

// taskEvent is a stored event to apply, decoded by its task (not in a
// group's turn), and whether its task is on its last attempt: a fault then
// ends the event failed rather than retried.
type taskEvent struct {
	reconcile.Event
	decoded decodedEvent
	last    bool
}

// groupCommit applies events in one group commit and returns, for each
// event, its fault worth retrying its task for, or nil.
type groupCommit func(context.Context, []taskEvent) []error

// newEventCombiner makes a combiner running up to slots group commits at
// once.
func newEventCombiner(slots int) *eventCombiner {
	return &eventCombiner{slots: make(chan struct{}, max(1, slots))}
}

// apply applies events through run, in a group with whatever other tasks'
// events wait beside them, and returns the faults of events worth retrying
// the task for. With ctx done it returns ctx's error, and the events may or
// may not be applied: a retry of the task finds out.
func (c *eventCombiner) apply(ctx context.Context, events []taskEvent, run groupCommit) error {
	req := &eventRequest{events: events, done: make(chan error, 1)}
	c.mu.Lock()
	c.waiting = append(c.waiting, req)
	c.mu.Unlock()
	slots := c.slots
	for {
		// A task whose events are done returns rather than take a turn.
		select {
		case err := <-req.done:
			return err
		default:
		}
		select {
		case err := <-req.done:
			return err
		case <-ctx.Done():
			c.withdraw(req)
			return ctx.Err()
		case slots <- struct{}{}:
			group := c.take()
			if len(group) > 0 {
				c.commit(ctx, group, run)
			} else {
				slots = nil // another slot has taken this task's events: wait for them
			}
			<-c.slots
		}
	}
}

// take removes the group to commit next from the waiting tasks: the first,
// and those after it while the group stays within eventGroupMax.
func (c *eventCombiner) take() []*eventRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, size := 0, 0
	for n < len(c.waiting) && (n == 0 || size+len(c.waiting[n].events) <= eventGroupMax) {
		size += len(c.waiting[n].events)
		n++
	}
	group := slices.Clone(c.waiting[:n])
	c.waiting = slices.Delete(c.waiting, 0, n)
	return group
}

// withdraw removes req from the waiting tasks, if no group has taken it.
func (c *eventCombiner) withdraw(req *eventRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.waiting, req); i >= 0 {
		c.waiting = slices.Delete(c.waiting, i, i+1)
	}
}

// commit applies a group's events in one call of run and hands each task
// its events' faults. The group runs on a context of its own: a task
// that stops waiting does not cancel the others' events.
func (c *eventCombiner) commit(ctx context.Context, group []*eventRequest, run groupCommit) {
	var events []taskEvent
	for _, r := range group {
		events = append(events, r.events...)
	}
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventGroupTimeout)
	faults := run(gctx, events)
	cancel()
	for _, r := range group {
		n := len(r.events)
		r.done <- errors.Join(faults[:n]...)
		faults = faults[n:]
	}
}
