package cli

import (
	"flag"
	"net/http"
	"strings"

	"github.com/payrecon/reconciler/reconcile"
)

// jobFlags are the flags of every command that queues a job on an invoice.
type jobFlags struct {
	key  *string
	wait *bool
}

func addJobFlags(f *flag.FlagSet) jobFlags {
	return jobFlags{
		key:  f.String("idempotency-key", "", "a `key` that makes a retry of this command return the same job instead of queueing another"),
		wait: f.Bool("wait", false, "wait until the job has finished (at most 30s), then show the invoice's balance"),
	}
}

func (j jobFlags) headers() map[string]string {
	if *j.key == "" {
		return nil
	}
	return map[string]string{"Idempotency-Key": *j.key}
}

func paymentsRecord(s *session, args []string) error {
	f := newFlags("payments record INVOICE --amount A [--date YYYY-MM-DD] [--method M] [--notes TEXT] [--idempotency-key K] [--wait]",
		"Records a manual payment on a sent invoice. --amount is in major units of the invoice's currency\n(12.50 for usd, 500 for jpy); a payment over the unpaid balance is refused, and --date is neither in\nthe future nor before 2000-01-01.")
	amount := f.String("amount", "", "the `amount` in major units, such as 12.50 (required)")
	date := f.String("date", "", "the `date` the money arrived, YYYY-MM-DD (default today)")
	method := f.String("method", "", "the payment `method`: "+strings.Join(reconcile.PaymentMethods(), ", "))
	notes := f.String("notes", "", "free `text` kept with the payment")
	jf := addJobFlags(f.FlagSet)
	pos, err := s.parse(f, args, "INVOICE")
	if err != nil {
		return err
	}
	if *amount == "" {
		return s.badUsage(f, "--amount is required")
	}
	if *method != "" && !reconcile.ValidMethod(*method) {
		return s.badUsage(f, "--method must be one of "+strings.Join(reconcile.PaymentMethods(), ", "))
	}
	if err := checkDate("date", *date); err != nil {
		return err
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
	body := map[string]any{"amount": minor}
	for k, v := range map[string]string{"paid_date": *date, "method": *method, "notes": *notes} {
		if v != "" {
			body[k] = v
		}
	}
	raw, err := s.api.do(s.ctx, http.MethodPost, path("invoices", pos[0], "payments"), nil, body, jf.headers(), nil)
	if err != nil {
		return inMajorUnits(err, inv, minor)
	}
	return s.queued(raw, pos[0], *jf.wait)
}

func paymentsDelete(s *session, args []string) error {
	f := newFlags("payments delete INVOICE PAYMENT [--idempotency-key K] [--wait]",
		"Deletes a manual payment; the invoice's balance grows back. A Stripe payment is refunded in Stripe\ninstead, and no payment is deleted while the invoice has a live write-off (reopen it first).")
	jf := addJobFlags(f.FlagSet)
	pos, err := s.parse(f, args, "INVOICE", "PAYMENT")
	if err != nil {
		return err
	}
	raw, err := s.api.do(s.ctx, http.MethodDelete, path("invoices", pos[0], "payments", pos[1]), nil, nil, jf.headers(), nil)
	if err != nil {
		return err
	}
	return s.queued(raw, pos[0], *jf.wait)
}

func writeOff(s *session, args []string) error {
	f := newFlags("write-off INVOICE [--notes TEXT] [--idempotency-key K] [--wait]",
		"Writes off what is unpaid on a sent invoice; reopen reverses it.")
	notes := f.String("notes", "", "why, kept with the write-off")
	jf := addJobFlags(f.FlagSet)
	pos, err := s.parse(f, args, "INVOICE")
	if err != nil {
		return err
	}
	body := map[string]any{}
	if *notes != "" {
		body["notes"] = *notes
	}
	raw, err := s.api.do(s.ctx, http.MethodPost, path("invoices", pos[0], "write-off"), nil, body, jf.headers(), nil)
	if err != nil {
		return err
	}
	return s.queued(raw, pos[0], *jf.wait)
}

func reopen(s *session, args []string) error {
	f := newFlags("reopen INVOICE [--idempotency-key K] [--wait]",
		"Reverses an invoice's write-off: it is open or partial again.")
	jf := addJobFlags(f.FlagSet)
	pos, err := s.parse(f, args, "INVOICE")
	if err != nil {
		return err
	}
	raw, err := s.api.do(s.ctx, http.MethodPost, path("invoices", pos[0], "reopen"), nil, nil, jf.headers(), nil)
	if err != nil {
		return err
	}
	return s.queued(raw, pos[0], *jf.wait)
}
