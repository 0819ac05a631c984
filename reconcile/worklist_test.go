package reconcile_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

func TestWorkListsPageNewestFirst(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()

	// Seven jobs on two invoices, two of them failed; created_at is spread
	// so that newest first is a known order.
	var jobIDs []string
	for i := range 7 {
		inv := "inv-a"
		if i%2 == 1 {
			inv = "inv-b"
		}
		typ := reconcile.JobRecordPayment
		if i == 3 {
			typ = reconcile.JobWriteOff
		}
		j, _, err := s.CreateJob(ctx, reconcile.NewJob{Actor: "tester", Type: typ, InvoiceID: inv, Payload: map[string]int{"n": i}})
		noErr(t, err)
		_, err = db.Exec(ctx, `UPDATE jobs SET created_at = now() - make_interval(secs => $2) WHERE id = $1`, j.ID, 100-i)
		noErr(t, err)
		if i == 2 || i == 5 {
			noErr(t, s.FinishJob(ctx, j.ID, reconcile.JobFailed, "refused", nil))
		}
		jobIDs = append(jobIDs, j.ID)
	}
	newestFirst := slices.Clone(jobIDs)
	slices.Reverse(newestFirst)

	pageJobs := func(f reconcile.JobFilter) []string {
		t.Helper()
		var got []string
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			page, err := s.ListJobs(ctx, f)
			noErr(t, err)
			if len(page.Jobs) > f.Limit {
				t.Fatalf("page of %d jobs, limit %d", len(page.Jobs), f.Limit)
			}
			for _, j := range page.Jobs {
				got = append(got, j.ID)
			}
			if page.NextCursor == "" {
				return got
			}
			f.Cursor = page.NextCursor
		}
	}

	t.Run("pages of two walk every job once, newest first", func(t *testing.T) {
		if got := pageJobs(reconcile.JobFilter{Limit: 2}); !slices.Equal(got, newestFirst) {
			t.Fatalf("got %v, want %v", got, newestFirst)
		}
	})
	t.Run("filters combine", func(t *testing.T) {
		if got := pageJobs(reconcile.JobFilter{InvoiceID: "inv-b", Limit: 1}); !slices.Equal(got, []string{jobIDs[5], jobIDs[3], jobIDs[1]}) {
			t.Fatalf("inv-b: got %v", got)
		}
		if got := pageJobs(reconcile.JobFilter{Status: reconcile.JobFailed, Limit: 5}); !slices.Equal(got, []string{jobIDs[5], jobIDs[2]}) {
			t.Fatalf("failed: got %v", got)
		}
		if got := pageJobs(reconcile.JobFilter{Type: reconcile.JobWriteOff, InvoiceID: "inv-b", Limit: 5}); !slices.Equal(got, []string{jobIDs[3]}) {
			t.Fatalf("write-offs of inv-b: got %v", got)
		}
		if got := pageJobs(reconcile.JobFilter{InvoiceID: "inv-none", Limit: 5}); len(got) != 0 {
			t.Fatalf("inv-none: got %v", got)
		}
	})
	t.Run("bad filters and cursors are refused before SQL", func(t *testing.T) {
		for _, f := range []reconcile.JobFilter{
			{Status: "done"}, {Type: "a\x00b"}, {InvoiceID: "\xff"}, {Cursor: "not-a-cursor"},
		} {
			_, err := s.ListJobs(ctx, f)
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid {
				t.Errorf("filter %+v: got %v, want an invalid refusal", f, err)
			}
		}
	})

	t.Run("events page the same way, by status and type", func(t *testing.T) {
		var events []reconcile.InboxEvent
		for i := range 5 {
			typ := "payment_intent.succeeded"
			if i%2 == 0 {
				typ = "charge.refunded"
			}
			events = append(events, reconcile.InboxEvent{ID: fmt.Sprintf("evt_list_%d", i), Type: typ,
				Created: time.Now(), Payload: []byte(`{}`)})
		}
		_, err := s.StoreEvents(ctx, events)
		noErr(t, err)
		for i, e := range events {
			_, err := db.Exec(ctx, `UPDATE events SET received_at = now() - make_interval(secs => $2) WHERE id = $1`, e.ID, 100-i)
			noErr(t, err)
		}
		noErr(t, s.MarkEvent(ctx, "evt_list_1", reconcile.EventResult{Status: reconcile.EventIgnored, Reason: "test"}))

		var got []string
		f := reconcile.EventFilter{Type: "charge.refunded", Limit: 2}
		for {
			page, err := s.ListEvents(ctx, f)
			noErr(t, err)
			for _, e := range page.Events {
				got = append(got, e.ID)
			}
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
		}
		if want := []string{"evt_list_4", "evt_list_2", "evt_list_0"}; !slices.Equal(got, want) {
			t.Fatalf("charge.refunded: got %v, want %v", got, want)
		}
		page, err := s.ListEvents(ctx, reconcile.EventFilter{Status: reconcile.EventIgnored})
		noErr(t, err)
		if len(page.Events) != 1 || page.Events[0].ID != "evt_list_1" || page.NextCursor != "" {
			t.Fatalf("ignored: %+v", page)
		}
		_, err = s.ListEvents(ctx, reconcile.EventFilter{Type: "x\x00"})
		if e, ok := apperr.As(err); !ok || e.Code != "invalid_type" {
			t.Fatalf("NUL type: got %v", err)
		}
	})
}
