package reconcile

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// GetInvoice reads a live invoice, with WriteOffLive filled in.
func (s *Store) GetInvoice(ctx context.Context, id string) (Invoice, error) {
	inv, err := scanRuled(s.db.QueryRow(ctx, ruledInvoiceSQL, id))
	return inv, invoiceReadErr(id, err)
}

// invoiceReadErr is what the read of invoice id with ruledInvoiceSQL
// answers for err: nil, not found, or the fault.
func invoiceReadErr(id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return invoiceNotFound(id)
	default:
		return fmt.Errorf("read invoice %s: %w", id, err)
	}
}

// GetInvoiceDetail reads an invoice with its live payments, its live credit
// notes and its history, oldest first, as of one snapshot.
func (s *Store) GetInvoiceDetail(ctx context.Context, id string) (InvoiceDetail, error) {
	var d InvoiceDetail
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			inv, err := scanRuled(tx.QueryRow(ctx, ruledInvoiceSQL, id))
			if err := invoiceReadErr(id, err); err != nil {
				return err
			}
			d.Invoice = inv
			rows, err := tx.Query(ctx, `SELECT `+paymentColumns+` FROM payments
				WHERE invoice_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`, id)
			if err != nil {
				return fmt.Errorf("read payments of invoice %s: %w", id, err)
			}
			if d.Payments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payment, error) { return scanPayment(r) }); err != nil {
				return fmt.Errorf("read payments of invoice %s: %w", id, err)
			}
			if d.CreditNotes, err = liveCreditNotes(ctx, tx, id); err != nil {
				return err
			}
			rows, err = tx.Query(ctx, `SELECT id, at, kind, amount, payment_id, notes, actor, details FROM invoice_history
				WHERE invoice_id = $1 ORDER BY id`, id)
			if err != nil {
				return fmt.Errorf("read history of invoice %s: %w", id, err)
			}
			d.History, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryEntry, error) {
				var h HistoryEntry
				err := r.Scan(&h.ID, &h.At, &h.Kind, &h.Amount, &h.PaymentID, &h.Notes, &h.Actor, &h.Details)
				h.At = h.At.UTC()
				return h, err
			})
			if err != nil {
				return fmt.Errorf("read history of invoice %s: %w", id, err)
			}
			return nil
		})
	return d, err
}

