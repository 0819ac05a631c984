package reconcile_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// money is what these tests compare of an invoice: its totals and the
// money its payments hold back.
type money struct {
	Paid, Refunded, Disputed, Balance reconcile.Amount
	State                             reconcile.State
	Payments                          int
}

func mustMoney(t *testing.T, s *reconcile.Store, id string, want money) reconcile.InvoiceDetail {
	t.Helper()
	d := mustDetail(t)(s.GetInvoiceDetail(context.Background(), id))
	got := money{d.PaidAmount, d.RefundedAmount, d.DisputedAmount, d.Balance, d.State, len(d.Payments)}
	if got != want {
		t.Fatalf("invoice %s: %+v, want %+v", id, got, want)
	}
	return d
}

// historyOf lists the kind and amount of an invoice's money history rows.
func historyOf(d reconcile.InvoiceDetail) string {
	var out []string
	for _, h := range d.History {
		if h.Amount == nil || h.Kind == reconcile.HistoryCreated {
			continue
		}
		out = append(out, fmt.Sprintf("%s %d", h.Kind, *h.Amount))
	}
	return strings.Join(out, ", ")
}

// subscribe adds an endpoint that wants every notification.
func subscribe(t *testing.T, db *pgxpool.Pool) {
	t.Helper()
	if _, err := db.Exec(context.Background(),
		`INSERT INTO endpoints (id, url, secret) VALUES ('ep_all', 'https://example.com/hook', 'whsec_x')`); err != nil {
		t.Fatal(err)
	}
}

// notifications lists the types of an invoice's notifications, in name
// order: those of one change share a time.
func notifications(t *testing.T, db *pgxpool.Pool, invoiceID string) string {
	t.Helper()
	var types []string
	rows, err := db.Query(context.Background(), `SELECT type FROM notifications WHERE invoice_id = $1 `, invoiceID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var typ string
		noErr(t, rows.Scan(&typ))
		types = append(types, typ)
	}
	noErr(t, rows.Err())
	slices.Sort(types)
	return strings.Join(types, " ")
}

func paid(ref, invoiceID string, amount reconcile.Amount, links ...string) reconcile.OnlinePayment {
	p := online(ref, invoiceID, amount)
	p.Links = links
	return p
}

