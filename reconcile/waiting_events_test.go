package reconcile_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestWaitingEventsIndex: the inbox's index on status (migration 015) holds
// exactly the statuses reconcile calls waiting, and the condition its
// queries repeat (WaitingStatusSQL) is enough for a plan to read it. A
// waiting status the index left out would be searched for through the whole
// inbox; without the condition, so would any status a plan made for every
// value of a parameter looks for.
func TestWaitingEventsIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.Pool(t)
	reads := planReader(t, db)
	usesWaiting := func(where string) bool {
		t.Helper()
		return reads("events_waiting", `SELECT id FROM events WHERE `+where, pgx.QueryExecModeSimpleProtocol)
	}
	for _, s := range []reconcile.EventStatus{reconcile.EventReceived, reconcile.EventProcessed, reconcile.EventIgnored,
		reconcile.EventUnmatched, reconcile.EventNeedsReview, reconcile.EventFailed} {
		if got, want := usesWaiting(`status = '`+string(s)+`'`), reconcile.Waiting(s); got != want {
			t.Errorf("events of status %s: read through events_waiting %v, want %v", s, got, want)
		}
	}
	if !usesWaiting(reconcile.WaitingStatusSQL) {
		t.Errorf("%s: not read through events_waiting", reconcile.WaitingStatusSQL)
	}
	// The old index on every event's status is gone.
	var old bool
	if err := db.QueryRow(ctx, `SELECT to_regclass('events_status_listing') IS NOT NULL`).Scan(&old); err != nil {
		t.Fatal(err)
	}
	if old {
		t.Error("events_status_listing still indexes every event's status")
	}
}
