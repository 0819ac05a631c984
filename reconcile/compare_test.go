package reconcile_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/internal/testing/stripefake"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// compareEnv is a ledger and a fake Stripe, and a Runner comparing them.
type compareEnv struct {
	t      *testing.T
	s      *reconcile.Store
	db     *pgxpool.Pool
	fake   *stripefake.Fake
	relay  *recordingRelay
	runner *reconcile.Runner
}

func newCompareEnv(t *testing.T) *compareEnv {
	t.Helper()
	s, db := testenv.Store(t)
	fake := stripefake.New(t)
	relay := &recordingRelay{store: s}
	runner := reconcile.NewRunner(s, relay, reconcile.RunnerConfig{RelayAfter: time.Hour,
		Provider: worker.ProviderRecords(stripe.NewPaymentLister(stripefake.APIKey, fake.URL()))})
	return &compareEnv{t: t, s: s, db: db, fake: fake, relay: relay, runner: runner}
}

// invoice creates a sent invoice of id in currency.
func (e *compareEnv) invoice(id, currency string, amount reconcile.Amount) {
	e.t.Helper()
	ctx := context.Background()
	_, err := e.s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: id, Number: id, Client: "acme", Currency: currency, Amount: amount})
	noErr(e.t, err)
	_, err = e.s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, id)
	noErr(e.t, err)
}

// paid records Stripe's payment pi of amount on invoice, as its event would.
func (e *compareEnv) paid(pi, invoice, currency string, amount reconcile.Amount) {
	e.t.Helper()
	res, err := e.s.RecordOnlinePayment(context.Background(), "", reconcile.OnlinePayment{ProviderRef: pi, InvoiceID: invoice,
		Amount: amount, Currency: currency, PaidDate: today})
	noErr(e.t, err)
	if res.Status != reconcile.EventProcessed {
		e.t.Fatalf("payment %s: %+v", pi, res)
	}
}

func (e *compareEnv) run(full bool) (string, reconcile.CompareStep) {
	e.t.Helper()
	run, steps := runOnce(e.t, e.s, e.runner, full)
	if steps.StripeCompare == nil {
		e.t.Fatalf("run %s has no comparison: %s", run.ID, run.Steps)
	}
	return run.ID, *steps.StripeCompare
}

func (e *compareEnv) discrepancies(status reconcile.DiscrepancyStatus) []reconcile.Discrepancy {
	e.t.Helper()
	page, err := e.s.ListDiscrepancies(context.Background(), reconcile.DiscrepancyFilter{Status: status, Limit: 200})
	noErr(e.t, err)
	return page.Discrepancies
}

// summary is what a test compares of a discrepancy.
type summary struct {
	Kind           reconcile.DiscrepancyKind
	Ref, Invoice   string
	Currency       string
	Ledger, Stripe int64 // -1: none
}

func summarise(ds []reconcile.Discrepancy) []summary {
	out := make([]summary, 0, len(ds))
	amount := func(a *reconcile.Amount) int64 {
		if a == nil {
			return -1
		}
		return int64(*a)
	}
	for _, d := range ds {
		inv := ""
		if d.InvoiceID != nil {
			inv = *d.InvoiceID
		}
		out = append(out, summary{d.Kind, d.ProviderRef, inv, d.Currency, amount(d.LedgerAmount), amount(d.StripeAmount)})
	}
	slices.SortFunc(out, func(a, b summary) int {
		if a.Ref != b.Ref {
			if a.Ref < b.Ref {
				return -1
			}
			return 1
		}
		if a.Kind < b.Kind {
			return -1
		}
		if a.Kind > b.Kind {
			return 1
		}
		return 0
	})
	return out
}

var hourAgo = time.Now().Add(-time.Hour).Truncate(time.Second)

