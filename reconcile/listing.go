package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// invoiceFilterSQL keeps the live invoices an InvoiceFilter selects, with
// the arguments of InvoiceFilter.args. A listing's page and its totals use
// the same, so the totals are those of every page together.
const invoiceFilterSQL = `deleted_at IS NULL
		  AND (@state = '' OR state = @state)
		  AND (@client = '' OR client = @client)
		  AND (cardinality(@states::text[]) = 0 OR state = ANY(@states::text[]))
		  AND (NOT @overdue OR ` + overdueSQL + `)
		  AND (@search = '' OR number ILIKE @search OR client ILIKE @search)`

// args checks the filter and returns the arguments of invoiceFilterSQL.
func (f InvoiceFilter) args() (pgx.NamedArgs, error) {
	badState := apperr.Errorf(apperr.KindInvalid, "invalid_state", "state must be draft, open, partial, paid or written_off")
	if f.State != "" && !ValidState(string(f.State)) {
		return nil, badState
	}
	states := make([]string, 0, len(f.States))
	for _, st := range f.States {
		if !ValidState(string(st)) {
			return nil, badState
		}
		states = append(states, string(st))
	}
	search := ""
	if q := strings.TrimSpace(f.Search); q != "" {
		if len(q) > 200 {
			return nil, apperr.Errorf(apperr.KindInvalid, "invalid_search", "search must be at most 200 characters")
		}
		// The operator's text is matched as it is: its % and _ are not
		// wildcards.
		search = "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
	}
	return pgx.NamedArgs{
		"state": string(f.State), "client": f.Client, "states": states,
		"overdue": f.Overdue, "today": DateOf(time.Now()).Time, "search": search,
	}, nil
}

// CurrencyTotals are the figures of a listing's invoices of one currency.
type CurrencyTotals struct {
	Currency string `json:"currency"`
	Count    int    `json:"count"`
	Amount   Amount `json:"amount"`
	Paid     Amount `json:"paid_amount"`
	Balance  Amount `json:"balance"`
}

// InvoiceTotals adds up, per currency, every invoice the filter selects (all
// its pages; Limit and Cursor are ignored).
func (s *Store) InvoiceTotals(ctx context.Context, f InvoiceFilter) ([]CurrencyTotals, error) {
	args, err := f.args()
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `
		SELECT currency, count(*), coalesce(sum(amount), 0), coalesce(sum(paid_amount), 0), coalesce(sum(balance), 0)
		FROM invoices
		WHERE `+invoiceFilterSQL+`
		GROUP BY currency
		ORDER BY currency`, args)
	if err != nil {
		return nil, fmt.Errorf("total invoices: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CurrencyTotals, error) {
		var c CurrencyTotals
		err := r.Scan(&c.Currency, &c.Count, &c.Amount, &c.Paid, &c.Balance)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("total invoices: %w", err)
	}
	return out, nil
}
