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
// first. Key makes it idempotent.
func (s *Store) WriteOff(ctx context.Context, key, invoiceID, notes string) (Invoice, error) {
	if !textcheck.Valid(notes, textcheck.MaxNotes) {
		return Invoice{}, errInvalidNotes()
	}
	return s.change(ctx, invoiceID, key, outbox.WrittenOff, func(tx pgx.Tx, inv Invoice) (bool, *Payment, error) {
		if err := inv.CanWriteOff(); err != nil {
			return false, nil, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO write_offs (id, invoice_id, amount, notes) VALUES ($1, $2, $3, $4)`,
			ids.New("wo"), invoiceID, inv.Balance, notes); err != nil {
			return false, nil, fmt.Errorf("write off invoice %s: %w", invoiceID, err)
		}
		return true, nil, addHistory(ctx, tx, invoiceID, history{kind: HistoryWrittenOff, amount: amountPtr(inv.Balance),
			notes: notes, opKey: key})
	})
}

// Reopen reverses the write-off of a written-off invoice: what was written
// off is owed again. Key makes it idempotent.
func (s *Store) Reopen(ctx context.Context, key, invoiceID string) (Invoice, error) {
	return s.change(ctx, invoiceID, key, outbox.Reopened, func(tx pgx.Tx, inv Invoice) (bool, *Payment, error) {
		if err := inv.CanReopen(); err != nil {
			return false, nil, err
		}
		if _, err := tx.Exec(ctx,
			`UPDATE write_offs SET reversed_at = now() WHERE invoice_id = $1 AND reversed_at IS NULL`, invoiceID); err != nil {
			return false, nil, fmt.Errorf("reopen invoice %s: %w", invoiceID, err)
		}
		return true, nil, addHistory(ctx, tx, invoiceID, history{kind: HistoryReopened, amount: amountPtr(inv.WrittenOffAmount),
			opKey: key})
	})
}
