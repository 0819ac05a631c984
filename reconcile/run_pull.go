package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// pullMargin is how far before the cursor a pull starts listing. Stripe's
	// created has second resolution and an event may show in its listing a
	// little after the time it bears; the inbox's unique key absorbs the
	// overlap.
	pullMargin = 5 * time.Minute
	// stripeRetention is how long Stripe keeps events: asking for older
	// ones finds nothing.
	stripeRetention = 30 * 24 * time.Hour
	// fullPullEvery is how often a pull goes without the delivery_success
	// filter even when no full run asked for it.
	fullPullEvery = 24 * time.Hour
	// pullBatch is how many listed events are stored in one transaction:
	// one page of Stripe's listing.
	pullBatch = 100
)

// PullStep is what the Stripe pull listed and stored.
type PullStep struct {
	// Skipped says why the pull did not run (no Stripe key).
	Skipped string `json:"skipped,omitempty"`
	// Mode is "all" (every event since the cursor) or "undelivered" (only
	// those Stripe failed to deliver: delivery_success=false).
	Mode  string     `json:"mode"`
	Since *time.Time `json:"since"`
	// Listed counts the events Stripe listed; Stored those the inbox
	// lacked, Enqueued those of them queued for processing. An event stored
	// but not queued (Redis down) is relayed later.
	Listed   int `json:"listed"`
	Stored   int `json:"stored"`
	Enqueued int `json:"enqueued"`
	// OtherTypes counts listed events of types the service does not handle
	// (a server ignoring the types filter); they are not stored.
	OtherTypes int `json:"other_types,omitempty"`
	// Cursor is the newest event time pulls have seen, after this one.
	Cursor *time.Time `json:"cursor,omitempty"`
	Error  string     `json:"error,omitempty"`
}

// MarshalJSON shows a skipped pull as only its reason.
func (p PullStep) MarshalJSON() ([]byte, error) {
	if p.Skipped != "" {
		return json.Marshal(struct {
			Skipped string `json:"skipped"`
		}{p.Skipped})
	}
	type plain PullStep // without this method
	return json.Marshal(plain(p))
}

// pullStep stores the Stripe events the inbox lacks and queues them. The
// cursor moves only when the whole listing was read: Stripe lists newest
// first, so a pull cut short has seen the newest events but not the older
// ones, and must start from the old cursor again.
func (r *Runner) pullStep(ctx context.Context, full bool, st *PullStep) error {
	if r.cfg.Stripe == nil {
		st.Skipped = "no STRIPE_API_KEY"
		return nil
	}
	cur, err := r.store.stripeCursor(ctx)
	if err != nil {
		return err
	}
	now := r.now()
	all := full || cur.lastFullAt == nil || now.Sub(*cur.lastFullAt) >= fullPullEvery
	st.Mode = "undelivered"
	if all {
		st.Mode = "all"
	}
	since := now.Add(-stripeRetention).Truncate(time.Second)
	if cur.lastCreated != nil && cur.lastCreated.Add(-pullMargin).After(since) {
		since = cur.lastCreated.Add(-pullMargin)
	}
	since = since.UTC()
	st.Since = &since

	var newest time.Time
	var enqueueErr error
	batch := make([]InboxEvent, 0, pullBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		isNew, err := r.store.StoreEvents(ctx, batch)
		if err != nil {
			return err
		}
		var ids []string
		for i, e := range batch {
			if isNew[i] {
				ids = append(ids, e.ID)
			}
		}
		batch = batch[:0]
		st.Stored += len(ids)
		if len(ids) == 0 {
			return nil
		}
		// A stored event is safe: if Redis is down, the relay queues it
		// later, so the listing goes on.
		if err := r.relay.EnqueueEvents(ctx, ids); err != nil {
			enqueueErr = err
			return nil
		}
		st.Enqueued += len(ids)
		return nil
	}
	err = r.cfg.Stripe.ListEvents(ctx, since, !all, func(e ListedEvent) error {
		st.Listed++
		if e.Created.After(newest) {
			newest = e.Created
		}
		if !e.Handled {
			st.OtherTypes++
			return nil
		}
		batch = append(batch, InboxEvent{ID: e.ID, Type: e.Type, Created: e.Created, Payload: e.Raw, Source: SourcePull})
		if len(batch) == pullBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("pull Stripe events since %s: %w", since.Format(time.RFC3339), err)
	}
	var seen *time.Time
	if !newest.IsZero() {
		seen = &newest
	}
	if st.Cursor, err = r.store.advanceStripeCursor(ctx, seen, all); err != nil {
		return err
	}
	if enqueueErr != nil {
		return fmt.Errorf("%d pulled events stored but not queued (the relay will queue them): %w",
			st.Stored-st.Enqueued, enqueueErr)
	}
	return nil
}

// pullCursor is where the Stripe pull stands.
type pullCursor struct {
	lastCreated *time.Time
	lastFullAt  *time.Time
}

// stripeCursor reads the pull's cursor.
func (s *Store) stripeCursor(ctx context.Context) (pullCursor, error) {
	var c pullCursor
	err := s.db.QueryRow(ctx, `SELECT last_created, last_full_at FROM stripe_cursor WHERE id`).Scan(&c.lastCreated, &c.lastFullAt)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return pullCursor{}, fmt.Errorf("read Stripe cursor: %w", err)
	}
	return c, nil
}

// advanceStripeCursor records a complete pull: the newest event it saw
// (the cursor never goes back), and, for an unfiltered pull, its time. It
// returns the cursor.
func (s *Store) advanceStripeCursor(ctx context.Context, newest *time.Time, all bool) (*time.Time, error) {
	var cur *time.Time
	err := s.db.QueryRow(ctx, `
		INSERT INTO stripe_cursor (id, last_created, last_full_at)
		VALUES (true, $1, CASE WHEN $2::boolean THEN now() END)
		ON CONFLICT (id) DO UPDATE SET
			last_created = GREATEST(stripe_cursor.last_created, EXCLUDED.last_created),
			last_full_at = COALESCE(EXCLUDED.last_full_at, stripe_cursor.last_full_at),
			updated_at = now()
		RETURNING last_created`, newest, all).Scan(&cur)
	if err != nil {
		return nil, fmt.Errorf("advance Stripe cursor: %w", err)
	}
	if cur != nil {
		u := cur.UTC()
		cur = &u
	}
	return cur, nil
}
