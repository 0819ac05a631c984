package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/internal/testing/stripefake"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// The provider comparison's data set: payments 1..n, each a PaymentIntent
// in the fake Stripe and, mostly, a Stripe payment of its own invoice in the
// ledger, created over the last 25 days. Every thousand payments plant one
// of each difference, so the run has something to find in every batch.
const (
	plantAmount        = 1 // Stripe received 100 less than the ledger recorded
	plantRefund        = 2 // Stripe refunded 500 the ledger does not know of
	plantPull          = 3 // the ledger lacks a payment of its own invoice: pulled
	plantStranger      = 4 // Stripe's payment names an invoice the ledger lacks
	plantMissingStripe = 5 // the ledger's payment is not in Stripe: looked up
	plantDispute       = 6 // Stripe holds a chargeback the ledger does not know of
	plantRefundedBoth  = 7 // refunded 300 in both
)

// providerPayment is payment i of the data set.
type providerPayment struct {
	pi, invoice string
	amount      int64
	created     time.Time
	plant       int
}

// providerEpoch is when the data set's newest PaymentIntent was created.
var providerEpoch = time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)

func makeProviderPayment(i, n int) providerPayment {
	span := 25 * 24 * time.Hour
	return providerPayment{
		pi:      fmt.Sprintf("pi_prov_%07d", i),
		invoice: fmt.Sprintf("pinv_%07d", i),
		amount:  int64(5000 + (i%40)*100),
		created: providerEpoch.Add(-time.Duration(float64(span) * float64(i) / float64(n))),
		plant:   i % 1000,
	}
}

// expected is what a full comparison over n payments must find: the
// differences planted, and the payments pulled.
func expected(n int) (found, pulled int) {
	for i := 1; i <= n; i++ {
		switch i % 1000 {
		case plantAmount, plantRefund, plantStranger, plantMissingStripe, plantDispute:
			found++
		case plantPull:
			pulled++
		}
	}
	return found, pulled
}

// cmdSeedProvider empties the ledger and copies the data set's invoices and
// Stripe payments into it.
func cmdSeedProvider(ctx context.Context, args []string) error {
	fs := flags("seed-provider")
	n := fs.Int("payments", 100000, "Stripe payments of the data set")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, err := connectPool(ctx, 1)
	if err != nil {
		return err
	}
	defer pool.Close()
	start := time.Now()
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `TRUNCATE invoices, overpaid_invoices, payments, refunds, refund_totals, disputes, credit_notes,
			write_offs, movement_refs, invoice_history, events, jobs, notifications, deliveries, runs,
			discrepancies, provider_compare_seen`); err != nil {
			return fmt.Errorf("empty the ledger: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE provider_compare_cursor SET last_created = NULL, last_full_at = NULL`); err != nil {
			return err
		}
		i := 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"invoices"}, invoiceCopyColumns, pgx.CopyFromFunc(func() ([]any, error) {
			for i < *n {
				i++
				p := makeProviderPayment(i, *n)
				if p.plant == plantStranger {
					continue
				}
				paid, refunded, state := p.amount, int64(0), "paid"
				switch p.plant {
				case plantPull:
					paid, state = 0, "open"
				case plantRefundedBoth:
					paid, refunded, state = p.amount-300, 300, "partial"
				}
				var paidAt any
				if state == "paid" {
					paidAt = p.created
				}
				return []any{p.invoice, "P-" + p.invoice[5:], "provider-client", "usd", p.amount, paid, int64(0),
					p.amount - paid, state, p.created, p.created.AddDate(0, 0, 30), p.created, paidAt, nil, p.created, p.created,
					refunded}, nil
			}
			return nil, nil
		})); err != nil {
			return fmt.Errorf("copy invoices: %w", err)
		}
		i = 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"payments"}, paymentCopyColumns, pgx.CopyFromFunc(func() ([]any, error) {
			for i < *n {
				i++
				p := makeProviderPayment(i, *n)
				if p.plant == plantStranger || p.plant == plantPull {
					continue
				}
				refunded := int64(0)
				if p.plant == plantRefundedBoth {
					refunded = 300
				}
				at := p.created.Add(time.Minute)
				return []any{"pay_" + p.pi[3:], p.invoice, "stripe", p.amount, refunded, "usd", at.Truncate(24 * time.Hour),
					"card", "", p.pi, nil, at}, nil
			}
			return nil, nil
		})); err != nil {
			return fmt.Errorf("copy payments: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := noteOverpaid(ctx, pool); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) invoices, payments`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	progress("provider: seeded the ledger with %d Stripe payments in %v", *n, time.Since(start).Round(time.Millisecond))
	return nil
}

// fakeTB stands in for the testing.TB the fake Stripe reports to: in this
// process a misuse of the fake is fatal. The fake calls only the methods
// below; any other would panic on the nil interface embedded.
type fakeTB struct{ testing.TB }

func (fakeTB) Helper()                   {}
func (fakeTB) Cleanup(func())            {}
func (fakeTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// cmdFakeStripe serves the data set's PaymentIntents and disputes from the
// fake Stripe, in a process of its own (the comparison's peak memory is then
// its own), until it is stopped, its parent exits, or -max passes.
func cmdFakeStripe(ctx context.Context, args []string) error {
	fs := flags("fake-stripe")
	n := fs.Int("payments", 100000, "Stripe payments of the data set")
	urlFile := fs.String("url-file", "", "write the fake's base URL to this file once it serves (required)")
	maxLife := fs.Duration("max", 30*time.Minute, "stop after this long whatever happens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *urlFile == "" {
		return fmt.Errorf("-url-file is required")
	}
	start := time.Now()
	f := stripefake.New(fakeTB{})
	pis := make([]stripefake.PaymentIntent, 0, *n)
	var disputes []stripefake.Dispute
	for i := 1; i <= *n; i++ {
		p := makeProviderPayment(i, *n)
		if p.plant == plantMissingStripe {
			continue
		}
		pi := stripefake.PaymentIntent{ID: p.pi, Amount: p.amount, Created: p.created,
			Metadata: map[string]string{"invoice_id": p.invoice}, Charge: &stripefake.Charge{}}
		switch p.plant {
		case plantAmount:
			pi.AmountReceived = p.amount - 100
		case plantRefund:
			pi.Charge.Refunds = []stripefake.Refund{{Amount: 500}}
		case plantRefundedBoth:
			pi.Charge.Refunds = []stripefake.Refund{{Amount: 300}}
		case plantStranger:
			pi.Metadata["invoice_id"] = "pinv_unknown_" + p.pi[8:]
		case plantDispute:
			disputes = append(disputes, stripefake.Dispute{ID: "dp_" + p.pi[3:], Amount: p.amount, Charge: "ch_" + p.pi[3:],
				PaymentIntent: p.pi, Created: p.created.Add(time.Hour)})
		}
		pis = append(pis, pi)
	}
	f.AddPaymentIntent(pis...)
	f.AddDispute(disputes...)
	pis = nil
	if err := os.WriteFile(*urlFile, []byte(f.URL()), 0o600); err != nil {
		return err
	}
	progress("provider: the fake Stripe serves %d PaymentIntents at %s (ready in %v)", *n, f.URL(), time.Since(start).Round(time.Millisecond))
	parent := os.Getppid()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.After(*maxLife)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			return fmt.Errorf("stopped after %v", *maxLife)
		case <-tick.C:
			if os.Getppid() != parent { // the script that started it is gone
				return nil
			}
		}
	}
}

