package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

func invoicesList(s *session, args []string) error {
	f := newFlags("invoices list [--state S] [--client C] [--overdue] [--limit N] [--cursor C]",
		"Lists invoices, a page at a time; --cursor takes the next cursor a page printed.")
	state := f.String("state", "", "only invoices in this `state`: draft, open, partial, paid, written_off")
	clientName := f.String("client", "", "only invoices of this `client`")
	overdue := f.Bool("overdue", false, "only invoices sent, with a balance due, past their due date")
	limit := f.Int("limit", 0, "at most `N` invoices (the server's default when 0)")
	cursor := f.String("cursor", "", "the `cursor` of the next page")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	if *limit < 0 {
		return s.badUsage(f, "--limit must not be negative")
	}
	q := pageQuery(map[string]string{"state": *state, "client": *clientName, "cursor": *cursor}, *limit)
	if *overdue {
		q.Set("overdue", "true")
	}
	var page invoicePage
	raw, err := s.api.get(s.ctx, path("invoices"), q, &page)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	if len(page.Invoices) == 0 {
		fmt.Fprintln(s.stdout, "no invoices")
	} else {
		t := newTable(s.stdout, "ID", "NUMBER", "CLIENT", "STATE", "AMOUNT", "CREDITED", "PAID", "WRITTEN-OFF", "BALANCE")
		for _, inv := range page.Invoices {
			t.row(inv.ID, inv.Number, inv.Client, inv.State, money(inv.Amount, inv.Currency),
				FormatAmount(inv.CreditedAmount, inv.Currency),
				FormatAmount(inv.PaidAmount, inv.Currency), FormatAmount(inv.WrittenOffAmount, inv.Currency),
				FormatAmount(inv.Balance, inv.Currency))
		}
		t.flush()
	}
	if page.NextCursor != "" {
		fmt.Fprintf(s.stdout, "\nnext page: --cursor %s\n", page.NextCursor)
	}
	return nil
}

func invoicesShow(s *session, args []string) error {
	f := newFlags("invoices show ID", "Shows an invoice's figures, its live payments and credit notes, and its history.")
	pos, err := s.parse(f, args, "ID")
	if err != nil {
		return err
	}
	var d invoiceDetail
	raw, err := s.api.get(s.ctx, path("invoices", pos[0]), nil, &d)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	s.printInvoice(d.invoice)
	cur := d.Currency
	fmt.Fprintln(s.stdout, "\npayments:")
	if len(d.Payments) == 0 {
		fmt.Fprintln(s.stdout, "  none")
	} else {
		t := newTable(s.stdout, "ID", "AMOUNT", "REFUNDED", "DISPUTED", "DATE", "SOURCE", "METHOD", "REF", "NOTES")
		for _, p := range d.Payments {
			t.row(p.ID, FormatAmount(p.Amount, cur), FormatAmount(p.RefundedAmount, cur), FormatAmount(p.DisputedAmount, cur), p.PaidDate,
				p.Source, str(p.Method), str(p.ProviderRef), p.Notes)
		}
		t.flush()
	}
	fmt.Fprintln(s.stdout, "\ncredit notes:")
	if len(d.CreditNotes) == 0 {
		fmt.Fprintln(s.stdout, "  none")
	} else {
		t := newTable(s.stdout, "ID", "AMOUNT", "REASON", "BY", "ISSUED", "NOTES")
		for _, c := range d.CreditNotes {
			t.row(c.ID, FormatAmount(c.Amount, cur), c.Reason, c.Actor, c.CreatedAt, c.Notes)
		}
		t.flush()
	}
	fmt.Fprintln(s.stdout, "\nhistory:")
	t := newTable(s.stdout, "AT", "KIND", "AMOUNT", "BY", "PAYMENT", "NOTES")
	for _, h := range d.History {
		amount := ""
		if h.Amount != nil {
			amount = FormatAmount(*h.Amount, cur)
		}
		t.row(h.At, h.Kind, amount, h.Actor, str(h.PaymentID), h.Notes)
	}
	t.flush()
	return nil
}

