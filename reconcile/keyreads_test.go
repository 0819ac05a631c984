package reconcile_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestKeyReadsTogetherAnswerAsAlone: the lookups of many requests made in
// one round trip answer each as its own lookup would: a key's job for the
// request it was first used for, a refusal for another request, nothing
// for a new key; the invoice read live (with its write-off), or not found
// when deleted or never made. Random requests, repeated ones among them.
func TestKeyReadsTogetherAnswerAsAlone(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	ctx := context.Background()
	live := newInvoice(t, s, 10_000, true)
	writtenOff := newInvoice(t, s, 10_000, true)
	if _, err := s.WriteOff(ctx, reconcile.Op{Actor: "tester"}, writtenOff.ID, "gone"); err != nil {
		t.Fatal(err)
	}
	deleted := newInvoice(t, s, 10_000, false)
	noErr(t, s.DeleteInvoice(ctx, reconcile.Op{Actor: "tester"}, deleted.ID))
	invoices := []string{live.ID, writtenOff.ID, deleted.ID, "inv_never", ""}
	keys := []string{"k-1", "k-2", "k-3", "k-new-1", "k-new-2"}
	for _, k := range keys[:3] {
		if _, created, err := s.CreateJob(ctx, reconcile.NewJob{Type: reconcile.JobReopen, Actor: "ann", InvoiceID: live.ID,
			Payload: map[string]string{}, IdempotencyKey: k, RequestHash: "h-" + k}); err != nil || !created {
			t.Fatalf("job of %s: %v (created %v)", k, err, created)
		}
	}

	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	for round := range 20 {
		reads := make([]reconcile.KeyRead, 1+r.IntN(40))
		for i := range reads {
			k := keys[r.IntN(len(keys))]
			hash := "h-" + k
			if r.IntN(4) == 0 {
				hash = "h-other"
			}
			reads[i] = reconcile.KeyRead{Key: k, RequestHash: hash, InvoiceID: invoices[r.IntN(len(invoices))]}
		}
		got, err := s.LookupJobsByKeysReading(ctx, reads)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(got) != len(reads) {
			t.Fatalf("round %d: %d results for %d reads", round, len(got), len(reads))
		}
		for i, rd := range reads {
			want := aloneKeyRead(ctx, t, s, rd)
			if !sameKeyRead(got[i], want) {
				t.Fatalf("round %d, read %+v:\n together %+v\n alone    %+v", round, rd, got[i], want)
			}
		}
	}
}

// aloneKeyRead is what the admin API's lookup of one request returns.
func aloneKeyRead(ctx context.Context, t *testing.T, s *reconcile.Store, rd reconcile.KeyRead) reconcile.KeyReadResult {
	t.Helper()
	var res reconcile.KeyReadResult
	if rd.InvoiceID == "" {
		res.Job, res.Found, res.Err = s.LookupJobByKey(ctx, rd.Key, rd.RequestHash)
	} else {
		res.Job, res.Found, res.Invoice, res.Err = s.LookupJobByKeyReading(ctx, rd.Key, rd.RequestHash, rd.InvoiceID)
	}
	if !res.Found {
		res.Job = reconcile.Job{}
	}
	return res
}

// sameKeyRead compares two lookups' answers: the job found, the refusal
// (by its message), the invoice read or its error.
func sameKeyRead(a, b reconcile.KeyReadResult) bool {
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	if a.Found != b.Found || errText(a.Err) != errText(b.Err) || errText(a.Invoice.Err) != errText(b.Invoice.Err) {
		return false
	}
	return reflect.DeepEqual(a.Job, b.Job) && reflect.DeepEqual(a.Invoice.Invoice, b.Invoice.Invoice)
}
