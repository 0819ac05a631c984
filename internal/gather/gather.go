// Package gather makes the requests of concurrent callers together: while
// one call of a function is out, the requests that arrive wait, and the
// next call takes all of them. A request that arrives when none is out is
// made at once, alone; nothing waits for a group to fill.
package gather

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Gatherer gathers requests of type Q into calls of do, which returns one
// result of type R per request, in order, or an error that is then each
// request's. There is no goroutine of its own: the caller whose request
// finds no call out makes the call, for every request waiting, then hands
// the next call to the first request that arrived meanwhile. A call runs
// on a context of its own, bounded by the Gatherer's timeout: a caller
// that gives up does not cancel the others' requests.
type Gatherer[Q, R any] struct {
	do      func(ctx context.Context, requests []Q) ([]R, error)
	max     int
	timeout time.Duration

	mu      sync.Mutex
	busy    bool // a caller makes a call, or has been handed the next
	waiting []*request[Q, R]
}

// The limits the callers of this project use: a call over 64 requests is
// still one small statement, and none outlives 10 s.
const (
	// DefaultMax is how many requests one call makes.
	DefaultMax = 64
	// DefaultTimeout bounds one call.
	DefaultTimeout = 10 * time.Second
)

// ErrCallPanicked is the error of the requests of a call whose function
// panicked (the caller that made the call panics too).
var ErrCallPanicked = errors.New("gather: the call of these requests panicked")

// request is one caller's request and, once made, its result.
type request[Q, R any] struct {
	q       Q
	res     R
	err     error
	done    chan struct{} // closed when res or err is set
	lead    chan struct{} // signalled when this caller is to make the next call
	leading bool          // lead was signalled; under the Gatherer's mu
}

// New returns a Gatherer that makes at most max requests in one call of
// do, each call within timeout.
func New[Q, R any](do func(ctx context.Context, requests []Q) ([]R, error), max int, timeout time.Duration) *Gatherer[Q, R] {
	return &Gatherer[Q, R]{do: do, max: max, timeout: timeout}
}

// Do makes q, with the requests waiting beside it, and returns its result.
// With ctx done before q is taken into a call, it returns ctx's error and
// q is not made; once taken, q's call finishes whatever ctx does.
func (g *Gatherer[Q, R]) Do(ctx context.Context, q Q) (R, error) {
	r := &request[Q, R]{q: q, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	g.mu.Lock()
	g.waiting = append(g.waiting, r)
	first := !g.busy
	g.busy = true
	g.mu.Unlock()
	if first {
		g.call(ctx)
	}
	cancelled := ctx.Done()
	for {
		select {
		case <-r.done:
			return r.res, r.err
		case <-r.lead:
			g.call(ctx)
		case <-cancelled:
			if g.withdraw(r) {
				var zero R
				return zero, ctx.Err()
			}
			// Taken into a call, or handed the next one: see it through.
			cancelled = nil
		}
	}
}

// withdraw removes r from the waiting requests, unless a call has taken it
// or it was handed the next call, and reports whether it did.
func (g *Gatherer[Q, R]) withdraw(r *request[Q, R]) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i := slices.Index(g.waiting, r)
	if i < 0 || r.leading {
		return false
	}
	g.waiting = slices.Delete(g.waiting, i, i+1)
	return true
}

// call makes one call of do for the first max requests waiting (the
// caller's own among them), hands each its result, and hands the next call
// to the first request left waiting, if any. If do panics, its requests get ErrCallPanicked, the
// next call is handed on all the same, and the panic goes on up.
func (g *Gatherer[Q, R]) call(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.waiting), g.max)
	batch := slices.Clone(g.waiting[:n])
	g.waiting = slices.Delete(g.waiting, 0, n)
	g.mu.Unlock()
	defer g.handOn()

	finished := false
	defer func() {
		if !finished {
			for _, r := range batch {
				r.err = ErrCallPanicked
				close(r.done)
			}
		}
	}()
	qs := make([]Q, len(batch))
	for i, r := range batch {
		qs[i] = r.q
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	results, err := g.do(cctx, qs)
	finished = true
	for i, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.res = results[i]
		}
		close(r.done)
	}
}

// handOn hands the next call to the first request waiting, or, with none,
// leaves the next request to make its own.
func (g *Gatherer[Q, R]) handOn() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.waiting) == 0 {
		g.busy = false
		return
	}
	next := g.waiting[0]
	next.leading = true
	next.lead <- struct{}{}
}