func TestMoneyMovements(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	record := func(p reconcile.OnlinePayment) reconcile.EventResult {
		t.Helper()
		return mustResult(t)(s.RecordOnlinePayment(ctx, "", p))
	}

	t.Run("a payment first known by its Stripe invoice takes the PaymentIntent's id when an event links them", func(t *testing.T) {
		inv := newInvoice(t, s, 2000, true)
		record(paid("in_m1", inv.ID, 2000, "cs_m1"))
		record(paid("pi_m1", "", 2000, "in_m1", "ch_m1"))
		d := mustMoney(t, s, inv.ID, money{Paid: 2000, State: reconcile.StatePaid, Payments: 1})
		if ref := d.Payments[0].ProviderRef; ref == nil || *ref != "pi_m1" {
			t.Fatalf("provider_ref %v, want pi_m1", ref)
		}
		// Any id of the movement finds it again.
		if res := record(paid("ch_m1", "", 2000)); res.Status != reconcile.EventProcessed || res.InvoiceID != inv.ID {
			t.Fatalf("result %+v", res)
		}
		mustMoney(t, s, inv.ID, money{Paid: 2000, State: reconcile.StatePaid, Payments: 1})
	})

	t.Run("two payments of one movement known apart become one when an event links them", func(t *testing.T) {
		subscribe(t, db)
		defer db.Exec(ctx, `UPDATE endpoints SET deleted_at = now()`) //nolint:errcheck // the next subtests want no subscriber
		inv := newInvoice(t, s, 3000, true)
		record(paid("in_m2", inv.ID, 3000))
		record(paid("pi_m2", inv.ID, 3000, "ch_m2"))
		mustMoney(t, s, inv.ID, money{Paid: 6000, Balance: -3000, State: reconcile.StatePaid, Payments: 2})
		record(paid("pi_m2", "", 3000, "in_m2", "inpay_m2"))
		d := mustMoney(t, s, inv.ID, money{Paid: 3000, State: reconcile.StatePaid, Payments: 1})
		if want := "payment_recorded 3000, payment_recorded 3000, payment_deleted 3000"; historyOf(d) != want {
			t.Fatalf("history %q, want %q", historyOf(d), want)
		}
		var merged int
		noErr(t, db.QueryRow(ctx, `SELECT count(*) FROM payments WHERE invoice_id = $1 AND merged_into = $2 AND deleted_at IS NOT NULL`,
			inv.ID, d.Payments[0].ID).Scan(&merged))
		if merged != 1 {
			t.Fatalf("%d payments merged into %s, want 1", merged, d.Payments[0].ID)
		}
		if got := notifications(t, db, inv.ID); got != "invoice.paid invoice.payment_deleted invoice.payment_recorded invoice.payment_recorded" {
			t.Fatalf("notifications %q", got)
		}
	})

	t.Run("merged payments keep the refunds known under either id", func(t *testing.T) {
		inv := newInvoice(t, s, 5000, true)
		record(paid("in_m3", inv.ID, 5000))
		record(paid("pi_m3", inv.ID, 5000, "ch_m3"))
		mustResult(t)(s.ApplyRefunds(ctx, "", reconcile.RefundUpdate{Refs: []string{"ch_m3"}, Refunds: []reconcile.RefundObject{
			{ID: "re_m3", Ref: "ch_m3", Amount: 700, Currency: "usd", Status: reconcile.RefundSucceeded}}}))
		record(paid("in_m3", "", 5000, "pi_m3"))
		mustMoney(t, s, inv.ID, money{Paid: 4300, Refunded: 700, Balance: 700, State: reconcile.StatePartial, Payments: 1})
	})

	t.Run("a 2025-03-31 PaymentIntent naming no invoice finds it through its invoice payment", func(t *testing.T) {
		inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: "S", Client: "acme", Currency: "usd", Amount: 900, StripeInvoiceID: "in_m4"})
		noErr(t, err)
		if res := record(paid("pi_m4", "", 900, "ch_m4")); res.Status != reconcile.EventUnmatched {
			t.Fatalf("status %s before the link, want unmatched", res.Status)
		}
		mustResult(t)(s.RecordPaymentFailure(ctx, "", reconcile.PaymentFailure{Refs: []string{"inpay_m4", "in_m4", "pi_m4"}}))
		if res := record(paid("pi_m4", "", 900, "ch_m4")); res.Status != reconcile.EventProcessed || res.InvoiceID != inv.ID {
			t.Fatalf("result %+v after the link, want processed on %s", res, inv.ID)
		}
	})
	checkTruth(t, db)
}

