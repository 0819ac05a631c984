package reconcile

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// WriteOff books the whole balance of a sent invoice as a bad debt. The
// invoice keeps its payments; payments received later recover the debt
// first. op.Key makes it idempotent.
func (s *Store) WriteOff(ctx context.Context, op Op, invoiceID, notes string) (Invoice, error) {
	if !textcheck.Valid(notes, textcheck.MaxNotes) {
		return Invoice{}, errInvalidNotes()
	}
	return s.change(ctx, invoiceID, op, outbox.WrittenOff, func(tx pgx.Tx, inv Invoice) (bool, *Payment, error) {
		if err := inv.CanWriteOff(); err != nil {
			return false, nil, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO write_offs (id, invoice_id, amount, notes, actor) VALUES ($1, $2, $3, $4, $5)`,
			ids.New("wo"), invoiceID, inv.Balance, notes, op.Actor); err != nil {
			return false, nil, fmt.Errorf("write off invoice %s: %w", invoiceID, err)
		}
		return true, nil, addHistory(ctx, tx, invoiceID, history{kind: HistoryWrittenOff, amount: amountPtr(inv.Balance),
			notes: notes, opKey: op.Key, actor: op.Actor})
	})
}

// Reopen reverses the write-off of a written-off invoice: what was written
// off is owed again. op.Key makes it idempotent.
func (s *Store) Reopen(ctx context.Context, op Op, invoiceID string) (Invoice, error) {
	return s.change(ctx, invoiceID, op, outbox.Reopened, func(tx pgx.Tx, inv Invoice) (bool, *Payment, error) {
		if err := inv.CanReopen(); err != nil {
			return false, nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE write_offs SET reversed_at = now(), reversed_by = $2
			WHERE invoice_id = $1 AND reversed_at IS NULL`, invoiceID, op.Actor); err != nil {
			return false, nil, fmt.Errorf("reopen invoice %s: %w", invoiceID, err)
		}
		return true, nil, addHistory(ctx, tx, invoiceID, history{kind: HistoryReopened, amount: amountPtr(inv.WrittenOffAmount),
			opKey: op.Key, actor: op.Actor})
	})
}
