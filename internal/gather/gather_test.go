package gather

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder is a call that records the requests of each call, holds the
// first held calls until released, echoes each request, and panics on a
// call holding "bad".
type recorder struct {
	held    int
	release chan struct{}

	mu    sync.Mutex
	calls [][]string
}

func (r *recorder) do(_ context.Context, qs []string) ([]string, error) {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(qs))
	wait := len(r.calls) <= r.held
	r.mu.Unlock()
	if wait {
		<-r.release
	}
	if slices.Contains(qs, "bad") {
		panic("bad request")
	}
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = "re:" + q
	}
	return out, nil
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, c := range r.calls {
		out = append(out, len(c))
	}
	return out
}

func (g *Gatherer[Q, R]) waitingNow() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// TestWaitingRequestsShareACall: requests that arrive while a call is out
// are made in the next calls, at most max to a call, in the order they
// arrived, each answered with its own result; a request that gives up
// before a call takes it is made in none.
func TestWaitingRequestsShareACall(t *testing.T) {
	t.Parallel()
	rec := &recorder{held: 1, release: make(chan struct{})}
	g := New(rec.do, 4, time.Minute)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]string{}
	errs := map[string]error{}
	ask := func(ctx context.Context, q string) {
		wg.Go(func() {
			res, err := g.Do(ctx, q)
			mu.Lock()
			got[q], errs[q] = res, err
			mu.Unlock()
		})
	}
	ask(ctx, "r0")
	waitFor(t, "the first call", func() bool { return len(rec.sizes()) == 1 })
	giveUp, cancel := context.WithCancel(ctx)
	for i := 1; i <= 10; i++ {
		c := ctx
		if i == 3 {
			c = giveUp
		}
		ask(c, fmt.Sprintf("r%d", i))
		waitFor(t, "the request waiting", func() bool { return g.waitingNow() == i })
	}
	cancel()
	waitFor(t, "the request that gave up withdrawn", func() bool { return g.waitingNow() == 9 })
	close(rec.release)
	wg.Wait()

	if sizes := rec.sizes(); !slices.Equal(sizes, []int{1, 4, 4, 1}) {
		t.Fatalf("calls of %v requests, want [1 4 4 1]", sizes)
	}
	var order []string
	for _, c := range rec.calls {
		order = append(order, c...)
	}
	if want := []string{"r0", "r1", "r2", "r4", "r5", "r6", "r7", "r8", "r9", "r10"}; !slices.Equal(order, want) {
		t.Fatalf("requests made in the order %v, want %v", order, want)
	}
	for q, res := range got {
		if q == "r3" {
			if !errors.Is(errs[q], context.Canceled) || res != "" {
				t.Fatalf("request that gave up: %q, %v", res, errs[q])
			}
			continue
		}
		if errs[q] != nil || res != "re:"+q {
			t.Fatalf("request %s: %q, %v", q, res, errs[q])
		}
	}
	// With nothing out, a request is made at once, alone.
	if res, err := g.Do(ctx, "alone"); err != nil || res != "re:alone" {
		t.Fatalf("request alone: %q, %v", res, err)
	}
}

// TestAPanicFailsItsCallOnly: the caller whose call panics panics, the
// other requests of that call get ErrCallPanicked, and the requests
// waiting behind it are made in the next call.
func TestAPanicFailsItsCallOnly(t *testing.T) {
	t.Parallel()
	rec := &recorder{held: 1, release: make(chan struct{})}
	g := New(rec.do, 2, time.Minute)
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make([]error, 4)
	var panicked any
	wg.Go(func() {
		defer func() { panicked = recover() }()
		_, results[0] = g.Do(ctx, "first")
	})
	waitFor(t, "the first call", func() bool { return len(rec.sizes()) == 1 })
	for i, q := range []string{"bad", "with-bad", "after"} {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					results[i+1] = fmt.Errorf("panicked: %v", p)
				}
			}()
			_, results[i+1] = g.Do(ctx, q)
		})
		waitFor(t, "the request waiting", func() bool { return g.waitingNow() == i+1 })
	}
	close(rec.release)
	wg.Wait()
	if panicked != nil || results[0] != nil {
		t.Fatalf("first request: %v, panic %v", results[0], panicked)
	}
	// "bad" made the second call and panicked; "with-bad" shared it.
	if results[1] == nil || errors.Is(results[1], ErrCallPanicked) {
		t.Fatalf("the caller of the call that panicked: %v, want its panic", results[1])
	}
	if !errors.Is(results[2], ErrCallPanicked) {
		t.Fatalf("a request of the call that panicked: %v, want ErrCallPanicked", results[2])
	}
	if results[3] != nil {
		t.Fatalf("the request after: %v", results[3])
	}
	if sizes := rec.sizes(); !slices.Equal(sizes, []int{1, 2, 1}) {
		t.Fatalf("calls of %v requests, want [1 2 1]", sizes)
	}
}

// TestConcurrentRequestsEachMadeOnce: many callers, some giving up at
// random moments: every request is made at most once, every caller that
// got a result got its own, and no call holds more than max.
func TestConcurrentRequestsEachMadeOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	made := map[string]int{}
	largest := 0
	g := New(func(_ context.Context, qs []string) ([]string, error) {
		mu.Lock()
		largest = max(largest, len(qs))
		for _, q := range qs {
			made[q]++
		}
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		out := make([]string, len(qs))
		for i, q := range qs {
			out[i] = "re:" + q
		}
		return out, nil
	}, 8, time.Minute)
	const callers, each = 32, 100
	var wg sync.WaitGroup
	var answered, gaveUp sync.Map
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				q := fmt.Sprintf("c%d-%d", c, i)
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(300))*time.Microsecond)
				res, err := g.Do(ctx, q)
				cancel()
				switch {
				case err == nil && res == "re:"+q:
					answered.Store(q, true)
				case errors.Is(err, context.DeadlineExceeded) && res == "":
					gaveUp.Store(q, true)
				default:
					t.Errorf("request %s: %q, %v", q, res, err)
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if largest > 8 {
		t.Fatalf("a call of %d requests, want at most 8", largest)
	}
	n := 0
	answered.Range(func(q, _ any) bool {
		n++
		if made[q.(string)] != 1 {
			t.Fatalf("request %s answered, made %d times", q, made[q.(string)])
		}
		return true
	})
	gaveUp.Range(func(q, _ any) bool {
		if made[q.(string)] != 0 {
			t.Fatalf("request %s gave up, yet made %d times", q, made[q.(string)])
		}
		return true
	})
	if n == 0 {
		t.Fatal("no request answered")
	}
	t.Logf("%d answered, %d made in all", n, len(made))
}
