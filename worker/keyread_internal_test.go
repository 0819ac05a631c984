package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/payrecon/reconciler/reconcile"
)

// recordingReads is a round trip of key lookups that records the keys of
// each it is given, holds the first until released, answers each key with
// a job of that id, and fails every round trip holding the key "bad".
type recordingReads struct {
	release chan struct{}

	mu    sync.Mutex
	trips [][]string
}

func (r *recordingReads) read(_ context.Context, reads []reconcile.KeyRead) ([]reconcile.KeyReadResult, error) {
	r.mu.Lock()
	var keys []string
	bad := false
	for _, rd := range reads {
		keys = append(keys, rd.Key)
		bad = bad || rd.Key == "bad"
	}
	r.trips = append(r.trips, keys)
	first := len(r.trips) == 1
	r.mu.Unlock()
	if first {
		<-r.release
	}
	if bad {
		return nil, errors.New("round trip failed")
	}
	out := make([]reconcile.KeyReadResult, len(reads))
	for i, rd := range reads {
		out[i] = reconcile.KeyReadResult{Job: reconcile.Job{ID: "job-" + rd.Key}, Found: true}
	}
	return out, nil
}

func (r *recordingReads) tripSizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sizes []int
	for _, t := range r.trips {
		sizes = append(sizes, len(t))
	}
	return sizes
}

// TestKeyLookupsWaitingShareARoundTrip: lookups asked while a round trip
// is out are made together in the next one, each answered with its own
// result; a round trip that fails fails each of its lookups; a lookup
// after close is made alone.
func TestKeyLookupsWaitingShareARoundTrip(t *testing.T) {
	t.Parallel()
	rec := &recordingReads{release: make(chan struct{})}
	r := newKeyReader(rec.read)
	ctx := context.Background()

	var wg sync.WaitGroup
	results := make([]reconcile.KeyReadResult, 11)
	wg.Go(func() { results[0] = r.lookup(ctx, reconcile.KeyRead{Key: "k0"}) })
	waitFor(t, "the first round trip", func() bool { return len(rec.tripSizes()) == 1 })
	for i := 1; i <= 10; i++ {
		wg.Go(func() { results[i] = r.lookup(ctx, reconcile.KeyRead{Key: fmt.Sprintf("k%d", i)}) })
	}
	waitFor(t, "ten lookups waiting", func() bool { return len(r.in) == 10 })
	close(rec.release)
	wg.Wait()
	if got := rec.tripSizes(); len(got) != 2 || got[0] != 1 || got[1] != 10 {
		t.Fatalf("round trips of %v lookups, want [1 10]", got)
	}
	for i, res := range results {
		if want := fmt.Sprintf("job-k%d", i); res.Err != nil || !res.Found || res.Job.ID != want {
			t.Fatalf("lookup %d: %+v, want job %s", i, res, want)
		}
	}

	// A failed round trip fails each of its lookups, and only those.
	failed := r.lookup(ctx, reconcile.KeyRead{Key: "bad"})
	if failed.Err == nil || failed.Found {
		t.Fatalf("lookup in a failed round trip: %+v, want its error", failed)
	}
	if res := r.lookup(ctx, reconcile.KeyRead{Key: "after"}); res.Err != nil || res.Job.ID != "job-after" {
		t.Fatalf("lookup after a failed round trip: %+v", res)
	}

	// A request that gives up gets its context's error.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if res := r.lookup(gone, reconcile.KeyRead{Key: "gone"}); res.Err != nil && !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("lookup of a request gone: %+v", res)
	}

	r.close()
	trips := len(rec.tripSizes())
	if res := r.lookup(ctx, reconcile.KeyRead{Key: "late"}); res.Err != nil || res.Job.ID != "job-late" {
		t.Fatalf("lookup after close: %+v", res)
	}
	if got := len(rec.tripSizes()); got != trips+1 {
		t.Fatalf("lookup after close made %d round trips, want 1", got-trips)
	}
}
