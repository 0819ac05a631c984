package stripe_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/internal/testing/stripefake"
	"github.com/payrecon/reconciler/internal/testing/testenv"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// listPayments lists every payment since since.
func listPayments(t *testing.T, l *stripe.PaymentLister, since time.Time) []stripe.PaymentRecord {
	t.Helper()
	var out []stripe.PaymentRecord
	must(t, l.ListPayments(context.Background(), since, func(p stripe.PaymentRecord) error {
		out = append(out, p)
		return nil
	}))
	return out
}

func listDisputes(t *testing.T, l *stripe.PaymentLister, since time.Time) []stripe.DisputeRecord {
	t.Helper()
	var out []stripe.DisputeRecord
	must(t, l.ListDisputes(context.Background(), since, func(d stripe.DisputeRecord) error {
		out = append(out, d)
		return nil
	}))
	return out
}

// byPath keeps the requests to path.
func byPath(reqs []stripefake.Request, path string) []stripefake.Request {
	return slices.DeleteFunc(reqs, func(r stripefake.Request) bool { return r.Path != path })
}

var since = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestListPaymentsPagesThroughTheFake(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)
	const n = 250
	for i := range n {
		f.AddPaymentIntent(stripefake.PaymentIntent{ID: fmt.Sprintf("pi_%03d", i), Amount: int64(100 + i),
			Created: since.Add(time.Duration(i) * time.Minute), Charge: &stripefake.Charge{}})
	}
	// Older than the listing's start: never listed.
	f.AddPaymentIntent(
		stripefake.PaymentIntent{ID: "pi_old", Amount: 1, Created: since.Add(-time.Second)},
		stripefake.PaymentIntent{ID: "pi_older", Amount: 1, Created: since.Add(-24 * time.Hour)},
	)
	l := stripe.NewPaymentLister(stripefake.APIKey, f.URL())

	got := listPayments(t, l, since)
	if len(got) != n {
		t.Fatalf("listed %d payments, want %d", len(got), n)
	}
	for i, p := range got {
		want := n - 1 - i // newest first
		if p.PaymentIntent != fmt.Sprintf("pi_%03d", want) || p.Amount != int64(100+want) ||
			!p.Created.Equal(since.Add(time.Duration(want)*time.Minute)) || p.ChargeID != fmt.Sprintf("ch_%03d", want) {
			t.Fatalf("payment %d is %+v, want pi_%03d", i, p, want)
		}
	}

	pages := byPath(f.Requests(), "/v1/payment_intents")
	if len(pages) != 3 {
		t.Fatalf("%d page requests, want 3 pages of 100: %+v", len(pages), pages)
	}
	for i, r := range pages {
		q := r.Query
		if q.Get("limit") != "100" || q.Get("created[gte]") != strconv.FormatInt(since.Unix(), 10) ||
			q.Get("expand[0]") != "data.latest_charge" || q.Get("expand[1]") != "data.latest_charge.refunds" {
			t.Fatalf("page %d asked %v", i, q)
		}
	}
	if pages[0].Query.Has("starting_after") || pages[1].Query.Get("starting_after") != "pi_150" ||
		pages[2].Query.Get("starting_after") != "pi_050" {
		t.Fatalf("cursors %q, %q, %q", pages[0].Query.Get("starting_after"), pages[1].Query.Get("starting_after"),
			pages[2].Query.Get("starting_after"))
	}
}

