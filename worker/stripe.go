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
