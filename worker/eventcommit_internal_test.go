package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

// testSlots is the combiner's slots in these tests.
const testSlots = 2

// recordingCommit is a group commit that records the events of each group
// it is given, holds the first ones until released, and faults every event
// whose id starts with "bad".
type recordingCommit struct {
	held    int // how many of the first groups wait for release
	release chan struct{}

	mu     sync.Mutex
	groups [][]string
}

func (r *recordingCommit) commit(_ context.Context, events []taskEvent) []error {
	r.mu.Lock()
	var ids []string
	for _, ev := range events {
		ids = append(ids, ev.ID)
	}
	r.groups = append(r.groups, ids)
	wait := len(r.groups) <= r.held
	r.mu.Unlock()
	if wait {
		<-r.release
	}
	faults := make([]error, len(events))
	for i, ev := range events {
		if strings.HasPrefix(ev.ID, "bad") {
			faults[i] = fmt.Errorf("event %s: fault", ev.ID)
		}
	}
	return faults
}

func (r *recordingCommit) committed() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.groups)
}

func taskOf(ids ...string) []taskEvent {
	events := make([]taskEvent, len(ids))
	for i, id := range ids {
		events[i] = taskEvent{Event: reconcile.Event{ID: id}}
	}
	return events
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

func (c *eventCombiner) waitingTasks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiting)
}

// TestTasksWaitingShareOneGroup holds every slot of the combiner with a
// group, queues three more tasks (one with a poison event) and a fourth
// whose wait is given up, then releases the slots: the three tasks left
// are one group, each task gets its own events' faults and no other's, and
// the task that gave up is in no group.
func TestTasksWaitingShareOneGroup(t *testing.T) {
	t.Parallel()
	c := newEventCombiner(testSlots)
	rc := &recordingCommit{held: testSlots, release: make(chan struct{})}
	ctx := context.Background()

	errs := make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	run := func(ctx context.Context, name string, ids ...string) {
		wg.Go(func() {
			err := c.apply(ctx, taskOf(ids...), rc.commit)
			mu.Lock()
			errs[name] = err
			mu.Unlock()
		})
	}
	// One at a time: two holders waiting together would share a group.
	for i := range testSlots {
		run(ctx, fmt.Sprintf("holder%d", i), fmt.Sprintf("h%d", i))
		waitFor(t, "the holder's slot", func() bool { return len(rc.committed()) == i+1 })
	}

	run(ctx, "c", "c1", "c2")
	run(ctx, "d", "d1", "bad_d2", "d3")
	run(ctx, "e", "e1")
	giveUp, cancel := context.WithCancel(ctx)
	run(giveUp, "f", "f1")
	waitFor(t, "four tasks waiting", func() bool { return c.waitingTasks() == 4 })
	cancel()
	waitFor(t, "the task that gave up withdrawn", func() bool { return c.waitingTasks() == 3 })
	close(rc.release)
	wg.Wait()

	groups := rc.committed()
	if len(groups) != testSlots+1 {
		t.Fatalf("groups %v, want the %d held and one of the three tasks waiting", groups, testSlots)
	}
	last := slices.Clone(groups[testSlots])
	slices.Sort(last)
	if want := []string{"bad_d2", "c1", "c2", "d1", "d3", "e1"}; !slices.Equal(last, want) {
		t.Errorf("last group %v, want %v", last, want)
	}
	for name, err := range errs {
		switch name {
		case "d":
			if err == nil || !strings.Contains(err.Error(), "bad_d2") {
				t.Errorf("task d: %v, want the fault of bad_d2", err)
			}
		case "f":
			if !errors.Is(err, context.Canceled) {
				t.Errorf("task f: %v, want its context's end", err)
			}
		default:
			if err != nil {
				t.Errorf("task %s: %v, want nil", name, err)
			}
		}
	}
}

// TestGroupsStayWithinTheLimit queues tasks whose events together pass
// eventGroupMax, and one larger than it alone: no group but the large
// task's own passes the limit, and no task is split between groups.
func TestGroupsStayWithinTheLimit(t *testing.T) {
	t.Parallel()
	c := newEventCombiner(testSlots)
	rc := &recordingCommit{held: testSlots, release: make(chan struct{})}
	ctx := context.Background()
	var wg sync.WaitGroup
	// One at a time: two holders waiting together would share a group.
	for i := range testSlots {
		wg.Go(func() { _ = c.apply(ctx, taskOf(fmt.Sprintf("h%d", i)), rc.commit) })
		waitFor(t, "the holder's slot", func() bool { return len(rc.committed()) == i+1 })
	}

	task := func(name string, n int) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s-%03d", name, i)
		}
		return ids
	}
	tasks := [][]string{task("a", 100), task("b", 100), task("c", 100), task("big", eventGroupMax+10), task("d", 5)}
	for i, ids := range tasks {
		wg.Go(func() { _ = c.apply(ctx, taskOf(ids...), rc.commit) })
		waitFor(t, "the task queued", func() bool { return c.waitingTasks() == i+1 })
	}
	close(rc.release)
	wg.Wait()

	owner := func(id string) string { return id[:strings.IndexByte(id, '-')] }
	seen := map[string]int{} // task: the group holding it
	for g, ids := range rc.committed()[testSlots:] {
		if len(ids) > eventGroupMax && !(len(ids) == eventGroupMax+10 && owner(ids[0]) == "big") {
			t.Errorf("group %d holds %d events, past the limit of %d", g, len(ids), eventGroupMax)
		}
		for _, id := range ids {
			if prev, ok := seen[owner(id)]; ok && prev != g {
				t.Errorf("task %s split between groups %d and %d", owner(id), prev, g)
			}
			seen[owner(id)] = g
		}
	}
	if len(seen) != len(tasks) {
		t.Errorf("tasks committed %v, want all %d", seen, len(tasks))
	}
}