// printInvoice shows an invoice's figures, one per line.
func (s *session) printInvoice(inv invoice) {
	t := newTable(s.stdout)
	t.row("id:", inv.ID)
	t.row("number:", inv.Number)
	t.row("client:", inv.Client)
	state := inv.State
	if inv.Overdue {
		state += " (overdue)"
	}
	t.row("state:", state)
	t.row("amount:", money(inv.Amount, inv.Currency))
	t.row("credited:", money(inv.CreditedAmount, inv.Currency))
	t.row("paid:", money(inv.PaidAmount, inv.Currency))
	if inv.RefundedAmount != 0 || inv.DisputedAmount != 0 {
		t.row("refunded:", money(inv.RefundedAmount, inv.Currency))
		t.row("disputed:", money(inv.DisputedAmount, inv.Currency))
	}
	t.row("written off:", money(inv.WrittenOffAmount, inv.Currency))
	t.row("balance:", money(inv.Balance, inv.Currency))
	for _, opt := range []struct {
		label string
		value *string
	}{
		{"issue date:", inv.IssueDate}, {"due date:", inv.DueDate}, {"sent at:", inv.SentAt},
		{"paid at:", inv.PaidAt}, {"written off at:", inv.WrittenOffAt},
		{"stripe invoice:", inv.StripeInvoiceID},
	} {
		if opt.value != nil && *opt.value != "" {
			t.row(opt.label, *opt.value)
		}
	}
	t.row("created at:", inv.CreatedAt)
	t.row("updated at:", inv.UpdatedAt)
	t.flush()
}

func invoicesCreate(s *session, args []string) error {
	f := newFlags("invoices create --number N --client C --currency CUR --amount A [--id ID] [--issue-date D] [--due-date D] [--stripe-invoice-id in_...]",
		"Creates a draft invoice. --amount is in major units of --currency: 125.00 usd, 500 jpy.")
	number := f.String("number", "", "the invoice `number` people see (required)")
	clientName := f.String("client", "", "the `client` billed (required)")
	currency := f.String("currency", "", "lower-case ISO `code` such as usd (required)")
	amount := f.String("amount", "", "the `amount` in major units, such as 125.00 (required)")
	id := f.String("id", "", "the invoice `id` (the server makes one when empty)")
	issue := f.String("issue-date", "", "issue `date` YYYY-MM-DD")
	due := f.String("due-date", "", "due `date` YYYY-MM-DD")
	stripeID := f.String("stripe-invoice-id", "", "the Stripe invoice `id` (in_...) whose invoice.paid pays this one")
	if _, err := s.parse(f, args); err != nil {
		return err
	}
	for _, req := range []struct{ name, value string }{
		{"number", *number}, {"client", *clientName}, {"currency", *currency}, {"amount", *amount},
	} {
		if req.value == "" {
			return s.badUsage(f, "--"+req.name+" is required")
		}
	}
	cur := strings.ToLower(*currency)
	minor, err := ParseAmount(*amount, cur)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if err := checkDate("issue-date", *issue); err != nil {
		return err
	}
	if err := checkDate("due-date", *due); err != nil {
		return err
	}
	body := map[string]any{"number": *number, "client": *clientName, "currency": cur, "amount": minor}
	for k, v := range map[string]string{"id": *id, "issue_date": *issue, "due_date": *due, "stripe_invoice_id": *stripeID} {
		if v != "" {
			body[k] = v
		}
	}
	var inv invoice
	raw, err := s.api.do(s.ctx, http.MethodPost, path("invoices"), nil, body, nil, &inv)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "created invoice %s\n", cell(inv.ID))
	s.printInvoice(inv)
	return nil
}

func invoicesSend(s *session, args []string) error {
	f := newFlags("invoices send ID", "Marks an invoice sent: a draft becomes open. Sending again changes nothing.")
	pos, err := s.parse(f, args, "ID")
	if err != nil {
		return err
	}
	var inv invoice
	raw, err := s.api.do(s.ctx, http.MethodPost, path("invoices", pos[0], "send"), nil, nil, nil, &inv)
	if err != nil {
		return err
	}
	if s.json {
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "invoice %s sent: %s, balance %s\n", cell(inv.ID), cell(inv.State), money(inv.Balance, inv.Currency))
	return nil
}

func invoicesDelete(s *session, args []string) error {
	f := newFlags("invoices delete ID",
		"Deletes an invoice that has no live payment, refund or write-off (write it off otherwise).")
	pos, err := s.parse(f, args, "ID")
	if err != nil {
		return err
	}
	if _, err := s.api.do(s.ctx, http.MethodDelete, path("invoices", pos[0]), nil, nil, nil, nil); err != nil {
		return err
	}
	if s.json {
		// The API answers 204 with no body; say what happened as JSON.
		raw, _ := json.Marshal(map[string]any{"id": pos[0], "deleted": true})
		writeJSON(s.stdout, raw)
		return nil
	}
	fmt.Fprintf(s.stdout, "deleted invoice %s\n", cell(pos[0]))
	return nil
}
