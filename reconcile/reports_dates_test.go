package reconcile_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// TestReportsFindPaymentsByDate: both reports of a range of days read the
// payments of those days through the block-range index on paid_date
// (migration 016), deleted ones included for the movements CSV, and total
// them exactly. The connection may not scan a table whole, so a report
// whose condition that index cannot serve fails here rather than reading
// every payment ever recorded.
func TestReportsFindPaymentsByDate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u, err := url.Parse(testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-cenable_seqscan=off")
	u.RawQuery = q.Encode()
	db := testenv.PoolOn(t, u.String(), 1)
	s := reconcile.NewStore(db)
	// A year of payments in the order they were recorded: ten a day, every
	// other one Stripe's, every seventh deleted since.
	const perDay, days = 10, 365
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := db.Exec(ctx, `
		INSERT INTO invoices (id, number, client, currency, amount, balance, state, sent_at)
		VALUES ('inv_dates', 'D-1', 'acme', 'usd', 100000000, 100000000, 'open', now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `
		INSERT INTO payments (id, invoice_id, source, amount, currency, paid_date, provider_ref, deleted_at)
		SELECT 'pay_' || i, 'inv_dates', CASE WHEN i % 2 = 0 THEN 'stripe' ELSE 'manual' END, 100 + i, 'usd',
			$1::date + i / $2, CASE WHEN i % 2 = 0 THEN 'pi_' || i END, CASE WHEN i % 7 = 0 THEN now() END
		FROM generate_series(0, $3 - 1) i`, first, perDay, perDay*days); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `ANALYZE payments`); err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	var online, manual, listed reconcile.Amount
	for i := range perDay * days {
		if on := first.AddDate(0, 0, i/perDay); on.Before(from) || on.After(to) {
			continue
		}
		amount := reconcile.Amount(100 + i)
		listed += amount
		switch {
		case i%7 == 0: // deleted: not in the summary
		case i%2 == 0:
			online += amount
		default:
			manual += amount
		}
	}

	scans := func() int64 {
		t.Helper()
		var n int64
		if _, err := db.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'payments_paid_on'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	before := scans()
	summary, err := s.Summary(ctx, reconcile.DateOf(from), reconcile.DateOf(to))
	if err != nil {
		t.Fatal(err)
	}
	if len(summary) != 1 || summary[0].PaymentsOnline != online || summary[0].PaymentsManual != manual {
		t.Fatalf("summary %+v, want usd online %d manual %d", summary, online, manual)
	}
	if after := scans(); after == before {
		t.Fatal("the summary did not read payments through payments_paid_on")
	}

	before = scans()
	var got reconcile.Amount
	err = s.Movements(ctx, reconcile.DateOf(from), reconcile.DateOf(to), func(m reconcile.Movement) error {
		if m.Kind == reconcile.MovementPayment {
			got += m.Amount
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != listed {
		t.Fatalf("movements list %d of payments, want %d (deleted ones too)", got, listed)
	}
	if after := scans(); after == before {
		t.Fatal("the movements CSV did not read payments through payments_paid_on")
	}
}
