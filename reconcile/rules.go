package reconcile

import "github.com/payrecon/reconciler/internal/apperr"

// The rules below decide, from an invoice as it stands, whether an operator's
// change is allowed. The admin API asks them before queueing a job, and the
// ledger asks them again under the invoice's row lock when the job runs, so
// both answers come from one place.

// sent reports whether the invoice has been sent to its client.
func (inv Invoice) sent() bool { return inv.SentAt != nil }

// overdueOn reports whether, on day, the invoice is sent, has a balance due
// and is past its due date. overdueSQL is the same rule for listings.
func (inv Invoice) overdueOn(day Date) bool {
	return inv.sent() && inv.Balance > 0 && inv.DueDate != nil && inv.DueDate.Before(day.Time)
}

// overdueSQL is overdueOn for a row of invoices, on the day @today.
const overdueSQL = `(sent_at IS NOT NULL AND balance > 0 AND due_date < @today)`

// CanRecordManualPayment refuses a manual payment that the invoice cannot
// take. A manual payment may not make the invoice overpaid; on a written-off
// invoice it first recovers the bad debt, so the cap is what is still unpaid.
func (inv Invoice) CanRecordManualPayment(amount Amount) error {
	if amount <= 0 {
		return apperr.Errorf(apperr.KindInvalid, "invalid_amount", "amount must be a positive integer of minor units")
	}
	if !inv.sent() {
		return apperr.Errorf(apperr.KindConflict, "invoice_not_sent", "invoice %s is a draft: send it before recording a payment", inv.ID)
	}
	unpaid := inv.Amount - inv.PaidAmount
	if amount > unpaid {
		return apperr.Errorf(apperr.KindRefused, "overpayment", "payment of %d exceeds what is unpaid on invoice %s (%d)", amount, inv.ID, max(unpaid, 0))
	}
	return nil
}

// CanDeletePayment refuses deleting a payment of a written-off invoice: its
// write-off was computed from its payments, so it must be reopened first.
func (inv Invoice) CanDeletePayment() error {
	if inv.State == StateWrittenOff {
		return apperr.Errorf(apperr.KindConflict, "invoice_written_off", "invoice %s is written off: reopen it before deleting a payment", inv.ID)
	}
	return nil
}

// CanWriteOff allows a write-off of a sent invoice with a balance left.
func (inv Invoice) CanWriteOff() error {
	switch {
	case !inv.sent():
		return apperr.Errorf(apperr.KindConflict, "invoice_not_sent", "invoice %s is a draft: only a sent invoice can be written off", inv.ID)
	case inv.State == StateWrittenOff:
		return apperr.Errorf(apperr.KindConflict, "already_written_off", "invoice %s is already written off", inv.ID)
	case inv.Balance <= 0:
		return apperr.Errorf(apperr.KindConflict, "no_balance", "invoice %s has no balance to write off", inv.ID)
	}
	return nil
}

// CanReopen allows reversing the write-off of a written-off invoice.
func (inv Invoice) CanReopen() error {
	if inv.State != StateWrittenOff {
		return apperr.Errorf(apperr.KindConflict, "not_written_off", "invoice %s is %s, not written off", inv.ID, inv.State)
	}
	return nil
}

// CanDelete allows removing an invoice with no money on it.
func (inv Invoice) CanDelete(livePayments int) error {
	if livePayments > 0 || inv.WrittenOffAmount > 0 || inv.State == StateWrittenOff {
		return apperr.Errorf(apperr.KindConflict, "invoice_has_money", "invoice %s has payments or a write-off: write it off instead", inv.ID)
	}
	return nil
}