func TestRefundLifecycle(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	subscribe(t, db)
	refunds := func(refs []string, total *reconcile.Amount, rs ...reconcile.RefundObject) reconcile.EventResult {
		t.Helper()
		u := reconcile.RefundUpdate{Refs: refs, Refunds: rs}
		if total != nil {
			u.Total = &reconcile.RefundTotal{Ref: refs[0], AmountRefunded: *total, Currency: "usd"}
		}
		return mustResult(t)(s.ApplyRefunds(ctx, "", u))
	}
	re := func(id, charge string, amount reconcile.Amount, status reconcile.RefundStatus) reconcile.RefundObject {
		return reconcile.RefundObject{ID: id, Ref: charge, Amount: amount, Currency: "usd", Status: status}
	}
	total := func(a reconcile.Amount) *reconcile.Amount { return &a }

	t.Run("pending and succeeded refunds count, failed and canceled ones give the money back", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_l1", inv.ID, 10000, "ch_l1")))
		refunds([]string{"ch_l1"}, nil, re("re_l1a", "ch_l1", 1000, reconcile.RefundPending), re("re_l1b", "ch_l1", 2000, reconcile.RefundSucceeded))
		mustMoney(t, s, inv.ID, money{Paid: 7000, Refunded: 3000, Balance: 3000, State: reconcile.StatePartial, Payments: 1})
		refunds([]string{"ch_l1"}, nil, re("re_l1b", "ch_l1", 2000, reconcile.RefundFailed))
		refunds([]string{"ch_l1"}, nil, re("re_l1a", "ch_l1", 1000, reconcile.RefundCanceled))
		d := mustMoney(t, s, inv.ID, money{Paid: 10000, State: reconcile.StatePaid, Payments: 1})
		if want := "payment_recorded 10000, refund_recorded 3000, refund_failed 2000, refund_failed 1000"; historyOf(d) != want {
			t.Fatalf("history %q, want %q", historyOf(d), want)
		}
		if got := notifications(t, db, inv.ID); got != "invoice.paid invoice.paid invoice.payment_recorded invoice.refunded invoice.refunded invoice.refunded" {
			t.Fatalf("notifications %q", got)
		}
	})
	t.Run("a status never goes back, whatever the order", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_l2", inv.ID, 10000, "ch_l2")))
		refunds([]string{"ch_l2"}, nil, re("re_l2", "ch_l2", 4000, reconcile.RefundFailed))
		refunds([]string{"ch_l2"}, nil, re("re_l2", "ch_l2", 4000, reconcile.RefundSucceeded))
		refunds([]string{"ch_l2"}, nil, re("re_l2", "ch_l2", 4000, reconcile.RefundPending))
		mustMoney(t, s, inv.ID, money{Paid: 10000, State: reconcile.StatePaid, Payments: 1})
	})
	t.Run("a cumulative total counts only for what the refunds known by id do not explain", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_l3", inv.ID, 10000, "ch_l3")))
		refunds([]string{"ch_l3", "pi_l3"}, total(300),
			re("re_l3a", "ch_l3", 100, reconcile.RefundFailed), re("re_l3b", "ch_l3", 50, reconcile.RefundSucceeded))
		// 50 succeeded by id, and 300 - (100 + 50) that no refund known by id explains.
		mustMoney(t, s, inv.ID, money{Paid: 9800, Refunded: 200, Balance: 200, State: reconcile.StatePartial, Payments: 1})
		refunds([]string{"ch_l3"}, nil, re("re_l3c", "ch_l3", 150, reconcile.RefundSucceeded))
		mustMoney(t, s, inv.ID, money{Paid: 9800, Refunded: 200, Balance: 200, State: reconcile.StatePartial, Payments: 1})
		refunds([]string{"ch_l3"}, total(250)) // an older, smaller total
		mustMoney(t, s, inv.ID, money{Paid: 9800, Refunded: 200, Balance: 200, State: reconcile.StatePartial, Payments: 1})
	})
	t.Run("a refund's failure arriving before the total it explains still gives the money back", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		if res := refunds([]string{"ch_l4"}, nil, re("re_l4", "ch_l4", 600, reconcile.RefundFailed)); res.Status != reconcile.EventUnmatched {
			t.Fatalf("status %s before the payment, want unmatched", res.Status)
		}
		refunds([]string{"ch_l4", "pi_l4"}, total(600))
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_l4", inv.ID, 10000, "ch_l4")))
		mustMoney(t, s, inv.ID, money{Paid: 10000, State: reconcile.StatePaid, Payments: 1})
	})
	t.Run("a refund in another currency needs review and never counts", func(t *testing.T) {
		inv := newInvoice(t, s, 10000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_l5", inv.ID, 10000, "ch_l5")))
		res := mustResult(t)(s.ApplyRefunds(ctx, "", reconcile.RefundUpdate{Refs: []string{"ch_l5"}, Refunds: []reconcile.RefundObject{
			{ID: "re_l5", Ref: "ch_l5", Amount: 10000, Currency: "eur", Status: reconcile.RefundSucceeded}}}))
		if res.Status != reconcile.EventNeedsReview || !strings.Contains(res.Reason, "eur") {
			t.Fatalf("result %+v, want needs_review naming eur", res)
		}
		refunds([]string{"ch_l5"}, total(100))
		mustMoney(t, s, inv.ID, money{Paid: 9900, Refunded: 100, Balance: 100, State: reconcile.StatePartial, Payments: 1})
	})
	checkTruth(t, db)
}

