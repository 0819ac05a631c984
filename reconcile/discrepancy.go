package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// DiscrepancyKind names how the ledger and Stripe differ about a payment.
type DiscrepancyKind string

// The discrepancy kinds of the contract.
const (
	// MissingInLedger: a succeeded PaymentIntent the ledger has no payment
	// of, that names no invoice of ours (or one the ledger does not have).
	// One naming a live invoice is not a discrepancy: it is pulled.
	MissingInLedger DiscrepancyKind = "missing_in_ledger"
	// MissingInStripe: a ledger Stripe payment Stripe does not know.
	MissingInStripe DiscrepancyKind = "missing_in_stripe"
	// AmountMismatch: the money received differs (or Stripe shows the
	// PaymentIntent not succeeded).
	AmountMismatch DiscrepancyKind = "amount_mismatch"
	// RefundMismatch: the refunded money differs.
	RefundMismatch DiscrepancyKind = "refund_mismatch"
	// DisputeMismatch: the money disputes hold withdrawn differs.
	DisputeMismatch DiscrepancyKind = "dispute_mismatch"
	// CurrencyMismatch: the payment's currency differs, or a PaymentIntent
	// the ledger lacks names an invoice in another currency.
	CurrencyMismatch DiscrepancyKind = "currency_mismatch"
)

// DiscrepancyKinds lists every kind, in the order listings show them.
func DiscrepancyKinds() []DiscrepancyKind {
	return []DiscrepancyKind{MissingInLedger, MissingInStripe, AmountMismatch, RefundMismatch, DisputeMismatch, CurrencyMismatch}
}

// ValidDiscrepancyKind reports whether s names a kind.
func ValidDiscrepancyKind(s string) bool {
	for _, k := range DiscrepancyKinds() {
		if string(k) == s {
			return true
		}
	}
	return false
}

// DiscrepancyStatus is open until a run no longer finds the difference or
// an operator resolves it.
type DiscrepancyStatus string

// The discrepancy statuses.
const (
	DiscrepancyOpen     DiscrepancyStatus = "open"
	DiscrepancyResolved DiscrepancyStatus = "resolved"
)

// Discrepancy is a difference between the ledger and Stripe, as the admin
// API shows it.
type Discrepancy struct {
	ID   string          `json:"id"`
	Kind DiscrepancyKind `json:"kind"`
	// InvoiceID is the ledger invoice concerned, when the ledger has one.
	InvoiceID *string `json:"invoice_id"`
	// ProviderRef is the PaymentIntent (pi_...).
	ProviderRef string `json:"provider_ref"`
	Currency    string `json:"currency"`
	// LedgerAmount and StripeAmount are the two figures compared, in minor
	// units of Currency; nil for a side that has no payment at all.
	LedgerAmount    *Amount           `json:"ledger_amount"`
	StripeAmount    *Amount           `json:"stripe_amount"`
	Detail          string            `json:"detail"`
	Status          DiscrepancyStatus `json:"status"`
	FoundAt         time.Time         `json:"found_at"`
	LastSeenRun     string            `json:"last_seen_run"`
	ResolvedAt      *time.Time        `json:"resolved_at"`
	ResolutionNotes string            `json:"resolution_notes"`
	// Actor is who resolved it: an operator, or "reconciler" for the run
	// that no longer found it. Nil while open.
	Actor *string `json:"actor"`
}

const discrepancyColumns = `id, kind, invoice_id, provider_ref, currency, ledger_amount, stripe_amount, detail, status,
	found_at, last_seen_run, resolved_at, resolution_notes, actor`

func scanDiscrepancy(row pgx.Row) (Discrepancy, error) {
	var d Discrepancy
	err := row.Scan(&d.ID, &d.Kind, &d.InvoiceID, &d.ProviderRef, &d.Currency, &d.LedgerAmount, &d.StripeAmount,
		&d.Detail, &d.Status, &d.FoundAt, &d.LastSeenRun, &d.ResolvedAt, &d.ResolutionNotes, &d.Actor)
	d.FoundAt = d.FoundAt.UTC()
	if d.ResolvedAt != nil {
		t := d.ResolvedAt.UTC()
		d.ResolvedAt = &t
	}
	return d, err
}

// DiscrepancyFilter selects a page of discrepancies, newest first.
type DiscrepancyFilter struct {
	// Status is open when empty.
	Status DiscrepancyStatus
	// Kind, when set, keeps one kind.
	Kind   DiscrepancyKind
	Limit  int
	Cursor string // from the previous page's NextCursor
}

// DiscrepancyPage is one page of discrepancies. NextCursor is empty on the
// last page.
type DiscrepancyPage struct {
	Discrepancies []Discrepancy `json:"discrepancies"`
	NextCursor    string        `json:"next_cursor"`
}

