package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// CreditReasons lists why an operator may issue a credit note, in the order
// forms offer them.
func CreditReasons() []string { return []string{"adjustment", "refund", "discount", "other"} }

// ValidCreditReason reports whether r is a credit note's reason.
func ValidCreditReason(r string) bool { return slices.Contains(CreditReasons(), r) }

// ErrInvalidCreditReason is the refusal of a reason not in CreditReasons.
func ErrInvalidCreditReason() error {
	return apperr.Errorf(apperr.KindInvalid, "invalid_reason", "reason must be one of %s", strings.Join(CreditReasons(), ", "))
}

// CreditNote lowers what an invoice is due: a concession, a refund that
// settles the matter, a discount. A reversed one keeps its row but leaves
// every listing.
type CreditNote struct {
	ID        string    `json:"id"`
	InvoiceID string    `json:"invoice_id"`
	Amount    Amount    `json:"amount"`
	Reason    string    `json:"reason"`
	Notes     string    `json:"notes"`
	Actor     string    `json:"actor"`
	CreatedAt time.Time `json:"created_at"`
	// ReversedAt is set only on the credit note a reversal's notification
	// carries; listings hold live ones.
	ReversedAt *time.Time `json:"reversed_at,omitempty"`
}

const creditNoteColumns = `id, invoice_id, amount, reason, notes, actor, created_at, reversed_at`

func scanCreditNote(row pgx.Row) (CreditNote, error) {
	var c CreditNote
	err := row.Scan(&c.ID, &c.InvoiceID, &c.Amount, &c.Reason, &c.Notes, &c.Actor, &c.CreatedAt, &c.ReversedAt)
	c.CreatedAt = c.CreatedAt.UTC()
	if c.ReversedAt != nil {
		t := c.ReversedAt.UTC()
		c.ReversedAt = &t
	}
	return c, err
}

// NewCreditNote is a credit note an operator issues. Key makes it
// idempotent: the same key again issues nothing and returns the first credit
// note. Actor, when empty, is the actor of the job named by Key if that job
// records one, else "admin".
type NewCreditNote struct {
	Key       string
	InvoiceID string
	Amount    Amount
	Reason    string
	Notes     string
	Actor     string
}

// Validate names the first bad field.
func (n NewCreditNote) Validate() error {
	switch {
	case n.Key == "":
		return apperr.Errorf(apperr.KindInvalid, "invalid_key", "a credit note needs an idempotency key")
	case n.Amount <= 0:
		return apperr.Errorf(apperr.KindInvalid, "invalid_amount", "amount must be a positive integer of minor units")
	case !ValidCreditReason(n.Reason):
		return ErrInvalidCreditReason()
	case !textcheck.Valid(n.Notes, textcheck.MaxNotes):
		return errInvalidNotes()
	case n.Actor != "" && !textcheck.Valid(n.Actor, 200):
		return apperr.Errorf(apperr.KindInvalid, "invalid_actor", "actor must be 1 to 200 characters of text")
	}
	return nil
}

// insertCreditNote writes a credit note. Its actor is the one given, else
// the actor of the job that asks for it: read through to_jsonb so that this
// statement works whether or not the jobs table records actors yet (a
// column it lacks reads as NULL); else the bootstrap admin.
const insertCreditNote = `
	INSERT INTO credit_notes (id, invoice_id, amount, reason, notes, actor, op_key)
	VALUES (@id, @invoice_id, @amount, @reason, @notes,
		COALESCE(NULLIF(@actor, ''),
			(SELECT NULLIF(to_jsonb(j) ->> 'actor', '') FROM jobs j WHERE j.id = @op_key),
			'admin'),
		@op_key)
	RETURNING ` + creditNoteColumns

// IssueCreditNote lowers what a sent invoice is due by n.Amount, never past
// its balance, and returns the invoice and the credit note. An invoice with
// nothing left due after its payments and credit notes reads paid.
func (s *Store) IssueCreditNote(ctx context.Context, n NewCreditNote) (Invoice, CreditNote, error) {
	if err := n.Validate(); err != nil {
		return Invoice{}, CreditNote{}, err
	}
	var cn CreditNote
	inv, err := s.changeNoting(ctx, n.InvoiceID, n.Key, func(tx pgx.Tx, inv Invoice) (bool, notice, error) {
		if err := inv.CanIssueCreditNote(n.Amount); err != nil {
			return false, notice{}, err
		}
		var err error
		cn, err = scanCreditNote(tx.QueryRow(ctx, insertCreditNote, pgx.NamedArgs{
			"id": ids.New("cn"), "invoice_id": inv.ID, "amount": n.Amount, "reason": n.Reason,
			"notes": n.Notes, "actor": n.Actor, "op_key": n.Key,
		}))
		if err != nil {
			return false, notice{}, fmt.Errorf("insert credit note on invoice %s: %w", inv.ID, err)
		}
		return true, notice{typ: outbox.Credited, creditNote: &cn}, addHistory(ctx, tx, inv.ID, creditHistory(HistoryCreditNoted, cn, n.Key))
	})
	if err != nil {
		return Invoice{}, CreditNote{}, err
	}
	if cn.ID == "" { // a replay: return the credit note the key issued
		cn, err = scanCreditNote(s.db.QueryRow(ctx, `SELECT `+creditNoteColumns+` FROM credit_notes WHERE op_key = $1`, n.Key))
		if err != nil {
			return Invoice{}, CreditNote{}, fmt.Errorf("read credit note of key %s: %w", n.Key, err)
		}
	}
	return inv, cn, nil
}

