package webhooks

import (
	"time"

	"go.uber.org/zap"
)

// NewVerifier exposes the signature check to the tests and benchmarks of
// webhooks_test.
func NewVerifier(secrets []string, tolerance time.Duration) func(payload []byte, header string, now time.Time) error {
	v := newVerifier(secrets, tolerance)
	return v.verify
}

// NewUnstored makes a Handler whose group commit stores nothing and answers
// every event new at once, as fast as a channel hand-off: the benchmarks
// measure the request path's own CPU with it, without PostgreSQL's.
func NewUnstored(cfg Config, log *zap.Logger) *Handler {
	h := New(cfg, nil, nil, log)
	h.batch.close() // nothing was submitted, so its writer never touched the nil store
	// The same limits as the real writer's: the answer bound and the
	// queue's bytes decide a request's answer before any commit.
	b := &batcher{log: h.log, stats: &h.stats, in: make(chan *pending, DefaultBatchMax), stopped: make(chan struct{}),
		wait: h.batch.wait, max: h.batch.max, queueBytes: h.batch.queueBytes, answerWithin: h.batch.answerWithin}
	go func() {
		defer close(b.stopped)
		for p := range b.in {
			p.done <- result{isNew: true}
		}
	}()
	h.batch = b
	return h
}