// TestCompareFindsEachKind plants one PaymentIntent per way the ledger and
// Stripe can differ, beside ones that agree, and checks that one full run
// finds exactly those differences with both figures.
func TestCompareFindsEachKind(t *testing.T) {
	t.Parallel()
	e := newCompareEnv(t)
	for _, id := range []string{"inv_ok", "inv_amount", "inv_refund", "inv_dispute", "inv_currency", "inv_gone", "inv_old", "inv_unpaid"} {
		e.invoice(id, "usd", 10000)
	}
	e.invoice("inv_eur", "eur", 10000)
	pay := func(pi, inv string, amount reconcile.Amount) { e.paid(pi, inv, "usd", amount) }
	pay("pi_ok", "inv_ok", 3000)
	pay("pi_amount", "inv_amount", 3000)
	pay("pi_refund", "inv_refund", 3000)
	pay("pi_dispute", "inv_dispute", 3000)
	pay("pi_currency", "inv_currency", 3000)
	pay("pi_gone", "inv_gone", 3000)
	pay("pi_old", "inv_old", 3000)
	pay("pi_unpaid", "inv_unpaid", 3000)
	_, err := e.s.ApplyRefund(context.Background(), "", reconcile.Refund{ProviderRef: "pi_ok", AmountRefunded: 500, Currency: "usd"})
	noErr(t, err)

	pi := func(id string, amount int64, mutate func(*stripefake.PaymentIntent)) stripefake.PaymentIntent {
		p := stripefake.PaymentIntent{ID: id, Amount: amount, Created: hourAgo, Charge: &stripefake.Charge{}}
		if mutate != nil {
			mutate(&p)
		}
		return p
	}
	e.fake.AddPaymentIntent(
		pi("pi_ok", 3000, func(p *stripefake.PaymentIntent) { p.Charge.Refunds = []stripefake.Refund{{Amount: 500}} }),
		pi("pi_amount", 2500, nil),
		pi("pi_refund", 3000, func(p *stripefake.PaymentIntent) { p.Charge.AmountRefunded = 1200 }),
		pi("pi_dispute", 3000, nil),
		pi("pi_currency", 3000, func(p *stripefake.PaymentIntent) { p.Currency = "eur" }),
		// Created before the window, succeeded (and recorded) inside it:
		// not listed, looked up, and agreeing.
		pi("pi_old", 3000, func(p *stripefake.PaymentIntent) { p.Created = time.Now().Add(-40 * 24 * time.Hour) }),
		pi("pi_unpaid", 3000, func(p *stripefake.PaymentIntent) { p.Status = "processing" }),
		// Succeeded, the ledger lacks them, and they name no invoice of ours.
		pi("pi_nameless", 4000, nil),
		pi("pi_stranger", 4100, func(p *stripefake.PaymentIntent) { p.Metadata = map[string]string{"invoice_id": "inv_unknown"} }),
		// Names an invoice in another currency.
		pi("pi_wrong_currency", 4200, func(p *stripefake.PaymentIntent) { p.Metadata = map[string]string{"invoice_id": "inv_eur"} }),
		// Not succeeded and unknown to the ledger: nothing to say.
		pi("pi_abandoned", 4300, func(p *stripefake.PaymentIntent) { p.Status = "requires_payment_method" }),
	)
	e.fake.AddDispute(stripefake.Dispute{ID: "dp_1", Amount: 3000, Charge: "ch_dispute", PaymentIntent: "pi_dispute", Created: hourAgo})

	_, st := e.run(true)
	want := []summary{
		{reconcile.AmountMismatch, "pi_amount", "inv_amount", "usd", 3000, 2500},
		{reconcile.CurrencyMismatch, "pi_currency", "inv_currency", "usd", 3000, 3000},
		{reconcile.DisputeMismatch, "pi_dispute", "inv_dispute", "usd", 0, 3000},
		{reconcile.MissingInStripe, "pi_gone", "inv_gone", "usd", 3000, -1},
		{reconcile.MissingInLedger, "pi_nameless", "", "usd", -1, 4000},
		{reconcile.RefundMismatch, "pi_refund", "inv_refund", "usd", 0, 1200},
		{reconcile.MissingInLedger, "pi_stranger", "", "usd", -1, 4100},
		{reconcile.AmountMismatch, "pi_unpaid", "inv_unpaid", "usd", 3000, 0},
		{reconcile.CurrencyMismatch, "pi_wrong_currency", "inv_eur", "usd", -1, 4200},
	}
	if got := summarise(e.discrepancies(reconcile.DiscrepancyOpen)); !slices.Equal(got, want) {
		t.Fatalf("discrepancies\n got %+v\nwant %+v", got, want)
	}
	if st.Listed != 10 || st.Compared != 10 || st.LookedUp != 2 || st.Found != 9 || st.Opened != 9 ||
		st.Closed != 0 || st.Pulled != 0 || st.Scope != "window" || st.Error != "" {
		t.Fatalf("comparison %+v", st)
	}
	for _, d := range e.discrepancies(reconcile.DiscrepancyOpen) {
		if d.Detail == "" || d.Status != reconcile.DiscrepancyOpen || d.Actor != nil || d.ResolvedAt != nil {
			t.Errorf("discrepancy %+v", d)
		}
	}
}