// ListDiscrepancies pages through discrepancies of a status (open by
// default), newest first, with a (found_at, id) cursor.
func (s *Store) ListDiscrepancies(ctx context.Context, f DiscrepancyFilter) (DiscrepancyPage, error) {
	if f.Status == "" {
		f.Status = DiscrepancyOpen
	}
	switch {
	case f.Status != DiscrepancyOpen && f.Status != DiscrepancyResolved:
		return DiscrepancyPage{}, apperr.Errorf(apperr.KindInvalid, "invalid_status", "status must be open or resolved")
	case f.Kind != "" && !ValidDiscrepancyKind(string(f.Kind)):
		return DiscrepancyPage{}, apperr.Errorf(apperr.KindInvalid, "invalid_kind",
			"kind must be missing_in_ledger, missing_in_stripe, amount_mismatch, refund_mismatch, dispute_mismatch or currency_mismatch")
	}
	limit := pageLimit(f.Limit)
	afterAt, afterID, err := decodeCursor(f.Cursor)
	if err != nil {
		return DiscrepancyPage{}, err
	}
	rows, err := s.db.Query(ctx, `
		SELECT `+discrepancyColumns+` FROM discrepancies
		WHERE status = @status
		  AND (@kind = '' OR kind = @kind)
		  AND (@after_at::timestamptz IS NULL OR (found_at, id) < (@after_at, @after_id))
		ORDER BY found_at DESC, id DESC
		LIMIT @limit`, pgx.NamedArgs{"status": string(f.Status), "kind": string(f.Kind),
		"after_at": afterAt, "after_id": afterID, "limit": limit + 1})
	if err != nil {
		return DiscrepancyPage{}, fmt.Errorf("list discrepancies: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Discrepancy, error) { return scanDiscrepancy(r) })
	if err != nil {
		return DiscrepancyPage{}, fmt.Errorf("list discrepancies: %w", err)
	}
	var page DiscrepancyPage
	page.Discrepancies, page.NextCursor = cutPage(list, limit, func(d Discrepancy) (time.Time, string) { return d.FoundAt, d.ID })
	return page, nil
}

// GetDiscrepancy reads one discrepancy.
func (s *Store) GetDiscrepancy(ctx context.Context, id string) (Discrepancy, error) {
	d, err := scanDiscrepancy(s.db.QueryRow(ctx, `SELECT `+discrepancyColumns+` FROM discrepancies WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Discrepancy{}, discrepancyNotFound(id)
	}
	if err != nil {
		return Discrepancy{}, fmt.Errorf("read discrepancy %s: %w", id, err)
	}
	return d, nil
}

func discrepancyNotFound(id string) error {
	return apperr.Errorf(apperr.KindNotFound, "discrepancy_not_found", "no discrepancy %s", id)
}

// ResolveDiscrepancy records an operator's resolution of an open
// discrepancy: actor names the operator, notes say why. A discrepancy
// already resolved is refused (conflict) and left as it is. Runs do not
// open it again while they find the same figures; a difference whose
// figures change is a new discrepancy.
func (s *Store) ResolveDiscrepancy(ctx context.Context, id, notes, actor string) (Discrepancy, error) {
	switch {
	case !textcheck.Valid(notes, textcheck.MaxNotes):
		return Discrepancy{}, errInvalidNotes()
	case actor == "" || !textcheck.Valid(actor, 200):
		return Discrepancy{}, apperr.Errorf(apperr.KindInvalid, "invalid_actor", "a resolution must name its actor")
	}
	d, err := scanDiscrepancy(s.db.QueryRow(ctx, `
		UPDATE discrepancies SET status = 'resolved', resolved_at = now(), resolution_notes = $2, actor = $3
		WHERE id = $1 AND status = 'open'
		RETURNING `+discrepancyColumns, id, notes, actor))
	if errors.Is(err, pgx.ErrNoRows) {
		cur, getErr := s.GetDiscrepancy(ctx, id)
		if getErr != nil {
			return Discrepancy{}, getErr
		}
		return Discrepancy{}, apperr.Errorf(apperr.KindConflict, "discrepancy_resolved",
			"discrepancy %s was already resolved by %s", id, deref(cur.Actor))
	}
	if err != nil {
		return Discrepancy{}, fmt.Errorf("resolve discrepancy %s: %w", id, err)
	}
	return d, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// OpenDiscrepancies counts the open discrepancies of each kind; every kind
// is present, 0 when none is open.
func (s *Store) OpenDiscrepancies(ctx context.Context) (map[DiscrepancyKind]int, error) {
	rows, err := s.db.Query(ctx, `SELECT kind, count(*) FROM discrepancies WHERE status = 'open' GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("count open discrepancies: %w", err)
	}
	counts := make(map[DiscrepancyKind]int, len(DiscrepancyKinds()))
	for _, k := range DiscrepancyKinds() {
		counts[k] = 0
	}
	var kind DiscrepancyKind
	var n int
	_, err = pgx.ForEachRow(rows, []any{&kind, &n}, func() error { counts[kind] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("count open discrepancies: %w", err)
	}
	return counts, nil
}
