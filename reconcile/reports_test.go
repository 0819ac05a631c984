package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

func mustDate(t *testing.T, s string) reconcile.Date {
	t.Helper()
	d, err := reconcile.ParseDate(s)
	noErr(t, err)
	return d
}

func TestAging(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	ctx := context.Background()
	asOf := mustDate(t, "2024-06-30")
	// invoice makes a sent invoice of amount in currency, due on due ("":
	// no due date).
	invoice := func(currency string, amount reconcile.Amount, due string) reconcile.Invoice {
		t.Helper()
		n := reconcile.NewInvoice{Actor: "tester", Number: "AG", Client: "acme", Currency: currency, Amount: amount}
		if due != "" {
			d := mustDate(t, due)
			n.DueDate = &d
		}
		inv, err := s.CreateInvoice(ctx, n)
		noErr(t, err)
		inv, err = s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID)
		noErr(t, err)
		return inv
	}
	invoice("usd", 10000, "2024-07-15") // not due yet: current
	invoice("usd", 5000, "2024-06-30")  // due today: current
	partly := invoice("usd", 3000, "2024-06-29")
	payManually(t, s, partly.ID, 1000) // 2000 open, 1 day late
	invoice("usd", 7000, "2024-05-31") // 30 days late
	invoice("usd", 4000, "2024-05-01") // 60 days late
	invoice("usd", 6000, "2024-04-01") // 90 days late
	invoice("usd", 8000, "2024-03-31") // 91 days late
	invoice("eur", 2500, "")           // no due date: current
	// Nothing open on these: a draft, a paid, a written-off, an overpaid
	// and a deleted invoice.
	_, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: "D", Client: "acme", Currency: "usd",
		Amount: 900, DueDate: &reconcile.Date{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}})
	noErr(t, err)
	paid := invoice("usd", 900, "2024-01-01")
	payManually(t, s, paid.ID, 900)
	writtenOff := invoice("usd", 900, "2024-01-01")
	_, err = s.WriteOff(ctx, reconcile.Op{Key: ids.New("key"), Actor: "tester"}, writtenOff.ID, "")
	noErr(t, err)
	overpaid := invoice("usd", 900, "2024-01-01")
	_, err = s.RecordOnlinePayment(ctx, "", online("pi_aging_over", overpaid.ID, 1200))
	noErr(t, err)
	deleted := invoice("usd", 900, "2024-01-01")
	noErr(t, s.DeleteInvoice(ctx, reconcile.Op{Actor: "tester"}, deleted.ID))

	t.Run("open balances fall into their buckets by days past due on as_of, per currency", func(t *testing.T) {
		got, err := s.Aging(ctx, asOf)
		noErr(t, err)
		want := []reconcile.AgingBuckets{
			{Currency: "eur", Current: 2500},
			{Currency: "usd", Current: 15000, Overdue1To30: 2000 + 7000, Overdue31To60: 4000, Overdue61To90: 6000, OverdueOver90: 8000},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("aging\n got %+v\nwant %+v", got, want)
		}
	})

	t.Run("a later as_of ages the same balances further", func(t *testing.T) {
		got, err := s.Aging(ctx, mustDate(t, "2024-07-31"))
		noErr(t, err)
		// 16 days late; 31 and 32; 61; 91, 121 and 122.
		want := reconcile.AgingBuckets{Currency: "usd", Overdue1To30: 10000, Overdue31To60: 5000 + 2000,
			Overdue61To90: 7000, OverdueOver90: 4000 + 6000 + 8000}
		if len(got) != 2 || got[1] != want {
			t.Fatalf("aging %+v, want usd %+v", got, want)
		}
	})
}