func TestListPaymentsReadsTheCharge(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)
	at := since.Add(time.Hour)
	var many []stripefake.Refund // 12: an expanded list shows the first 10
	for i := range 12 {
		many = append(many, stripefake.Refund{ID: fmt.Sprintf("re_many_%02d", i), Amount: 10})
	}
	many[0].Status = "failed"
	f.AddPaymentIntent(
		stripefake.PaymentIntent{ID: "pi_full", Amount: 5000, Currency: "eur", Created: at, Livemode: true,
			Metadata: map[string]string{"invoice_id": "inv_1", "other": "x"}, Invoice: "in_1",
			Charge: &stripefake.Charge{ID: "ch_full", Refunds: []stripefake.Refund{
				{ID: "re_ok", Amount: 300}, {ID: "re_pending", Amount: 200, Status: "pending"},
				{ID: "re_failed", Amount: 100, Status: "failed"}, {ID: "re_action", Amount: 50, Status: "requires_action"},
			}}},
		stripefake.PaymentIntent{ID: "pi_total_only", Amount: 900, Created: at.Add(-time.Minute),
			Charge: &stripefake.Charge{AmountRefunded: 700}},
		stripefake.PaymentIntent{ID: "pi_many", Amount: 900, Created: at.Add(-2 * time.Minute),
			Charge: &stripefake.Charge{Refunds: many}},
		stripefake.PaymentIntent{ID: "pi_unpaid", Amount: 400, Status: "requires_payment_method", Created: at.Add(-3 * time.Minute)},
	)
	got := listPayments(t, stripe.NewPaymentLister(stripefake.APIKey, f.URL()), since)
	if len(got) != 4 {
		t.Fatalf("listed %+v", got)
	}
	want := []stripe.PaymentRecord{
		// pending and succeeded refunds count; the failed one gave its
		// money back; one needing action is not refunded yet.
		{PaymentIntent: "pi_full", ChargeID: "ch_full", InvoiceID: "inv_1", StripeInvoiceID: "in_1", Currency: "eur",
			Amount: 5000, Status: "succeeded", Refunded: 500, Created: at, Livemode: true},
		// No refunds itemised: the charge's total counts.
		{PaymentIntent: "pi_total_only", ChargeID: "ch_total_only", Currency: "usd", Amount: 900, Status: "succeeded",
			Refunded: 700, Created: at.Add(-time.Minute)},
		// 11 of 12 refunds of 10 succeeded; the page of 10 shows the failed
		// one, and amount_refunded holds the 2 it does not show.
		{PaymentIntent: "pi_many", ChargeID: "ch_many", Currency: "usd", Amount: 900, Status: "succeeded",
			Refunded: 110, Created: at.Add(-2 * time.Minute)},
		{PaymentIntent: "pi_unpaid", Currency: "usd", Status: "requires_payment_method", Created: at.Add(-3 * time.Minute)},
	}
	for i := range want {
		g := got[i]
		if !g.Created.Equal(want[i].Created) {
			t.Errorf("%s created %v, want %v", g.PaymentIntent, g.Created, want[i].Created)
		}
		g.Created = want[i].Created
		if g != want[i] {
			t.Errorf("payment %d\n got %+v\nwant %+v", i, g, want[i])
		}
	}
}

func TestListDisputesAndWithdrawnMoney(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)
	at := since.Add(time.Hour)
	for _, id := range []string{"a", "b", "c", "d"} {
		f.AddPaymentIntent(stripefake.PaymentIntent{ID: "pi_" + id, Amount: 1000, Created: at, Charge: &stripefake.Charge{}})
	}
	f.AddDispute(
		stripefake.Dispute{ID: "dp_lost", Amount: 400, Charge: "ch_a", PaymentIntent: "pi_a", Status: "lost", Created: at.Add(4 * time.Hour)},
		stripefake.Dispute{ID: "dp_review", Amount: 300, Charge: "ch_a", PaymentIntent: "pi_a", Status: "under_review", Created: at.Add(3 * time.Hour)},
		stripefake.Dispute{ID: "dp_won", Amount: 1000, Charge: "ch_b", PaymentIntent: "pi_b", Status: "won", Created: at.Add(2 * time.Hour)},
		stripefake.Dispute{ID: "du_inquiry", Amount: 1000, Charge: "ch_c", PaymentIntent: "pi_c", Status: "warning_needs_response", Created: at.Add(time.Hour)},
		// A dispute that does not name its PaymentIntent is found by charge.
		stripefake.Dispute{ID: "dp_charge_only", Amount: 250, Charge: "ch_d", Status: "needs_response", Created: at.Add(time.Minute)},
		stripefake.Dispute{ID: "dp_old", Amount: 5, Charge: "ch_x", Status: "lost", Created: since.Add(-time.Hour)},
	)
	l := stripe.NewPaymentLister(stripefake.APIKey, f.URL())

	t.Run("each dispute holds its amount withdrawn unless it is an inquiry or won", func(t *testing.T) {
		got := listDisputes(t, l, since)
		type row struct {
			id, pi, charge string
			withdrawn      int64
		}
		var rows []row
		for _, d := range got {
			rows = append(rows, row{d.ID, d.PaymentIntent, d.ChargeID, d.Withdrawn})
			if d.Currency != "usd" || d.Amount == 0 || d.Created.Before(since) {
				t.Errorf("dispute %+v", d)
			}
		}
		want := []row{{"dp_lost", "pi_a", "ch_a", 400}, {"dp_review", "pi_a", "ch_a", 300}, {"dp_won", "pi_b", "ch_b", 0},
			{"du_inquiry", "pi_c", "ch_c", 0}, {"dp_charge_only", "", "ch_d", 250}}
		if !slices.Equal(rows, want) {
			t.Fatalf("disputes\n got %v\nwant %v", rows, want)
		}
		if d := byPath(f.Requests(), "/v1/disputes"); d[len(d)-1].Query.Get("created[gte]") != strconv.FormatInt(since.Unix(), 10) {
			t.Fatalf("disputes asked %v", d[len(d)-1].Query)
		}
	})

	t.Run("a payment's Disputed is what its disputes hold withdrawn", func(t *testing.T) {
		disputed := map[string]int64{}
		for _, p := range listPayments(t, l, since) {
			disputed[p.PaymentIntent] = p.Disputed
		}
		want := map[string]int64{"pi_a": 700, "pi_b": 0, "pi_c": 0, "pi_d": 250}
		if fmt.Sprint(disputed) != fmt.Sprint(want) {
			t.Fatalf("disputed %v, want %v", disputed, want)
		}
	})
}

func TestListPaymentsErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fill := func(f *stripefake.Fake) {
		for i := range 150 {
			f.AddPaymentIntent(stripefake.PaymentIntent{ID: fmt.Sprintf("pi_%03d", i), Amount: 100,
				Created: since.Add(time.Duration(i) * time.Second)})
		}
	}
	count := func(l *stripe.PaymentLister) (int, error) {
		n := 0
		err := l.ListPayments(ctx, since, func(stripe.PaymentRecord) error { n++; return nil })
		return n, err
	}

	t.Run("one 500 is retried by stripe-go and the listing completes", func(t *testing.T) {
		t.Parallel()
		f := stripefake.New(t)
		fill(f)
		f.FailRequest(3) // disputes, the first page, then the second page fails once
		n, err := count(stripe.NewPaymentLister(stripefake.APIKey, f.URL()))
		if err != nil || n != 150 {
			t.Fatalf("listed %d, error %v", n, err)
		}
	})

	t.Run("a 500 Stripe keeps answering is an error, after the pages before it", func(t *testing.T) {
		t.Parallel()
		f := stripefake.New(t)
		fill(f)
		for i := 3; i <= 5; i++ { // the request and stripe-go's two retries
			f.FailRequest(i)
		}
		n, err := count(stripe.NewPaymentLister(stripefake.APIKey, f.URL()))
		var serr *stripego.Error
		if err == nil || !errors.As(err, &serr) || serr.HTTPStatusCode != http.StatusInternalServerError ||
			!strings.Contains(err.Error(), "payment intents") || n != 100 {
			t.Fatalf("listed %d, error %v", n, err)
		}
	})

	t.Run("a key Stripe refuses is an error and lists nothing", func(t *testing.T) {
		t.Parallel()
		f := stripefake.New(t)
		fill(f)
		n, err := count(stripe.NewPaymentLister("sk_test_not_the_fakes", f.URL()))
		if err == nil || !strings.Contains(err.Error(), "Invalid API Key") || n != 0 {
			t.Fatalf("listed %d, error %v", n, err)
		}
		if reqs := f.Requests(); len(reqs) != 1 || reqs[0].Status != http.StatusUnauthorized {
			t.Fatalf("requests %+v, want one refused and no retry", reqs)
		}
	})

	t.Run("an error from each stops the listing and comes back as it is", func(t *testing.T) {
		t.Parallel()
		f := stripefake.New(t)
		fill(f)
		stop := errors.New("stop here")
		n := 0
		err := stripe.NewPaymentLister(stripefake.APIKey, f.URL()).ListPayments(ctx, since, func(stripe.PaymentRecord) error {
			n++
			if n == 5 {
				return stop
			}
			return nil
		})
		if err != stop || n != 5 || len(byPath(f.Requests(), "/v1/payment_intents")) != 1 {
			t.Fatalf("after %d payments, error %v, requests %+v", n, err, f.Requests())
		}
	})

	t.Run("a cancelled context stops the listing", func(t *testing.T) {
		t.Parallel()
		f := stripefake.New(t)
		fill(f)
		cctx, cancel := context.WithCancel(ctx)
		n := 0
		err := stripe.NewPaymentLister(stripefake.APIKey, f.URL()).ListPayments(cctx, since, func(stripe.PaymentRecord) error {
			if n++; n == 100 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || n != 100 {
			t.Fatalf("after %d payments, error %v", n, err)
		}
	})
}

// otherShapes answers one page of each list in shapes other API versions
// and stripe-go's typed objects disagree on: latest_charge as a bare id,
// invoice and payment_intent expanded, odd metadata, a refund without a
// status, unknown fields, a dispute status newer than this code.
const otherShapesPaymentIntents = `{"object":"list","url":"/v1/payment_intents","has_more":false,"data":[
 {"id":"pi_idonly","object":"payment_intent","amount":900,"amount_received":900,"currency":"USD","status":"succeeded",
  "created":1793534400,"livemode":false,"metadata":{"invoice_id":42},"latest_charge":"ch_idonly",
  "invoice":{"id":"in_expanded","object":"invoice","amount_paid":900},"payment_details":{"order_reference":"x"},
  "brand_new_field":{"nested":[1,2,3]}},
 {"id":"pi_oldshape","object":"payment_intent","amount_received":500,"currency":"gbp","status":"succeeded",
  "created":1793534300,"livemode":true,"metadata":{"invoice_id":"inv_9","Invoice_ID":"not this"},"invoice":null,
  "latest_charge":{"id":"ch_oldshape","object":"charge","amount_refunded":300,"disputed":true,
   "refunds":{"object":"list","has_more":false,"data":[{"id":"re_nostatus","amount":100,"status":null},
    {"id":"re_ok","amount":150,"status":"succeeded","future":true}]}}},
 {"id":"pi_nocharge","object":"payment_intent","amount_received":0,"currency":"usd","status":"canceled",
  "created":1793534200,"metadata":{},"latest_charge":null}
]}`

const otherShapesDisputes = `{"object":"list","url":"/v1/disputes","has_more":false,"data":[
 {"id":"dp_future","object":"dispute","amount":500,"currency":"gbp","status":"some_future_status","created":1793534400,
  "charge":{"id":"ch_oldshape","object":"charge"},"payment_intent":{"id":"pi_oldshape","object":"payment_intent"},
  "balance_transactions":[{"id":"txn_1","amount":-650,"currency":"usd"}]},
 {"id":"dp_future_back","object":"dispute","amount":70,"currency":"usd","status":"another_status","created":1793534300,
  "charge":"ch_z","payment_intent":"pi_z",
  "balance_transactions":[{"id":"txn_2","amount":-70},{"id":"txn_3","amount":70}]}
]}`

func TestListPaymentsDecodesOtherShapes(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/payment_intents":
			fmt.Fprint(w, otherShapesPaymentIntents)
		case "/v1/disputes":
			fmt.Fprint(w, otherShapesDisputes)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	l := stripe.NewPaymentLister("sk_test_any", srv.URL)

	got := listPayments(t, l, since)
	if len(got) != 3 {
		t.Fatalf("listed %+v", got)
	}
	idOnly, oldShape, noCharge := got[0], got[1], got[2]
	if idOnly.ChargeID != "ch_idonly" || idOnly.InvoiceID != "" || idOnly.StripeInvoiceID != "in_expanded" ||
		idOnly.Currency != "usd" || idOnly.Amount != 900 || idOnly.Refunded != 0 || idOnly.Created.Unix() != 1793534400 {
		t.Errorf("id-only charge: %+v", idOnly)
	}
	// The refund without a status explains 100 of the 300 refunded and
	// counts none; re_ok counts 150; 50 is unexplained.
	if oldShape.ChargeID != "ch_oldshape" || oldShape.InvoiceID != "inv_9" || !oldShape.Livemode ||
		oldShape.Refunded != 200 || oldShape.Disputed != 500 {
		t.Errorf("old shape: %+v", oldShape)
	}
	if noCharge.ChargeID != "" || noCharge.Status != "canceled" || noCharge.Refunded != 0 || noCharge.Disputed != 0 {
		t.Errorf("no charge: %+v", noCharge)
	}

	ds := listDisputes(t, l, since)
	if len(ds) != 2 || ds[0].PaymentIntent != "pi_oldshape" || ds[0].ChargeID != "ch_oldshape" || ds[0].Withdrawn != 500 ||
		ds[1].Withdrawn != 0 || ds[1].PaymentIntent != "pi_z" {
		t.Fatalf("disputes of unknown statuses: %+v", ds)
	}
}

func TestPaymentListerAgainstStripeMock(t *testing.T) {
	t.Parallel()
	base := testenv.StripeMock(t)
	l := stripe.NewPaymentLister("sk_test_123", base)
	monthAgo := time.Now().Add(-30 * 24 * time.Hour)

	t.Run("it lists stripe-mock's example payment intent", func(t *testing.T) {
		got := listPayments(t, l, monthAgo)
		if len(got) != 1 || !strings.HasPrefix(got[0].PaymentIntent, "pi_") || got[0].Currency != "usd" ||
			got[0].Status == "" || got[0].Created.IsZero() {
			t.Fatalf("listed %+v", got)
		}
	})

	t.Run("it lists stripe-mock's example dispute", func(t *testing.T) {
		got := listDisputes(t, l, monthAgo)
		if len(got) != 1 || !strings.HasPrefix(got[0].ID, "dp_") || got[0].ChargeID == "" || got[0].Amount <= 0 ||
			got[0].Status != "warning_needs_response" || got[0].Withdrawn != 0 {
			t.Fatalf("listed %+v", got)
		}
	})

	t.Run("a key stripe-mock refuses is an error", func(t *testing.T) {
		err := stripe.NewPaymentLister("not-a-key", base).ListPayments(context.Background(), monthAgo,
			func(stripe.PaymentRecord) error { return nil })
		if err == nil {
			t.Fatal("listing with a bad key succeeded")
		}
	})
}

// BenchmarkListPayments100k lists 100,000 PaymentIntents, each with a
// charge and a refund, from the fake. peak-live-heap-MB is the largest live
// heap any GC saw during the listing, fake-MB the fake's records (the live
// heap before it), listing-MB their difference: a page's worth on either
// side of the connection, flat however many payments are listed.
func BenchmarkListPayments100k(b *testing.B) {
	const n = 100_000
	f := stripefake.New(b)
	pis := make([]stripefake.PaymentIntent, n)
	for i := range pis {
		pis[i] = stripefake.PaymentIntent{ID: fmt.Sprintf("pi_bench%06d", i), Amount: 1000,
			Created: since.Add(time.Duration(i) * time.Second), Metadata: map[string]string{"invoice_id": fmt.Sprintf("inv_%06d", i)},
			Charge: &stripefake.Charge{Refunds: []stripefake.Refund{{Amount: 100}}}}
	}
	f.AddPaymentIntent(pis...)
	pis = nil
	l := stripe.NewPaymentLister(stripefake.APIKey, f.URL())
	ctx := context.Background()

	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	live := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	baseline := live()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				peak = max(peak, live())
			}
		}
	})

	b.ResetTimer()
	for b.Loop() {
		listed := 0
		err := l.ListPayments(ctx, since, func(p stripe.PaymentRecord) error {
			if p.Refunded != 100 {
				return fmt.Errorf("payment %+v", p)
			}
			listed++
			return nil
		})
		if err != nil || listed != n {
			b.Fatalf("listed %d, error %v", listed, err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	peak = max(peak, live())
	b.ReportMetric(float64(peak)/1e6, "peak-live-heap-MB")
	b.ReportMetric(float64(baseline)/1e6, "fake-MB")
	b.ReportMetric(float64(peak-baseline)/1e6, "listing-MB")
}
