package cli

import (
	"net/http"
	"strings"

	"github.com/payrecon/reconciler/reconcile"
)

func creditNotesCreate(s *session, args []string) error {
	reasons := strings.Join(reconcile.CreditReasons(), ", ")
	f := newFlags("credit-notes create INVOICE --amount A --reason R [--notes TEXT] [--idempotency-key K] [--wait]",
		"Issues a credit note on a sent invoice: what the client owes falls by --amount, in major units of the\n"+
			"invoice's currency (12.50 for usd, 500 for jpy). More than the balance is refused; reverse undoes it.")
	amount := f.String("amount", "", "the `amount` in major units, such as 12.50 (required)")
	reason := f.String("reason", "", "why (required): "+reasons)
	notes := f.String("notes", "", "free `text` kept with the credit note")
	jf := addJobFlags(f.FlagSet)
	pos, err := s.parse(f, args, "INVOICE")
	if err != nil {
		return err
	}
	switch {
	case *amount == "":
		return s.badUsage(f, "--amount is required")
	case *reason == "":
		return s.badUsage(f, "--reason is required: one of "+reasons)
	case !reconcile.ValidCreditReason(*reason):
		return s.badUsage(f, "--reason must be one of "+reasons)
	}
	// The amount's decimals depend on the invoice's currency.
	var inv invoice
	if _, err := s.api.get(s.ctx, path("invoices", pos[0]), nil, &inv); err != nil {
		return err
	}
	minor, err := ParseAmount(*amount, inv.Currency)
	if err != nil {
		return usageErrorf("%v", err)
	}
	body := map[string]any{"amount": minor, "reason": *reason}
	if *notes != "" {
		body["notes"] = *notes
	}
	raw, err := s.api.do(s.ctx, http.MethodPost, path("invoices", pos[0], "credit-notes"), nil, body, jf.headers(), nil)
	if err != nil {
		return inMajorUnits(err, inv, minor)
	}
	return s.queued(raw, pos[0], *jf.wait)
}

func creditNotesReverse(s *session, args []string) error {
	f := newFlags("credit-notes reverse INVOICE CREDIT_NOTE [--idempotency-key K] [--wait]",
		"Reverses a credit note: what it conceded is due again. Not while the invoice has a live write-off\n(reopen it first).")
	jf := addJobFlags(f.FlagSet)
	pos, err := s.parse(f, args, "INVOICE", "CREDIT_NOTE")
	if err != nil {
		return err
	}
	raw, err := s.api.do(s.ctx, http.MethodDelete, path("invoices", pos[0], "credit-notes", pos[1]), nil, nil, jf.headers(), nil)
	if err != nil {
		return err
	}
	return s.queued(raw, pos[0], *jf.wait)
}
