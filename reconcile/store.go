package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/outbox"
)

// Store is the ledger's PostgreSQL store: every change of money, and the
// inbox and job records that lead to one, go through it.
type Store struct {
	db *pgxpool.Pool
	// group, when set, binds the store to a group commit (see Group).
	group *group
}

// NewStore wraps a connection pool.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Ping reports whether PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

const invoiceColumns = `id, number, client, currency, amount, credited_amount, paid_amount, written_off_amount, balance, state,
	issue_date, due_date, sent_at, paid_at, written_off_at, stripe_invoice_id, created_at, updated_at,
	refunded_amount, disputed_amount`

// scanInvoice reads the columns of invoiceColumns.
func scanInvoice(row pgx.Row) (Invoice, error) {
	var inv Invoice
	var issue, due *time.Time
	err := row.Scan(&inv.ID, &inv.Number, &inv.Client, &inv.Currency, &inv.Amount, &inv.CreditedAmount, &inv.PaidAmount,
		&inv.WrittenOffAmount, &inv.Balance, &inv.State, &issue, &due, &inv.SentAt, &inv.PaidAt,
		&inv.WrittenOffAt, &inv.StripeInvoiceID, &inv.CreatedAt, &inv.UpdatedAt, &inv.RefundedAmount, &inv.DisputedAmount)
	if err != nil {
		return Invoice{}, err
	}
	inv.IssueDate, inv.DueDate = datePtr(issue), datePtr(due)
	inv.CreatedAt, inv.UpdatedAt = inv.CreatedAt.UTC(), inv.UpdatedAt.UTC()
	inv.Overdue = inv.overdueOn(DateOf(time.Now()))
	for _, t := range []**time.Time{&inv.SentAt, &inv.PaidAt, &inv.WrittenOffAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return inv, nil
}

func invoiceNotFound(id string) error {
	return apperr.Errorf(apperr.KindNotFound, "invoice_not_found", "no invoice %s", id)
}

// lockInvoice reads a live invoice and holds its row lock until the
// transaction ends: every change of an invoice is serialised here.
func lockInvoice(ctx context.Context, tx pgx.Tx, id string) (Invoice, error) {
	return scanLocked(tx.QueryRow(ctx, lockInvoiceSQL, id), id)
}

const lockInvoiceSQL = `SELECT ` + invoiceColumns + ` FROM invoices WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`

// writeOffLiveSQL says whether an invoice has a write-off not reversed. The
// rules need it beside the totals: an invoice whose write-off a later
// payment recovered in full reads paid, yet its write-off is live. A change
// reads it in a statement of its own after taking the row lock, so that it
// sees a write-off committed by the change it waited for.
const writeOffLiveSQL = `SELECT EXISTS (SELECT 1 FROM write_offs WHERE invoice_id = $1 AND reversed_at IS NULL)`

// ruledInvoiceSQL reads a live invoice with what the rules ask of it, from
// one snapshot (scanRuled reads it).
const ruledInvoiceSQL = ruledInvoicesOf + `id = $1`

// ruledInvoicesSQL is ruledInvoiceSQL for the ids of $1.
const ruledInvoicesSQL = ruledInvoicesOf + `id = ANY ($1)`

// ruledInvoicesOf is the read of ruledInvoiceSQL; the statements that use
// it end its WHERE clause.
const ruledInvoicesOf = `SELECT ` + invoiceColumns + `,
	EXISTS (SELECT 1 FROM write_offs w WHERE w.invoice_id = invoices.id AND w.reversed_at IS NULL)
	FROM invoices WHERE deleted_at IS NULL AND `

// scanRuled reads the row of ruledInvoiceSQL: an invoice with WriteOffLive
// filled in.
func scanRuled(row pgx.Row) (Invoice, error) {
	var live bool
	inv, err := scanInvoice(rowWith{row, []any{&live}})
	inv.WriteOffLive = live
	return inv, err
}

// scanLocked reads the row of lockInvoiceSQL.
func scanLocked(row pgx.Row, id string) (Invoice, error) {
	inv, err := scanInvoice(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Invoice{}, invoiceNotFound(id)
	}
	if err != nil {
		return Invoice{}, fmt.Errorf("lock invoice %s: %w", id, err)
	}
	return inv, nil
}

// recompute sets the invoice's cached totals and state from its rows, through
// the invoice_truth view that reconciliation checks against.
func recompute(ctx context.Context, tx pgx.Tx, id string) (Invoice, error) {
	inv, err := scanInvoice(tx.QueryRow(ctx, recomputeSQL, id))
	if err != nil {
		return Invoice{}, fmt.Errorf("recompute invoice %s: %w", id, err)
	}
	return inv, nil
}

var recomputeSQL = `WITH changed AS (` + recomputeSet + `i.id = $1
	RETURNING ` + invoiceColumnsOfI + `)` + overpaidSync + `
	SELECT ` + invoiceColumns + ` FROM changed`

// recomputeManySQL recomputes the invoices of the ids $1 (see recompute).
const recomputeManySQL = `WITH changed AS (` + recomputeSet + `i.id = ANY ($1)
	RETURNING i.id, i.balance)` + overpaidSync + `
	SELECT count(*) FROM changed`

// overpaidSync keeps overpaid_invoices to the recomputed invoices (the
// common table expression changed) whose balance is below zero; a
// recompute that changes nothing there costs an index probe.
const overpaidSync = `,
	overpaid AS (
		INSERT INTO overpaid_invoices (invoice_id) SELECT id FROM changed WHERE balance < 0
		ON CONFLICT DO NOTHING),
	settled AS (
		DELETE FROM overpaid_invoices o USING changed c WHERE o.invoice_id = c.id AND c.balance >= 0)`

// recomputeSet sets invoices' cached totals and state from their rows; the
// statements that use it end its WHERE clause.
const recomputeSet = `
	UPDATE invoices i SET
		credited_amount = t.credited_amount,
		paid_amount = t.paid_amount,
		refunded_amount = t.refunded_amount,
		disputed_amount = t.disputed_amount,
		written_off_amount = t.written_off_amount,
		balance = t.balance,
		state = t.state,
		paid_at = CASE WHEN t.state = 'paid' THEN COALESCE(i.paid_at, now()) END,
		written_off_at = CASE WHEN t.state = 'written_off' THEN t.written_off_at END,
		updated_at = now()
	FROM invoice_truth t
	WHERE t.id = i.id AND `

// rowWith scans a row whose columns are a known set followed by extra ones,
// so one scan function serves queries that return a little more.
type rowWith struct {
	pgx.Row
	extra []any
}

func (r rowWith) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

// invoiceColumnsOfI is invoiceColumns qualified by the alias i, for
// statements that join invoices to a view with the same column names. It
// is worked out once: recompute runs in every ledger transaction.
var invoiceColumnsOfI = prefixed("i.", invoiceColumns)

// prefixed qualifies each column of a list with a table alias.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// history is one row of invoice_history to write.
type history struct {
	kind      HistoryKind
	amount    *Amount
	paymentID string
	notes     string
	details   map[string]any
	opKey     string
	// actor is who made the change: an operator's name, ActorStripe or
	// ActorReconciler. The column refuses an empty one.
	actor string
}

func addHistory(ctx context.Context, tx pgx.Tx, invoiceID string, h history) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO invoice_history (invoice_id, kind, amount, payment_id, notes, details, op_key, actor)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, NULLIF($7, ''), $8)`,
		invoiceID, h.kind, h.amount, h.paymentID, h.notes, h.details, h.opKey, h.actor)
	if err != nil {
		return fmt.Errorf("write %s history of invoice %s: %w", h.kind, invoiceID, err)
	}
	return nil
}

func amountPtr(a Amount) *Amount { return &a }

// inTx runs fn in one transaction, committing when it returns nil. A store
// bound to a group commit runs fn in the group's transaction, which the
// group commits; a planning store does not run it.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	switch {
	case s.planning():
		return nil
	case s.group != nil:
		return fn(s.group.tx)
	}
	return pgx.BeginFunc(ctx, s.db, fn)
}

// exec runs a statement in the group's transaction when s is bound to one
// (see Group), else on its own.
func (s *Store) exec(ctx context.Context, sql string, args ...any) error {
	if s.group != nil && s.group.tx != nil {
		_, err := s.group.tx.Exec(ctx, sql, args...)
		return err
	}
	_, err := s.db.Exec(ctx, sql, args...)
	return err
}

// change runs one keyed change of an invoice: lock the row, skip a replay of
// the same key, apply, recompute, and notify subscribers of typ (when set)
// with the payment apply names. apply reports whether it changed anything.
//
// op.Key is the id of the operator's job that asks for the change: that job
// is marked succeeded in the change's own transaction, so a job reads
// succeeded exactly when its change has committed (a key that names no job
// marks nothing). op.Actor must name who asks; apply writes it in its
// history row.
func (s *Store) change(ctx context.Context, invoiceID string, op Op, typ outbox.Type,
	apply func(tx pgx.Tx, inv Invoice) (bool, *Payment, error)) (Invoice, error) {
	return s.changeNoting(ctx, invoiceID, op, func(tx pgx.Tx, inv Invoice) (bool, notice, error) {
		changed, pay, err := apply(tx, inv)
		return changed, notice{typ: typ, payment: pay}, err
	})
}

// changeNoting is change for a change whose notification is not about a
// payment: apply returns the notice to send (none when its type is empty).
func (s *Store) changeNoting(ctx context.Context, invoiceID string, op Op,
	apply func(tx pgx.Tx, inv Invoice) (bool, notice, error)) (Invoice, error) {
	if err := validActor(op.Actor); err != nil {
		return Invoice{}, err
	}
	var out Invoice
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = applyChange(ctx, tx, invoiceID, op.Key, apply); err != nil {
			return err
		}
		return finishJobInTx(ctx, tx, op.Key)
	})
	return out, err
}

// applyChange is change's work inside its transaction.
func applyChange(ctx context.Context, tx pgx.Tx, invoiceID, opKey string,
	apply func(tx pgx.Tx, inv Invoice) (bool, notice, error)) (Invoice, error) {
	// One round trip: the lock, then, under it, whether a write-off is live,
	// whether the key was applied (a concurrent run of the same operation
	// has committed or rolled back by then) or its job has finished, and who
	// wants to hear of the change.
	var batch pgx.Batch
	var inv Invoice
	var done bool
	var subs subscriptions
	batch.Queue(lockInvoiceSQL, invoiceID).QueryRow(func(row pgx.Row) error {
		var err error
		inv, err = scanLocked(row, invoiceID)
		return err
	})
	batch.Queue(writeOffLiveSQL, invoiceID).QueryRow(func(row pgx.Row) error { return row.Scan(&inv.WriteOffLive) })
	batch.Queue(`SELECT NULLIF($1, '') IS NOT NULL AND EXISTS (SELECT 1 FROM invoice_history WHERE op_key = $1)`, opKey).
		QueryRow(func(row pgx.Row) error { return row.Scan(&done) })
	var finished bool
	batch.Queue(lockJobSQL, opKey).QueryRow(func(row pgx.Row) error { return row.Scan(&finished) })
	batch.Queue(subscribedTypes).QueryRow(func(row pgx.Row) error { return row.Scan(&subs) })
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		if _, ok := apperr.As(err); ok {
			return Invoice{}, err
		}
		return Invoice{}, fmt.Errorf("begin change of invoice %s: %w", invoiceID, err)
	}
	if done || finished {
		return inv, nil
	}
	changed, n, err := apply(tx, inv)
	if err != nil || !changed {
		return inv, err
	}
	out, err := recompute(ctx, tx, invoiceID)
	if err != nil || n.typ == "" {
		return out, err
	}
	return out, notifyWanted(ctx, tx, subs, inv.State, out, n)
}

// isInsufficientPrivilege reports whether PostgreSQL refused err's statement
// to this role.
func isInsufficientPrivilege(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

// isUniqueViolation reports whether err is a unique-key conflict on constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}