func TestMovements(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	ctx := context.Background()
	today := reconcile.DateOf(time.Now())

	inv := newInvoice(t, s, 10000, true)
	pay := func(actor string, amount reconcile.Amount, on string) reconcile.Payment {
		t.Helper()
		_, p, err := s.RecordManualPayment(ctx, reconcile.ManualPayment{Key: ids.New("key"), Actor: actor,
			InvoiceID: inv.ID, Amount: amount, PaidDate: mustDate(t, on)})
		noErr(t, err)
		return p
	}
	first := pay("alice", 4000, "2024-03-10")
	mistake := pay("bob", 1000, "2024-03-11")
	_, err := s.DeletePayment(ctx, reconcile.Op{Key: ids.New("key"), Actor: "carol"}, inv.ID, mistake.ID)
	noErr(t, err)
	_, err = s.WriteOff(ctx, reconcile.Op{Key: ids.New("key"), Actor: "dave"}, inv.ID, "")
	noErr(t, err)
	_, err = s.Reopen(ctx, reconcile.Op{Key: ids.New("key"), Actor: "erin"}, inv.ID)
	noErr(t, err)
	var wo string // the write-off's id, read from its row
	online := newInvoice(t, s, 5000, true)
	_, err = s.RecordOnlinePayment(ctx, "", reconcile.OnlinePayment{ProviderRef: "pi_mv", InvoiceID: online.ID,
		Amount: 5000, Currency: "usd", PaidDate: today})
	noErr(t, err)
	_, err = s.ApplyRefund(ctx, "", reconcile.Refund{ProviderRef: "pi_mv", AmountRefunded: 1500, Currency: "usd"})
	noErr(t, err)

	collect := func(t *testing.T, from, to reconcile.Date) []string {
		t.Helper()
		var rows []string
		err := s.Movements(ctx, from, to, func(m reconcile.Movement) error {
			if m.Kind == reconcile.MovementWriteOff {
				wo = m.Reference
			}
			rows = append(rows, fmt.Sprintf("%s %s %s %s %d %s %s %s", m.Date, m.InvoiceID, m.Currency, m.Kind, m.Amount,
				m.Source, m.Reference, m.Actor))
			return nil
		})
		noErr(t, err)
		return rows
	}

	t.Run("every movement in the range is a row, signed, in date order, with its actor", func(t *testing.T) {
		got := collect(t, mustDate(t, "2024-01-01"), today)
		d := today.String()
		want := []string{
			"2024-03-10 " + inv.ID + " usd payment 4000 manual " + first.ID + " alice",
			"2024-03-11 " + inv.ID + " usd payment 1000 manual " + mistake.ID + " bob",
			d + " " + inv.ID + " usd payment_deleted -1000 manual " + mistake.ID + " carol",
			d + " " + inv.ID + " usd write_off 6000 manual " + wo + " dave",
			d + " " + inv.ID + " usd write_off_reversed -6000 manual " + wo + " erin",
			d + " " + online.ID + " usd payment 5000 stripe pi_mv stripe",
			d + " " + online.ID + " usd refund -1500 stripe pi_mv stripe",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("movements\n got %q\nwant %q", got, want)
		}
	})

	t.Run("a range of one day holds only that day's movements", func(t *testing.T) {
		day := mustDate(t, "2024-03-11")
		want := []string{"2024-03-11 " + inv.ID + " usd payment 1000 manual " + mistake.ID + " bob"}
		if got := collect(t, day, day); !slices.Equal(got, want) {
			t.Fatalf("movements %q, want %q", got, want)
		}
	})

	t.Run("the callback's error stops the walk and is returned", func(t *testing.T) {
		stop := errors.New("enough")
		n := 0
		err := s.Movements(ctx, mustDate(t, "2024-01-01"), today, func(reconcile.Movement) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("err %v after %d rows, want %v after 1", err, n, stop)
		}
	})
}

func TestOverdue(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	ctx := context.Background()
	yesterday := reconcile.DateOf(time.Now().AddDate(0, 0, -1))
	tomorrow := reconcile.DateOf(time.Now().AddDate(0, 0, 1))
	withDue := func(number string, due reconcile.Date, sent bool) reconcile.Invoice {
		t.Helper()
		inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: number, Client: "Ovid & Co",
			Currency: "usd", Amount: 1000, DueDate: &due})
		noErr(t, err)
		if sent {
			inv, err = s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID)
			noErr(t, err)
		}
		return inv
	}
	late := withDue("LATE-1", yesterday, true)
	notYet := withDue("SOON-1", tomorrow, true)
	draft := withDue("DRAFT-1", yesterday, false)
	paid := withDue("PAID-1", yesterday, true)
	payManually(t, s, paid.ID, 1000)

	t.Run("an invoice is overdue when sent, with a balance, past its due date", func(t *testing.T) {
		for _, c := range []struct {
			inv  reconcile.Invoice
			want bool
		}{{late, true}, {notYet, false}, {draft, false}, {paid, false}} {
			got, err := s.GetInvoice(ctx, c.inv.ID)
			noErr(t, err)
			if got.Overdue != c.want {
				t.Errorf("%s: overdue %v, want %v", got.Number, got.Overdue, c.want)
			}
		}
	})

	t.Run("the overdue filter lists only those, and totals them per currency", func(t *testing.T) {
		page, err := s.ListInvoices(ctx, reconcile.InvoiceFilter{Overdue: true})
		noErr(t, err)
		if len(page.Invoices) != 1 || page.Invoices[0].ID != late.ID {
			t.Fatalf("overdue invoices %+v", page.Invoices)
		}
		totals, err := s.InvoiceTotals(ctx, reconcile.InvoiceFilter{Overdue: true})
		noErr(t, err)
		if want := []reconcile.CurrencyTotals{{Currency: "usd", Count: 1, Amount: 1000, Balance: 1000}}; !slices.Equal(totals, want) {
			t.Fatalf("totals %+v, want %+v", totals, want)
		}
	})

	t.Run("search finds an invoice by a part of its number or client, any case, wildcards taken as text", func(t *testing.T) {
		for q, want := range map[string]int{"late": 1, "ovid &": 4, "-1": 4, "%": 0, "_": 0, "nobody": 0} {
			page, err := s.ListInvoices(ctx, reconcile.InvoiceFilter{Search: q})
			noErr(t, err)
			if len(page.Invoices) != want {
				t.Errorf("search %q: %d invoices, want %d", q, len(page.Invoices), want)
			}
		}
	})
}