// GetPayment reads a live payment of an invoice.
func (s *Store) GetPayment(ctx context.Context, invoiceID, paymentID string) (Payment, error) {
	p, err := scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE id = $1 AND invoice_id = $2 AND deleted_at IS NULL`, paymentID, invoiceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, paymentNotFound(invoiceID, paymentID)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("read payment %s: %w", paymentID, err)
	}
	return p, nil
}

// InvoiceFilter selects a page of invoices, newest first.
type InvoiceFilter struct {
	State State // empty: every state
	// States, when not empty, keeps invoices in any of them (the console's
	// "open" tab is open and partial). With State set too, both apply.
	States []State
	Client string // empty: every client
	// Overdue keeps only invoices sent, with a balance due, past their due
	// date.
	Overdue bool
	// Search, when not empty, keeps invoices whose number or client holds
	// it, whatever the case.
	Search string
	Limit  int
	Cursor string // from the previous page's NextCursor
}

// MaxPageSize caps how many invoices one page holds.
const MaxPageSize = 200

// InvoicePage is one page of a listing. NextCursor is empty on the last page.
type InvoicePage struct {
	Invoices   []Invoice `json:"invoices"`
	NextCursor string    `json:"next_cursor"`
}

// ListInvoices pages through live invoices with keyset pagination, so a page
// costs the same however deep it is. A filter with no index of its own (the
// state, the search) reads the newest-first listing until the page is full:
// a page of a rare state or term reads further.
func (s *Store) ListInvoices(ctx context.Context, f InvoiceFilter) (InvoicePage, error) {
	args, err := f.args()
	if err != nil {
		return InvoicePage{}, err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, MaxPageSize)
	afterAt, afterID, err := decodeCursor(f.Cursor)
	if err != nil {
		return InvoicePage{}, err
	}
	args["after_at"], args["after_id"], args["limit"] = afterAt, afterID, f.Limit+1
	rows, err := s.db.Query(ctx, `
		SELECT `+invoiceColumns+` FROM invoices
		WHERE `+invoiceFilterSQL+`
		  AND (@after_at::timestamptz IS NULL OR (created_at, id) < (@after_at, @after_id))
		ORDER BY created_at DESC, id DESC
		LIMIT @limit`, args)
	if err != nil {
		return InvoicePage{}, fmt.Errorf("list invoices: %w", err)
	}
	invoices, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invoice, error) { return scanInvoice(r) })
	if err != nil {
		return InvoicePage{}, fmt.Errorf("list invoices: %w", err)
	}
	var page InvoicePage
	page.Invoices, page.NextCursor = cutPage(invoices, f.Limit, func(i Invoice) (time.Time, string) { return i.CreatedAt, i.ID })
	return page, nil
}

// cutPage keeps the first limit of rows, which were read as limit+1 to
// learn whether more follow, and returns the cursor after the last one
// kept, empty on the last page. An empty page is an empty list, not null.
func cutPage[T any](rows []T, limit int, key func(T) (time.Time, string)) ([]T, string) {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	at, id := key(rows[limit-1])
	return rows, encodeCursor(at, id)
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (*time.Time, string, error) {
	if c == "" {
		return nil, "", nil
	}
	bad := apperr.Errorf(apperr.KindInvalid, "invalid_cursor", "cursor is not one this server gave")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, "", bad
	}
	at, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return nil, "", bad
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return nil, "", bad
	}
	return &t, id, nil
}

// CurrencySummary is the money of one currency in a date range.
type CurrencySummary struct {
	Currency       string `json:"currency"`
	PaymentsOnline Amount `json:"payments_online"`
	PaymentsManual Amount `json:"payments_manual"`
	Refunds        Amount `json:"refunds"`
	Disputes       Amount `json:"disputes"`
	CreditNotes    Amount `json:"credit_notes"`
	WrittenOff     Amount `json:"written_off"`
	Outstanding    Amount `json:"outstanding"`
}

// Summary totals, per currency, the payments dated from..to (inclusive), the
// refunds recorded then (less the refunds that failed then), the money
// disputes withdrew then (less what won disputes reinstated then), the
// credit notes issued then and not reversed, the write-offs dated then
// (only what is still written off: recovered debt counts as paid), and the
// open balance of sent invoices today.
func (s *Store) Summary(ctx context.Context, from, to Date) ([]CurrencySummary, error) {
	if to.Before(from.Time) {
		return nil, apperr.Errorf(apperr.KindInvalid, "invalid_range", "to is before from")
	}
	rows, err := s.db.Query(ctx, `
		WITH live AS (SELECT * FROM invoices WHERE deleted_at IS NULL),
		pay AS (
			SELECT p.currency,
				sum(p.amount) FILTER (WHERE p.source = 'stripe') AS online,
				sum(p.amount) FILTER (WHERE p.source = 'manual') AS manual
			FROM payments p JOIN live i ON i.id = p.invoice_id
			WHERE p.deleted_at IS NULL AND p.paid_date BETWEEN $1 AND $2
			GROUP BY 1),
		ref AS (
			SELECT i.currency,
				COALESCE(sum(h.amount) FILTER (WHERE h.kind = 'refund_recorded'), 0)
				- COALESCE(sum(h.amount) FILTER (WHERE h.kind = 'refund_failed'), 0) AS refunds,
				COALESCE(sum(h.amount) FILTER (WHERE h.kind = 'dispute_opened'), 0)
				- COALESCE(sum(h.amount) FILTER (WHERE h.kind = 'dispute_won'), 0) AS disputes
			FROM invoice_history h JOIN live i ON i.id = h.invoice_id
			JOIN payments p ON p.id = h.payment_id AND p.deleted_at IS NULL
			WHERE h.kind IN ('refund_recorded', 'refund_failed', 'dispute_opened', 'dispute_won')
			  AND h.at >= $1::date AND h.at < $2::date + 1
			GROUP BY 1),
		cn AS (
			SELECT i.currency, sum(c.amount) AS credit_notes
			FROM credit_notes c JOIN live i ON i.id = c.invoice_id
			WHERE c.reversed_at IS NULL AND c.created_at >= $1::date AND c.created_at < $2::date + 1
			GROUP BY 1),
		wo AS (
			SELECT i.currency, sum(i.written_off_amount) AS written_off
			FROM live i JOIN write_offs w ON w.invoice_id = i.id AND w.reversed_at IS NULL
			WHERE w.written_off_on BETWEEN $1 AND $2
			GROUP BY 1),
		outstanding AS (
			SELECT currency, sum(balance) AS outstanding
			FROM live WHERE state IN ('open', 'partial')
			GROUP BY 1),
		cur AS (SELECT currency FROM pay UNION SELECT currency FROM ref UNION SELECT currency FROM cn
			UNION SELECT currency FROM wo UNION SELECT currency FROM outstanding)
		SELECT cur.currency, COALESCE(pay.online, 0), COALESCE(pay.manual, 0), COALESCE(ref.refunds, 0),
			COALESCE(ref.disputes, 0), COALESCE(cn.credit_notes, 0), COALESCE(wo.written_off, 0), COALESCE(outstanding.outstanding, 0)
		FROM cur
		LEFT JOIN pay USING (currency) LEFT JOIN ref USING (currency) LEFT JOIN cn USING (currency)
		LEFT JOIN wo USING (currency) LEFT JOIN outstanding USING (currency)
		ORDER BY cur.currency`, from.Time, to.Time)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CurrencySummary, error) {
		var c CurrencySummary
		err := r.Scan(&c.Currency, &c.PaymentsOnline, &c.PaymentsManual, &c.Refunds, &c.Disputes, &c.CreditNotes, &c.WrittenOff,
			&c.Outstanding)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return out, nil
}
