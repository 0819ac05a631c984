package worker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestConcurrentKeyLookupsAsOneByOne looks keys up through the client
// from many goroutines at once, so the lookups share round trips: keys
// with a job (asked with its request or another), keys without one, with
// an invoice that exists, one that does not, or none. Each answer is the
// one the store gives the same lookup alone.
func TestConcurrentKeyLookupsAsOneByOne(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	client := newClient(t, s, testenv.Redis(t))
	ctx := context.Background()
	sentInvoice(t, s, "inv_1", 10_000)
	for k := range 4 {
		if _, err := client.Submit(ctx, reconcile.NewJob{Type: reconcile.JobReopen, Actor: "ann", InvoiceID: "inv_1",
			Payload: map[string]int{}, IdempotencyKey: fmt.Sprintf("key-%d", k), RequestHash: "hash-0"}); err != nil {
			t.Fatal(err)
		}
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	const senders, each = 32, 16
	reads := make([]reconcile.KeyRead, senders*each)
	for i := range reads {
		reads[i] = reconcile.KeyRead{Key: fmt.Sprintf("key-%d", r.IntN(6)), RequestHash: fmt.Sprintf("hash-%d", r.IntN(2)),
			InvoiceID: []string{"inv_1", "inv_none", ""}[r.IntN(3)]}
	}
	got := make([]reconcile.KeyReadResult, len(reads))
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := g * each; i < (g+1)*each; i++ {
				res := &got[i]
				res.Job, res.Found, res.Invoice, res.Err = client.LookupKey(ctx, reads[i].Key, reads[i].RequestHash, reads[i].InvoiceID)
			}
		})
	}
	wg.Wait()
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	for i, rd := range reads {
		var want reconcile.KeyReadResult
		if rd.InvoiceID == "" {
			want.Job, want.Found, want.Err = s.LookupJobByKey(ctx, rd.Key, rd.RequestHash)
		} else {
			want.Job, want.Found, want.Invoice, want.Err = s.LookupJobByKeyReading(ctx, rd.Key, rd.RequestHash, rd.InvoiceID)
		}
		g := got[i]
		if g.Found != want.Found || errText(g.Err) != errText(want.Err) || errText(g.Invoice.Err) != errText(want.Invoice.Err) ||
			(want.Found && !reflect.DeepEqual(g.Job, want.Job)) || !reflect.DeepEqual(g.Invoice.Invoice, want.Invoice.Invoice) {
			t.Fatalf("lookup %+v:\n shared %+v\n alone  %+v", rd, g, want)
		}
	}
}