// ReverseCreditNote reverses a live credit note: what it conceded is due
// again. Its row stays, marked reversed, and leaves every listing. Key makes
// it idempotent: a replay succeeds and changes nothing, where a new reversal
// of a reversed credit note is not found.
func (s *Store) ReverseCreditNote(ctx context.Context, key, invoiceID, creditNoteID string) (Invoice, error) {
	return s.changeNoting(ctx, invoiceID, key, func(tx pgx.Tx, inv Invoice) (bool, notice, error) {
		// The invoice's row lock serialises every change of its credit notes.
		cn, err := scanCreditNote(tx.QueryRow(ctx, `SELECT `+creditNoteColumns+` FROM credit_notes
			WHERE id = $1 AND invoice_id = $2 AND reversed_at IS NULL`, creditNoteID, invoiceID))
		if errors.Is(err, pgx.ErrNoRows) {
			return false, notice{}, creditNoteNotFound(invoiceID, creditNoteID)
		}
		if err != nil {
			return false, notice{}, fmt.Errorf("read credit note %s: %w", creditNoteID, err)
		}
		if err := inv.CanReverseCreditNote(); err != nil {
			return false, notice{}, err
		}
		cn, err = scanCreditNote(tx.QueryRow(ctx, `UPDATE credit_notes SET reversed_at = now() WHERE id = $1
			RETURNING `+creditNoteColumns, creditNoteID))
		if err != nil {
			return false, notice{}, fmt.Errorf("reverse credit note %s: %w", creditNoteID, err)
		}
		return true, notice{typ: outbox.Credited, creditNote: &cn}, addHistory(ctx, tx, invoiceID, creditHistory(HistoryCreditReversed, cn, key))
	})
}

// creditHistory is the history row of a credit note issued or reversed: its
// amount, its reason and notes, and its id in the details.
func creditHistory(kind HistoryKind, cn CreditNote, key string) history {
	notes := cn.Reason
	if cn.Notes != "" {
		notes += ": " + cn.Notes
	}
	return history{kind: kind, amount: amountPtr(cn.Amount), notes: notes, opKey: key,
		details: map[string]any{"credit_note_id": cn.ID, "reason": cn.Reason}}
}

// GetCreditNote reads a live credit note of an invoice.
func (s *Store) GetCreditNote(ctx context.Context, invoiceID, creditNoteID string) (CreditNote, error) {
	cn, err := scanCreditNote(s.db.QueryRow(ctx, `SELECT `+creditNoteColumns+` FROM credit_notes
		WHERE id = $1 AND invoice_id = $2 AND reversed_at IS NULL`, creditNoteID, invoiceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return CreditNote{}, creditNoteNotFound(invoiceID, creditNoteID)
	}
	if err != nil {
		return CreditNote{}, fmt.Errorf("read credit note %s: %w", creditNoteID, err)
	}
	return cn, nil
}

// liveCreditNotes lists an invoice's live credit notes, oldest first.
func liveCreditNotes(ctx context.Context, tx pgx.Tx, invoiceID string) ([]CreditNote, error) {
	rows, err := tx.Query(ctx, `SELECT `+creditNoteColumns+` FROM credit_notes
		WHERE invoice_id = $1 AND reversed_at IS NULL ORDER BY created_at, id`, invoiceID)
	if err != nil {
		return nil, fmt.Errorf("read credit notes of invoice %s: %w", invoiceID, err)
	}
	notes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CreditNote, error) { return scanCreditNote(r) })
	if err != nil {
		return nil, fmt.Errorf("read credit notes of invoice %s: %w", invoiceID, err)
	}
	return notes, nil
}

func creditNoteNotFound(invoiceID, creditNoteID string) error {
	return apperr.Errorf(apperr.KindNotFound, "credit_note_not_found", "invoice %s has no credit note %s", invoiceID, creditNoteID)
}
