package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/outbox"
)

// Enqueuer queues a delivery attempt at a time. A duplicate must be a no-op:
// the dispatcher offers a due delivery until an attempt claims it.
type Enqueuer interface {
	EnqueueDelivery(ctx context.Context, deliveryID string, at time.Time) error
}

// Dispatcher tuning. The periodic sweep catches what a notification did not
// announce: retries coming due, a notification lost while reconnecting, a
// task lost with Redis.
const (
	dispatchEvery       = 30 * time.Second
	dispatchBatch       = 500
	maxReconnectBackoff = 30 * time.Second
	// coalesceWait gathers the notifications of a burst of commits into one
	// sweep.
	coalesceWait = 10 * time.Millisecond
	maxCoalesce  = 250 * time.Millisecond
)

// Dispatch enqueues due deliveries as soon as the ledger commits them, and
// every 30 s anyway, until ctx ends (then it returns nil). It listens on
// outbox.DeliveriesChannel on a connection of its own, reconnecting with
// backoff when it is lost.
func Dispatch(ctx context.Context, pool *pgxpool.Pool, store *Store, enq Enqueuer, log *zap.Logger) error {
	return dispatch(ctx, pool, store, enq, log, dispatchEvery)
}

func dispatch(ctx context.Context, pool *pgxpool.Pool, store *Store, enq Enqueuer, log *zap.Logger, every time.Duration) error {
	if log == nil {
		log = zap.NewNop()
	}
	backoff := time.Second
	for {
		listened, err := listen(ctx, pool, store, enq, log, every)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = time.Second
		}
		log.Warn("delivery dispatcher lost its connection; reconnecting", zap.Error(err), zap.Duration("in", backoff))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxReconnectBackoff)
	}
}

// listen sweeps on each notification and each tick until the connection
// fails or ctx ends. listened reports whether it got as far as listening.
func listen(ctx context.Context, pool *pgxpool.Pool, store *Store, enq Enqueuer, log *zap.Logger, every time.Duration) (listened bool, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("acquire a connection: %w", err)
	}
	defer func() {
		// Closed, not returned: a listening session would hand its
		// notifications to the pool's next user.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Conn().Close(closeCtx)
		conn.Release()
	}()
	if _, err := conn.Conn().Exec(ctx, "LISTEN "+pgx.Identifier{outbox.DeliveriesChannel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	// Only now: whatever committed before LISTEN was not announced to us.
	sweep(ctx, store, enq, log)
	for {
		notified, err := wait(ctx, conn.Conn(), every)
		if err != nil {
			return true, err
		}
		if notified {
			if err := coalesce(ctx, conn.Conn()); err != nil {
				return true, err
			}
		}
		sweep(ctx, store, enq, log)
	}
}

// wait waits up to d for a notification; notified is false when d passed.
func wait(ctx context.Context, conn *pgx.Conn, d time.Duration) (notified bool, err error) {
	waitCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err = conn.WaitForNotification(waitCtx)
	switch {
	case ctx.Err() != nil:
		return false, ctx.Err()
	case err != nil && pgconn.Timeout(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("wait for notification: %w", err)
	}
	return true, nil
}

// coalesce takes the notifications that arrive within coalesceWait of each
// other, for at most maxCoalesce, so a burst of commits costs one sweep, not
// one each, and a steady stream still gets swept.
func coalesce(ctx context.Context, conn *pgx.Conn) error {
	for deadline := time.Now().Add(maxCoalesce); time.Now().Before(deadline); {
		notified, err := wait(ctx, conn, coalesceWait)
		if err != nil || !notified {
			return err
		}
	}
	return nil
}

// sweep enqueues the deliveries due now. A failure is logged and left to
// the next sweep: the rows stay pending, so nothing is lost.
func sweep(ctx context.Context, store *Store, enq Enqueuer, log *zap.Logger) {
	ids, err := store.DueDeliveries(ctx, 0, dispatchBatch)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("delivery dispatcher could not list due deliveries", zap.Error(err))
		}
		return
	}
	now := time.Now()
	for _, id := range ids {
		if err := enq.EnqueueDelivery(ctx, id, now); err != nil {
			// Redis down fails them all alike: one line, and the next sweep.
			if ctx.Err() == nil {
				log.Warn("delivery dispatcher could not enqueue; the next sweep will", zap.String("delivery", id), zap.Error(err))
			}
			return
		}
	}
}
