package reconcile

import "github.com/payrecon/reconciler/internal/apperr"

// The rules below decide, from an invoice as it stands, whether an operator's
// change is allowed. The admin API asks them before queueing a job, and the
// ledger asks them again under the invoice's row lock when the job runs, so
// both answers come from one place.

// sent reports whether the invoice has been sent to its client.
func (inv Invoice) sent() bool { return inv.SentAt != nil }

// CanRecordManualPayment refuses a manual payment that the invoice cannot
// take. A manual payment may not make the invoice overpaid; on a written-off
// invoice it first recovers the bad debt, so the cap is what is still unpaid
// after the payments and the credit notes (Unpaid).
func (inv Invoice) CanRecordManualPayment(amount Amount) error {
	if amount <= 0 {
		return apperr.Errorf(apperr.KindInvalid, "invalid_amount", "amount must be a positive integer of minor units")
	}
	if !inv.sent() {
		return apperr.Errorf(apperr.KindConflict, "invoice_not_sent", "invoice %s is a draft: send it before recording a payment", inv.ID)
	}
	unpaid := inv.Unpaid()
	if amount > unpaid {
		return apperr.Errorf(apperr.KindRefused, "overpayment", "payment of %d exceeds what is unpaid on invoice %s (%d)", amount, inv.ID, unpaid)
	}
	return nil
}

// Unpaid is what the invoice is still due before any write-off: its amount
// less its credit notes and its payments, never below zero. A manual
// payment may be up to it, recovering written-off debt first.
func (inv Invoice) Unpaid() Amount { return max(inv.Amount-inv.CreditedAmount-inv.PaidAmount, 0) }

// CanIssueCreditNote allows a credit note of amount on a sent invoice, up
// to what is still due: its balance. A credit note concedes what the client
// owes; it never makes an invoice overpaid, and on a written-off invoice the
// write-off already covers what is left (reopen it first).
func (inv Invoice) CanIssueCreditNote(amount Amount) error {
	switch {
	case amount <= 0:
		return apperr.Errorf(apperr.KindInvalid, "invalid_amount", "amount must be a positive integer of minor units")
	case !inv.sent():
		return apperr.Errorf(apperr.KindConflict, "invoice_not_sent", "invoice %s is a draft: send it before issuing a credit note", inv.ID)
	case amount > inv.Balance && inv.WriteOffLive && inv.Balance <= 0:
		return apperr.Errorf(apperr.KindRefused, "credit_note_exceeds_balance",
			"credit note of %d exceeds what is still due on invoice %s (0): its write-off covers the rest; reopen it first", amount, inv.ID)
	case amount > inv.Balance:
		return apperr.Errorf(apperr.KindRefused, "credit_note_exceeds_balance",
			"credit note of %d exceeds what is still due on invoice %s (%d)", amount, inv.ID, max(inv.Balance, 0))
	}
	return nil
}

// CanReverseCreditNote refuses reversing a credit note while the invoice has
// a live write-off: like deleting a payment, it would raise what the
// write-off was computed from. Reopen first.
func (inv Invoice) CanReverseCreditNote() error {
	if inv.WriteOffLive {
		return errWriteOffLive(inv, "reversing a credit note")
	}
	return nil
}

// CanDeletePayment refuses deleting a payment that Stripe took: an operator
// cannot undo money a provider holds, which comes back only as a refund in
// Stripe (it arrives as an event). It refuses deleting any payment while
// the invoice has a live write-off, whatever state it reads: the write-off
// was computed from the payments, and one that later payments recovered
// (the invoice reads paid) would come back as bad debt with no history row
// saying so. It must be reopened first.
func (inv Invoice) CanDeletePayment(p Payment) error {
	if p.Source == SourceStripe {
		return apperr.Errorf(apperr.KindConflict, "provider_payment",
			"payment %s was taken through Stripe: refund it in Stripe instead; the refund arrives as an event and lowers what is paid", p.ID)
	}
	return inv.CanDeletePayments()
}

// CanDeletePayments tells whether the invoice lets any of its manual
// payments be deleted: not while a write-off is live.
func (inv Invoice) CanDeletePayments() error {
	if inv.WriteOffLive {
		return errWriteOffLive(inv, "deleting a payment")
	}
	return nil
}

// errWriteOffLive refuses what must wait until the invoice's write-off is
// reversed.
func errWriteOffLive(inv Invoice, what string) error {
	return apperr.Errorf(apperr.KindConflict, "invoice_written_off",
		"invoice %s has a live write-off: reopen it before %s", inv.ID, what)
}

// CanWriteOff allows a write-off of a sent invoice with a balance left.
func (inv Invoice) CanWriteOff() error {
	switch {
	case !inv.sent():
		return apperr.Errorf(apperr.KindConflict, "invoice_not_sent", "invoice %s is a draft: only a sent invoice can be written off", inv.ID)
	case inv.WriteOffLive || inv.State == StateWrittenOff:
		return apperr.Errorf(apperr.KindConflict, "already_written_off", "invoice %s is already written off", inv.ID)
	case inv.Balance <= 0:
		return apperr.Errorf(apperr.KindConflict, "no_balance", "invoice %s has no balance to write off", inv.ID)
	}
	return nil
}

// CanReopen allows reversing a live write-off, whatever state the invoice
// reads (a write-off recovered in full by later payments reads paid, and is
// still reversed by reopening).
func (inv Invoice) CanReopen() error {
	if !inv.WriteOffLive {
		return apperr.Errorf(apperr.KindConflict, "not_written_off", "invoice %s is not written off: it has no live write-off to reverse (it is %s)", inv.ID, inv.State)
	}
	return nil
}

// CanDelete allows removing an invoice with no money on it: no live
// payment, credit note or write-off.
func (inv Invoice) CanDelete(livePayments int) error {
	if livePayments > 0 || inv.CreditedAmount > 0 || inv.WrittenOffAmount > 0 || inv.WriteOffLive || inv.State == StateWrittenOff {
		return apperr.Errorf(apperr.KindConflict, "invoice_has_money", "invoice %s has payments, credit notes or a write-off: write it off instead", inv.ID)
	}
	return nil
}
