package reconcile

import (
	"fmt"
	"unicode/utf8"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// maxProviderText bounds the ids an online payment or refund carries from
// the provider (a PaymentIntent, a Stripe invoice, the invoice id in its
// metadata). Stripe's are a few dozen characters.
const maxProviderText = 255

// check refuses an online payment the ledger can never store: no provider
// ref, no positive amount or currency, or an id PostgreSQL refuses in text
// (a NUL, invalid UTF-8) or longer than maxProviderText. Such a payment is
// refused (apperr.KindInvalid) before any SQL, so its event ends failed with the
// reason instead of being retried as if the database were down.
func (p OnlinePayment) check() error {
	if p.ProviderRef == "" || p.Amount <= 0 || !ValidCurrency(p.Currency) {
		return apperr.Errorf(apperr.KindInvalid, "invalid_payment", "online payment needs a provider ref, a positive amount and a currency")
	}
	return checkProviderText("invalid_payment", "online payment", map[string]string{
		"payment id": p.ProviderRef, "invoice id": p.InvoiceID, "Stripe invoice id": p.StripeInvoiceID,
	})
}

// check refuses a refund the ledger can never store, as OnlinePayment.check.
func (r Refund) check() error {
	if r.ProviderRef == "" || r.AmountRefunded < 0 || !ValidCurrency(r.Currency) {
		return apperr.Errorf(apperr.KindInvalid, "invalid_refund", "refund needs a provider ref, a non-negative amount and a currency")
	}
	return checkProviderText("invalid_refund", "refund", map[string]string{
		"payment id": r.ProviderRef, "invoice id": r.InvoiceID,
	})
}

// checkProviderText refuses the first field (by name, in a stable order) that
// is not text of at most maxProviderText characters without NUL. The value
// is quoted (a NUL shows as \x00), and cut short, so the reason stored with
// the event is itself text.
func checkProviderText(code, what string, fields map[string]string) error {
	for _, name := range []string{"payment id", "invoice id", "Stripe invoice id"} {
		v, ok := fields[name]
		if !ok || textcheck.Valid(v, maxProviderText) {
			continue
		}
		return apperr.Errorf(apperr.KindInvalid, code, "%s %s %s is not text of at most %d characters without NUL",
			what, name, quoteShort(v), maxProviderText)
	}
	return nil
}

// quoteShort quotes s, cut to its first 64 bytes (on a character boundary
// where it is valid UTF-8), for a message.
func quoteShort(s string) string {
	const keep = 64
	if len(s) <= keep {
		return fmt.Sprintf("%q", s)
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}
