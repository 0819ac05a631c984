package worker

import (
	"context"
	"time"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/reconcile"
)

// StripeEvents gives the reconciliation run the Stripe adapter's event
// listing in the ledger's own types: the adapter knows Stripe, the ledger
// knows neither, and this edge translates between them.
func StripeEvents(l *stripe.EventLister) reconcile.StripeEvents { return stripeEvents{l} }

type stripeEvents struct{ l *stripe.EventLister }

func (s stripeEvents) ListEvents(ctx context.Context, since time.Time, onlyFailed bool,
	each func(reconcile.ListedEvent) error) error {
	return s.l.ListEvents(ctx, since, onlyFailed, func(e stripe.ListedEvent) error {
		return each(reconcile.ListedEvent{ID: e.ID, Type: e.Type, Created: e.Created, Raw: e.Raw, Handled: e.Handled})
	})
}

// ProviderRecords gives the reconciliation run the Stripe adapter's listing
// of PaymentIntents and disputes in the ledger's own types.
func ProviderRecords(l *stripe.PaymentLister) reconcile.ProviderRecords { return providerRecords{l} }

type providerRecords struct{ l *stripe.PaymentLister }

func (p providerRecords) ListPayments(ctx context.Context, since time.Time, each func(reconcile.ProviderPayment) error) error {
	return p.l.ListPayments(ctx, since, func(r stripe.PaymentRecord) error {
		return each(reconcile.ProviderPayment{PaymentIntent: r.PaymentIntent, ChargeID: r.ChargeID, InvoiceID: r.InvoiceID,
			StripeInvoiceID: r.StripeInvoiceID, Currency: r.Currency, Amount: reconcile.Amount(r.Amount), Status: r.Status,
			Refunded: reconcile.Amount(r.Refunded), Disputed: reconcile.Amount(r.Disputed), Created: r.Created, Livemode: r.Livemode})
	})
}

func (p providerRecords) ListDisputes(ctx context.Context, since time.Time, each func(reconcile.ProviderDispute) error) error {
	return p.l.ListDisputes(ctx, since, func(r stripe.DisputeRecord) error {
		return each(reconcile.ProviderDispute{ID: r.ID, PaymentIntent: r.PaymentIntent, ChargeID: r.ChargeID, Currency: r.Currency,
			Amount: reconcile.Amount(r.Amount), Status: r.Status, Withdrawn: reconcile.Amount(r.Withdrawn), Created: r.Created})
	})
}