// TestComparePullsMissingPaymentsOnce: a succeeded PaymentIntent naming
// one of our invoices that the ledger lacks is stored as a pulled event,
// once however many runs see it, and the worker's processing of it pays the
// invoice once.
func TestComparePullsMissingPaymentsOnce(t *testing.T) {
	t.Parallel()
	e := newCompareEnv(t)
	ctx := context.Background()
	e.invoice("inv_pull", "usd", 5000)
	e.fake.AddPaymentIntent(stripefake.PaymentIntent{ID: "pi_missed", Amount: 5000, Created: hourAgo,
		Metadata: map[string]string{"invoice_id": "inv_pull"}, Charge: &stripefake.Charge{}})

	_, first := e.run(true)
	if first.Pulled != 1 || first.Enqueued != 1 || first.Found != 0 {
		t.Fatalf("first comparison %+v", first)
	}
	if got := e.relay.takeEnqueued(); !slices.Equal(got, []string{"evt_pull_pi_missed"}) {
		t.Fatalf("enqueued %v", got)
	}
	// The worker has not run yet: a second run stores nothing more and
	// finds no discrepancy.
	_, second := e.run(true)
	if second.Pulled != 0 || second.Found != 0 {
		t.Fatalf("second comparison %+v", second)
	}
	var events int
	noErr(t, e.db.QueryRow(ctx, `SELECT count(*) FROM events WHERE source = 'pull'`).Scan(&events))
	if events != 1 {
		t.Fatalf("%d pulled events, want 1", events)
	}

	process(t, e.s, "evt_pull_pi_missed")
	process(t, e.s, "evt_pull_pi_missed") // a second delivery of its task
	mustTotals(t, e.s, "inv_pull", totals{Paid: 5000, Balance: 0, State: reconcile.StatePaid})
	d := mustDetail(t)(e.s.GetInvoiceDetail(ctx, "inv_pull"))
	if len(d.Payments) != 1 || *d.Payments[0].ProviderRef != "pi_missed" {
		t.Fatalf("payments %+v", d.Payments)
	}
	_, third := e.run(true)
	if third.Pulled != 0 || third.Found != 0 || third.Compared != 1 {
		t.Fatalf("third comparison %+v", third)
	}
	if ds := e.discrepancies(reconcile.DiscrepancyOpen); len(ds) != 0 {
		t.Fatalf("discrepancies %+v", ds)
	}
}

