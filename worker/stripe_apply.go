package worker

import (
	"context"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/reconcile"
)

// applyStripe translates a decoded Stripe event into the ledger's own
// types and applies it. The adapter knows Stripe's shapes, the ledger knows
// money; this edge is the only place that knows both. resolvedInvoice,
// when set, is the invoice an operator applied the event to by hand: a
// payment goes there, whatever the event names.
func applyStripe(ctx context.Context, store *reconcile.Store, eventID, resolvedInvoice string, d stripe.Event) (reconcile.EventResult, error) {
	switch d.Kind {
	case stripe.KindPayment:
		invoiceID, stripeInvoiceID := d.Payment.InvoiceID, d.Payment.StripeInvoiceID
		if resolvedInvoice != "" {
			invoiceID, stripeInvoiceID = resolvedInvoice, ""
		}
		return store.RecordOnlinePayment(ctx, eventID, reconcile.OnlinePayment{
			ProviderRef: d.Payment.ProviderRef, Links: d.Refs.IDs(),
			InvoiceID: invoiceID, StripeInvoiceID: stripeInvoiceID,
			Amount: reconcile.Amount(d.Payment.Amount), Currency: d.Payment.Currency, PaidDate: reconcile.DateOf(d.Created),
		})
	case stripe.KindRefund:
		return store.ApplyRefunds(ctx, eventID, refundUpdate(d))
	case stripe.KindDispute:
		x := d.Dispute
		return store.ApplyDispute(ctx, eventID, reconcile.Dispute{
			ID: x.ID, Ref: firstOf(x.Charge, x.PaymentIntent), Refs: d.Refs.IDs(),
			Amount: reconcile.Amount(x.Amount), Currency: x.Currency, Status: reconcile.DisputeStatus(x.Status),
			Withdrawn: x.Withdrawn, Reinstated: x.Reinstated, InvoiceID: x.InvoiceID,
		})
	case stripe.KindPaymentFailed:
		f := d.Failure
		return store.RecordPaymentFailure(ctx, eventID, reconcile.PaymentFailure{
			Refs: d.Refs.IDs(), InvoiceID: f.InvoiceID, StripeInvoiceID: f.StripeInvoiceID,
			Amount: reconcile.Amount(f.Amount), Currency: f.Currency, Reason: f.Reason,
		})
	default:
		reason := d.IgnoreReason
		if reason == "" {
			reason = "event type not handled"
		}
		res := reconcile.EventResult{Status: reconcile.EventIgnored, Reason: reason}
		return res, store.MarkEvent(ctx, eventID, res)
	}
}

// refundUpdate is what a refund event tells the ledger: the charge's
// cumulative total (of the charge, which Stripe totals refunds by) when the
// event carries one, and every refund it names by id.
func refundUpdate(d stripe.Event) reconcile.RefundUpdate {
	u := reconcile.RefundUpdate{Refs: d.Refs.IDs()}
	if r := d.Refund; r != nil {
		u.InvoiceID = r.InvoiceID
		u.Total = &reconcile.RefundTotal{Ref: firstOf(d.Refs.Charge, r.ProviderRef),
			AmountRefunded: reconcile.Amount(r.AmountRefunded), Currency: r.Currency}
	}
	for _, x := range d.Refunds {
		u.Refunds = append(u.Refunds, reconcile.RefundObject{
			ID: x.ID, Ref: firstOf(x.Charge, x.PaymentIntent), Amount: reconcile.Amount(x.Amount),
			Currency: x.Currency, Status: reconcile.RefundStatus(x.Status),
		})
	}
	return u
}

// firstOf is the first id set.
func firstOf(ids ...string) string {
	for _, id := range ids {
		if id != "" {
			return id
		}
	}
	return ""
}
