package worker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestConcurrentSubmitsAsOneByOne submits jobs from many goroutines at
// once, so they are stored in groups: keys drawn from a few, each sent with
// one of two request hashes, jobs without a key, and jobs nobody asks for.
// Whatever the grouping, each key has one job; every submit with that job's
// request got it, every other one with the key was refused; each job
// without a key is a job of its own; the refused ones stored nothing.
func TestConcurrentSubmitsAsOneByOne(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	client := newClient(t, s, testenv.Redis(t))
	ctx := context.Background()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))

	type submit struct {
		n   reconcile.NewJob
		job reconcile.Job
		err error
	}
	const senders, each = 32, 12
	subs := make([]*submit, senders*each)
	for i := range subs {
		n := reconcile.NewJob{Type: reconcile.JobReopen, Actor: "ann", InvoiceID: "inv_1", Payload: map[string]int{"i": i}}
		switch k := r.IntN(10); {
		case k < 7:
			n.IdempotencyKey = fmt.Sprintf("key-%d", r.IntN(8))
			n.RequestHash = fmt.Sprintf("hash-%d", r.IntN(2))
		case k < 9:
		default:
			n.Actor = ""
		}
		subs[i] = &submit{n: n}
	}
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for _, sub := range subs[g*each : (g+1)*each] {
				sub.job, sub.err = client.Submit(ctx, sub.n)
			}
		})
	}
	wg.Wait()

	stored := map[string]string{} // key: its job's request hash
	rows, err := db.Query(ctx, `SELECT idempotency_key, request_hash FROM jobs WHERE idempotency_key IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var key, hash string
		if err := rows.Scan(&key, &hash); err != nil {
			t.Fatal(err)
		}
		stored[key] = hash
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	jobOfKey := map[string]string{}
	unkeyed := map[string]bool{}
	for i, sub := range subs {
		n := sub.n
		switch {
		case n.Actor == "":
			testenv.WantLedgerError(t, sub.err, apperr.KindInvalid, "invalid_actor")
		case n.IdempotencyKey == "":
			if sub.err != nil || unkeyed[sub.job.ID] {
				t.Fatalf("submit %d without a key: job %s, %v", i, sub.job.ID, sub.err)
			}
			unkeyed[sub.job.ID] = true
		case stored[n.IdempotencyKey] == n.RequestHash:
			if sub.err != nil || sub.job.ID != reconcile.JobIDForKey(n.IdempotencyKey) {
				t.Fatalf("submit %d with %s: job %s, %v", i, n.IdempotencyKey, sub.job.ID, sub.err)
			}
			jobOfKey[n.IdempotencyKey] = sub.job.ID
		default:
			testenv.WantLedgerError(t, sub.err, apperr.KindRefused, "idempotency_key_reused")
		}
	}
	if len(jobOfKey) != len(stored) {
		t.Fatalf("%d keys stored, %d of them answered with their job", len(stored), len(jobOfKey))
	}
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM jobs`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != len(stored)+len(unkeyed) {
		t.Fatalf("%d jobs stored, want %d keyed and %d without a key", total, len(stored), len(unkeyed))
	}
}
