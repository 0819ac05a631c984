package reconcile

import (
	"fmt"
	"strings"
)

// difference is one way the ledger and Stripe differ about a PaymentIntent,
// before it is recorded as a discrepancy.
type difference struct {
	kind      DiscrepancyKind
	ref       string // the PaymentIntent
	invoiceID string // the ledger's invoice, when it has one
	currency  string
	// ledger and stripe are the figures compared; nil for a side without a
	// payment.
	ledger, stripe *Amount
	detail         string
}

// compare holds the ledger's payment of a PaymentIntent to Stripe's record
// of it: that it succeeded, its currency, the money received, refunded and
// held by disputes. A payment in another currency is only that difference:
// its amounts are not comparable.
func compare(lp ledgerPayment, p ProviderPayment) []difference {
	diff := func(kind DiscrepancyKind, ledger, stripe Amount, detail string) difference {
		return difference{kind: kind, ref: p.PaymentIntent, invoiceID: lp.InvoiceID, currency: lp.Currency,
			ledger: amountPtr(ledger), stripe: amountPtr(stripe), detail: detail}
	}
	if p.Status != "succeeded" {
		return []difference{diff(AmountMismatch, lp.Amount, p.Amount, fmt.Sprintf(
			"the ledger recorded payment %s; Stripe shows the PaymentIntent %s, not succeeded", lp.PaymentID, p.Status))}
	}
	if lp.Currency != p.Currency {
		d := diff(CurrencyMismatch, lp.Amount, p.Amount, fmt.Sprintf(
			"the ledger recorded payment %s in %s; Stripe took it in %s", lp.PaymentID, upper(lp.Currency), upper(p.Currency)))
		return []difference{d}
	}
	var out []difference
	if lp.Amount != p.Amount {
		out = append(out, diff(AmountMismatch, lp.Amount, p.Amount, fmt.Sprintf(
			"the ledger recorded payment %s with %s received than Stripe", lp.PaymentID, moreOrLess(lp.Amount, p.Amount))))
	}
	if lp.Refunded != p.Refunded {
		out = append(out, diff(RefundMismatch, lp.Refunded, p.Refunded, fmt.Sprintf(
			"the ledger shows %s refunded of payment %s than Stripe", moreOrLess(lp.Refunded, p.Refunded), lp.PaymentID)))
	}
	if lp.Disputed != p.Disputed {
		out = append(out, diff(DisputeMismatch, lp.Disputed, p.Disputed, fmt.Sprintf(
			"the ledger shows %s of payment %s withdrawn by disputes than Stripe", moreOrLess(lp.Disputed, p.Disputed), lp.PaymentID)))
	}
	return out
}

// missingInLedger is a succeeded PaymentIntent the ledger has no payment of
// and cannot pull: it names no invoice of ours, or one the ledger lacks.
func missingInLedger(p ProviderPayment) difference {
	detail := "Stripe took this payment; it names no invoice (metadata.invoice_id) and the ledger has not recorded it"
	switch {
	case p.InvoiceID != "":
		detail = fmt.Sprintf("Stripe took this payment for invoice %s, which the ledger does not have", p.InvoiceID)
	case p.StripeInvoiceID != "":
		detail = fmt.Sprintf("Stripe took this payment for Stripe invoice %s, which no invoice of the ledger names", p.StripeInvoiceID)
	}
	return difference{kind: MissingInLedger, ref: p.PaymentIntent, currency: p.Currency, stripe: amountPtr(p.Amount), detail: detail}
}

func moreOrLess(ledger, stripe Amount) string {
	if ledger > stripe {
		return "more"
	}
	return "less"
}

func upper(currency string) string { return strings.ToUpper(currency) }