// cmdCompare runs one full reconciliation against the fake Stripe at
// -stripe-url, in this process alone, and reports the time its comparison
// step took and the process's peak resident memory. It fails unless the
// comparison found exactly the planted differences.
func cmdCompare(ctx context.Context, args []string) error {
	fs := flags("compare")
	n := fs.Int("payments", 100000, "Stripe payments of the data set (to check what the run found)")
	stripeURL := fs.String("stripe-url", "", "the fake Stripe's base URL (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stripeURL == "" {
		return fmt.Errorf("-stripe-url is required")
	}
	zcfg := zap.NewProductionConfig()
	zcfg.Level = zap.NewAtomicLevelAt(zapcore.WarnLevel)
	log, err := zcfg.Build()
	if err != nil {
		return err
	}
	db, err := connectPool(ctx, 4)
	if err != nil {
		return err
	}
	defer db.Close()
	store := reconcile.NewStore(db)
	runner := reconcile.NewRunner(store, noRelay{}, reconcile.RunnerConfig{RelayAfter: 2 * time.Minute, Log: log.Sugar(),
		Provider: worker.ProviderRecords(stripe.NewPaymentLister(stripefake.APIKey, *stripeURL))})
	base, _ := peakRSS()
	progress("provider_compare: a full run over %d Stripe payments...", *n)
	start := time.Now()
	id, runErr := runner.Run(ctx, true)
	took := time.Since(start)
	peak, err := peakRSS()
	if err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("run %s: %w", id, runErr)
	}
	run, err := store.GetRun(ctx, id)
	if err != nil {
		return err
	}
	var steps reconcile.RunSteps
	if err := json.Unmarshal(run.Steps, &steps); err != nil || steps.StripeCompare == nil {
		return fmt.Errorf("steps of run %s: %v (%s)", id, err, run.Steps)
	}
	c := steps.StripeCompare
	progress("provider_compare: run %v, comparison %.2fs: listed %d, compared %d, looked up %d, pulled %d, found %d, opened %d; "+
		"peak RSS %.1f MB (%.1f MB before the run)", took.Round(time.Millisecond), c.Seconds, c.Listed, c.Compared, c.LookedUp,
		c.Pulled, c.Found, c.Opened, float64(peak)/1e6, float64(base)/1e6)
	if found, pulled := expected(*n); c.Found != found || c.Pulled != pulled || c.Opened != found {
		return fmt.Errorf("the comparison found %d differences and pulled %d payments; the data set plants %d and %d",
			c.Found, c.Pulled, found, pulled)
	}
	emit("provider_compare_seconds", c.Seconds, "s")
	emit("provider_compare_peak_rss_mb", float64(peak)/(1<<20), "MB")
	return nil
}