func TestDisputeLifecycle(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	subscribe(t, db)
	dispute := func(id, charge string, amount reconcile.Amount, status reconcile.DisputeStatus, reinstated bool) reconcile.EventResult {
		t.Helper()
		return mustResult(t)(s.ApplyDispute(ctx, "", reconcile.Dispute{ID: id, Ref: charge, Amount: amount, Currency: "usd",
			Status: status, Reinstated: reinstated}))
	}

	t.Run("a chargeback withdraws its money until it is won", func(t *testing.T) {
		inv := newInvoice(t, s, 5000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_d1", inv.ID, 5000, "ch_d1")))
		dispute("dp_d1", "ch_d1", 5000, reconcile.DisputeNeedsResponse, false)
		mustMoney(t, s, inv.ID, money{Disputed: 5000, Balance: 5000, State: reconcile.StateOpen, Payments: 1})
		dispute("dp_d1", "ch_d1", 5000, reconcile.DisputeUnderReview, false)
		dispute("dp_d1", "ch_d1", 5000, reconcile.DisputeWon, true)
		dispute("dp_d1", "ch_d1", 5000, reconcile.DisputeNeedsResponse, false) // late, and ranked below won
		d := mustMoney(t, s, inv.ID, money{Paid: 5000, State: reconcile.StatePaid, Payments: 1})
		if want := "payment_recorded 5000, dispute_opened 5000, dispute_won 5000"; historyOf(d) != want {
			t.Fatalf("history %q, want %q", historyOf(d), want)
		}
		if got := notifications(t, db, inv.ID); got != "invoice.dispute_closed invoice.disputed invoice.paid invoice.paid invoice.payment_recorded" {
			t.Fatalf("notifications %q", got)
		}
	})
	t.Run("a lost dispute keeps its money withdrawn", func(t *testing.T) {
		inv := newInvoice(t, s, 5000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_d2", inv.ID, 5000, "ch_d2")))
		dispute("dp_d2", "ch_d2", 2000, reconcile.DisputeNeedsResponse, false)
		dispute("dp_d2", "ch_d2", 2000, reconcile.DisputeLost, false)
		dispute("dp_d2", "ch_d2", 2000, reconcile.DisputeLost, false) // again
		d := mustMoney(t, s, inv.ID, money{Paid: 3000, Disputed: 2000, Balance: 2000, State: reconcile.StatePartial, Payments: 1})
		if want := "payment_recorded 5000, dispute_opened 2000, dispute_lost 2000"; historyOf(d) != want {
			t.Fatalf("history %q, want %q", historyOf(d), want)
		}
	})
	t.Run("an inquiry withdraws nothing", func(t *testing.T) {
		inv := newInvoice(t, s, 5000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_d3", inv.ID, 5000, "ch_d3")))
		dispute("du_d3", "ch_d3", 5000, reconcile.DisputeWarningNeedsResponse, false)
		dispute("du_d3", "ch_d3", 5000, reconcile.DisputeWarningClosed, false)
		mustMoney(t, s, inv.ID, money{Paid: 5000, State: reconcile.StatePaid, Payments: 1})
	})
	t.Run("a prevented dispute withdraws nothing, whatever came before", func(t *testing.T) {
		inv := newInvoice(t, s, 5000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_d6", inv.ID, 5000, "ch_d6")))
		dispute("dp_d6", "ch_d6", 5000, reconcile.DisputePrevented, false)
		dispute("dp_d6", "ch_d6", 5000, reconcile.DisputeNeedsResponse, false)
		mustMoney(t, s, inv.ID, money{Paid: 5000, State: reconcile.StatePaid, Payments: 1})
	})
	t.Run("a dispute lost before its payment arrives counts when it does", func(t *testing.T) {
		inv := newInvoice(t, s, 5000, true)
		if res := dispute("dp_d4", "ch_d4", 1500, reconcile.DisputeLost, false); res.Status != reconcile.EventUnmatched {
			t.Fatalf("status %s, want unmatched", res.Status)
		}
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_d4", inv.ID, 5000, "ch_d4")))
		d := mustMoney(t, s, inv.ID, money{Paid: 3500, Disputed: 1500, Balance: 1500, State: reconcile.StatePartial, Payments: 1})
		if want := "payment_recorded 5000, dispute_opened 1500, dispute_lost 1500"; historyOf(d) != want {
			t.Fatalf("history %q, want %q", historyOf(d), want)
		}
	})
	t.Run("a dispute in another currency needs review and never counts", func(t *testing.T) {
		inv := newInvoice(t, s, 5000, true)
		mustResult(t)(s.RecordOnlinePayment(ctx, "", paid("pi_d5", inv.ID, 5000, "ch_d5")))
		res := mustResult(t)(s.ApplyDispute(ctx, "", reconcile.Dispute{ID: "dp_d5", Ref: "ch_d5", Amount: 5000, Currency: "gbp",
			Status: reconcile.DisputeLost}))
		if res.Status != reconcile.EventNeedsReview {
			t.Fatalf("status %s, want needs_review", res.Status)
		}
		mustMoney(t, s, inv.ID, money{Paid: 5000, State: reconcile.StatePaid, Payments: 1})
	})
	t.Run("the summary counts disputes and refunds net of what came back", func(t *testing.T) {
		sum, err := s.Summary(ctx, today, today)
		noErr(t, err)
		if len(sum) != 1 || sum[0].Disputes != 2000+1500 || sum[0].Refunds != 0 {
			t.Fatalf("summary %+v, want disputes 3500 and no refunds", sum)
		}
	})
	checkTruth(t, db)
}

func TestPaymentFailures(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	subscribe(t, db)
	inv := newInvoice(t, s, 5000, true)
	_, err := db.Exec(ctx, `INSERT INTO events (id, type, payload) VALUES ('evt_f1', 'payment_intent.payment_failed', '{}')`)
	noErr(t, err)
	f := reconcile.PaymentFailure{Refs: []string{"pi_f1", "ch_f1"}, InvoiceID: inv.ID, Amount: 5000, Currency: "usd", Reason: "card declined"}

	t.Run("a failed payment writes history and tells subscribers, once, and moves no money", func(t *testing.T) {
		for range 2 {
			res := mustResult(t)(s.RecordPaymentFailure(ctx, "evt_f1", f))
			if res.Status != reconcile.EventProcessed || res.InvoiceID != inv.ID {
				t.Fatalf("result %+v", res)
			}
		}
		d := mustMoney(t, s, inv.ID, money{Balance: 5000, State: reconcile.StateOpen})
		if want := "payment_failed 5000"; historyOf(d) != want || !strings.Contains(d.History[len(d.History)-1].Notes, "card declined") {
			t.Fatalf("history %q (%+v), want %q with the reason", historyOf(d), d.History, want)
		}
		if got := notifications(t, db, inv.ID); got != "invoice.payment_failed" {
			t.Fatalf("notifications %q", got)
		}
	})
	t.Run("a failure naming no invoice of ours is unmatched", func(t *testing.T) {
		res := mustResult(t)(s.RecordPaymentFailure(ctx, "", reconcile.PaymentFailure{Refs: []string{"pi_f2"}, InvoiceID: "inv_nope"}))
		if res.Status != reconcile.EventUnmatched {
			t.Fatalf("status %s, want unmatched", res.Status)
		}
	})
}