// process runs the worker's processing of stored events, as their task
// would.
func process(t *testing.T, s *reconcile.Store, ids ...string) {
	t.Helper()
	client := worker.NewClient(testenv.Redis(t), s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	h := worker.NewHandlers(s, client, nil, time.Minute, zap.NewNop()).WithLivemode(false)
	payload, err := json.Marshal(worker.EventPayload{EventIDs: ids})
	noErr(t, err)
	noErr(t, h.ProcessEvent(context.Background(), asynq.NewTask(worker.TypeProcessEvent, payload)))
}

// TestDiscrepancyLifecycle: a difference found by many runs is one row;
// the first run that no longer finds it closes it; an operator resolves
// one with notes, and it stays resolved while its figures are unchanged.
func TestDiscrepancyLifecycle(t *testing.T) {
	t.Parallel()
	e := newCompareEnv(t)
	ctx := context.Background()
	e.invoice("inv_a", "usd", 9000)
	e.paid("pi_a", "inv_a", "usd", 3000)
	short := stripefake.PaymentIntent{ID: "pi_a", Amount: 2900, Created: hourAgo, Charge: &stripefake.Charge{}}
	e.fake.AddPaymentIntent(short)

	run1, st := e.run(true)
	open := e.discrepancies(reconcile.DiscrepancyOpen)
	if st.Opened != 1 || len(open) != 1 || open[0].LastSeenRun != run1 {
		t.Fatalf("first run: %+v, open %+v", st, open)
	}
	first := open[0]

	t.Run("the next run finds it again without a second row", func(t *testing.T) {
		run2, st := e.run(true)
		open := e.discrepancies(reconcile.DiscrepancyOpen)
		if st.Found != 1 || st.Opened != 0 || len(open) != 1 || open[0].ID != first.ID || open[0].LastSeenRun != run2 {
			t.Fatalf("second run: %+v, open %+v", st, open)
		}
		if !open[0].FoundAt.Equal(first.FoundAt) {
			t.Fatalf("found_at moved from %v to %v", first.FoundAt, open[0].FoundAt)
		}
	})

	t.Run("a run that no longer finds it closes it as the reconciler", func(t *testing.T) {
		short.Amount = 3000
		e.fake.AddPaymentIntent(short)
		_, st := e.run(true)
		if st.Closed != 1 || st.Found != 0 {
			t.Fatalf("comparison %+v", st)
		}
		closed, err := e.s.GetDiscrepancy(ctx, first.ID)
		noErr(t, err)
		if closed.Status != reconcile.DiscrepancyResolved || closed.Actor == nil || *closed.Actor != "reconciler" ||
			closed.ResolvedAt == nil || closed.ResolutionNotes == "" {
			t.Fatalf("closed %+v", closed)
		}
	})

	t.Run("an operator resolves one with notes, and it stays resolved while its figures hold", func(t *testing.T) {
		short.Amount = 2800
		e.fake.AddPaymentIntent(short)
		e.run(true)
		open := e.discrepancies(reconcile.DiscrepancyOpen)
		if len(open) != 1 || open[0].ID == first.ID {
			t.Fatalf("the difference came back as %+v", open)
		}
		d, err := e.s.ResolveDiscrepancy(ctx, open[0].ID, "Stripe fee taken at source; accepted", "alice")
		noErr(t, err)
		if d.Status != reconcile.DiscrepancyResolved || *d.Actor != "alice" || d.ResolutionNotes != "Stripe fee taken at source; accepted" {
			t.Fatalf("resolved %+v", d)
		}
		if _, err := e.s.ResolveDiscrepancy(ctx, d.ID, "again", "bob"); !isConflict(err) {
			t.Fatalf("resolving twice: %v", err)
		}
		_, st := e.run(true)
		if st.Found != 1 || st.Acknowledged != 1 || st.Opened != 0 || st.Closed != 0 || len(e.discrepancies(reconcile.DiscrepancyOpen)) != 0 {
			t.Fatalf("comparison after the operator's resolution %+v", st)
		}
		again, err := e.s.GetDiscrepancy(ctx, d.ID)
		noErr(t, err)
		if *again.Actor != "alice" {
			t.Fatalf("the run changed the operator's resolution: %+v", again)
		}
		// Other figures are another difference: a person has not seen them.
		short.Amount = 2700
		e.fake.AddPaymentIntent(short)
		_, st = e.run(true)
		if st.Opened != 1 {
			t.Fatalf("comparison with new figures %+v", st)
		}
	})

	t.Run("a run that did not cover the payment leaves its discrepancy open", func(t *testing.T) {
		// The payment and its PaymentIntent are older than an incremental
		// run's window.
		_, err := e.db.Exec(ctx, `UPDATE payments SET created_at = now() - interval '2 days' WHERE provider_ref = 'pi_a'`)
		noErr(t, err)
		short.Amount, short.Created = 3000, time.Now().Add(-2*24*time.Hour)
		e.fake.AddPaymentIntent(short)
		e.fake.AddPaymentIntent(stripefake.PaymentIntent{ID: "pi_new", Amount: 100, Created: time.Now().Add(-time.Minute),
			Status: "canceled"})
		e.run(true) // moves the cursor to pi_new, and closes pi_a's discrepancy: covered
		if open := e.discrepancies(reconcile.DiscrepancyOpen); len(open) != 0 {
			t.Fatalf("open %+v", open)
		}
		short.Amount = 2600
		e.fake.AddPaymentIntent(short)
		e.run(true)
		if len(e.discrepancies(reconcile.DiscrepancyOpen)) != 1 {
			t.Fatal("the full run did not find the difference")
		}
		short.Amount = 3000
		e.fake.AddPaymentIntent(short)
		_, st := e.run(false)
		if st.Scope != "since_cursor" || st.Listed != 1 || st.Closed != 0 || len(e.discrepancies(reconcile.DiscrepancyOpen)) != 1 {
			t.Fatalf("incremental comparison %+v", st)
		}
	})
}

func isConflict(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.KindConflict
}

// TestDiscrepancyNotification: opening a discrepancy writes its
// notification, with the discrepancy as its data, in the same transaction.
func TestDiscrepancyNotification(t *testing.T) {
	t.Parallel()
	e := newCompareEnv(t)
	ctx := context.Background()
	_, _, err := notify.NewStore(e.db).CreateEndpoint(ctx, "https://hooks.example.com/x", []string{"reconciliation.discrepancy"}, "")
	noErr(t, err)
	e.fake.AddPaymentIntent(stripefake.PaymentIntent{ID: "pi_unknown", Amount: 700, Created: hourAgo})
	e.run(true)
	e.run(true) // found again: no second notification

	rows, err := e.db.Query(ctx, `SELECT type, invoice_id, body FROM notifications`)
	noErr(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		var typ string
		var invoice *string
		var body []byte
		noErr(t, rows.Scan(&typ, &invoice, &body))
		var got struct {
			ID, Type string
			Data     struct {
				Discrepancy reconcile.Discrepancy `json:"discrepancy"`
			} `json:"data"`
		}
		noErr(t, json.Unmarshal(body, &got))
		d := got.Data.Discrepancy
		if typ != "reconciliation.discrepancy" || got.Type != typ || invoice != nil || d.Kind != reconcile.MissingInLedger ||
			d.ProviderRef != "pi_unknown" || d.StripeAmount == nil || *d.StripeAmount != 700 || d.ID == "" {
			t.Fatalf("notification %s %v %s", typ, invoice, body)
		}
	}
	noErr(t, rows.Err())
	if n != 1 {
		t.Fatalf("%d notifications, want 1", n)
	}
}

// TestCompareSkippedWithoutKey: no Stripe key, no comparison, and the run
// says why.
func TestCompareSkippedWithoutKey(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	runner := reconcile.NewRunner(s, &recordingRelay{store: s}, reconcile.RunnerConfig{RelayAfter: time.Minute})
	run, steps := runOnce(t, s, runner, true)
	if steps.StripeCompare == nil || steps.StripeCompare.Skipped != "no STRIPE_API_KEY" {
		t.Fatalf("steps %s", run.Steps)
	}
}
