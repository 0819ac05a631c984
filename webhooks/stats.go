package webhooks

import "sync/atomic"

// Stats counts what the handler did since it was made. It is a snapshot;
// metrics can be exported from it later without touching the hot path.
type Stats struct {
	// New and Duplicate count acknowledged events: stored for the first
	// time, or already stored.
	New, Duplicate int64
	// Rejected counts requests answered 4xx: bad method, size, signature or
	// body.
	Rejected int64
	// Batches counts StoreEvents transactions; New+Duplicate over Batches
	// is the group commit's average batch size.
	Batches int64
	// StoreErrors counts failed transactions (each answered 503).
	StoreErrors int64
	// Shed counts requests answered 503 at once because the commit queue
	// was full (Stripe retries them).
	Shed int64
	// EnqueueErrors counts event ids whose enqueue failed, EnqueueDropped
	// those never tried because the queue to Redis was full. Both stay
	// received for the relay sweep.
	EnqueueErrors, EnqueueDropped int64
}

type counters struct {
	fresh, duplicate, rejected    atomic.Int64
	batches, storeErrors, shed    atomic.Int64
	enqueueErrors, enqueueDropped atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		New: c.fresh.Load(), Duplicate: c.duplicate.Load(),
		Rejected: c.rejected.Load(), Batches: c.batches.Load(), StoreErrors: c.storeErrors.Load(), Shed: c.shed.Load(),
		EnqueueErrors: c.enqueueErrors.Load(), EnqueueDropped: c.enqueueDropped.Load(),
	}
}
