package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
)

// recorded is what recordComparison wrote.
type recorded struct {
	// opened counts new discrepancies; acknowledged the differences an
	// operator resolved before with the same figures, left resolved.
	opened, acknowledged int
}

// upsertDiscrepancies writes a batch of differences: each refreshes the
// open discrepancy of its kind and PaymentIntent, or opens one, unless the
// latest discrepancy of that kind and PaymentIntent was resolved by an
// operator with the same figures (a person decided; the run does not
// reopen it). It returns the rows written, and whether each is new.
const upsertDiscrepancies = `
	WITH input AS (
		SELECT * FROM unnest(@ids::text[], @kinds::text[], @refs::text[], @invoices::text[], @currencies::text[],
			@ledger::bigint[], @stripe::bigint[], @details::text[])
			AS x (id, kind, ref, invoice_id, currency, ledger_amount, stripe_amount, detail)),
	fresh AS (
		SELECT x.* FROM input x
		WHERE NOT EXISTS (
			SELECT 1 FROM (
				SELECT d.status, d.actor, d.currency, d.ledger_amount, d.stripe_amount FROM discrepancies d
				WHERE d.provider_ref = x.ref AND d.kind = x.kind
				ORDER BY d.found_at DESC, d.id DESC LIMIT 1) last
			WHERE last.status = 'resolved' AND last.actor <> @reconciler
			  AND (last.currency, last.ledger_amount, last.stripe_amount)
			      IS NOT DISTINCT FROM (x.currency, x.ledger_amount, x.stripe_amount)))
	INSERT INTO discrepancies (id, kind, provider_ref, invoice_id, currency, ledger_amount, stripe_amount, detail,
		found_run, last_seen_run)
	SELECT id, kind, ref, NULLIF(invoice_id, ''), currency, ledger_amount, stripe_amount, detail, @run, @run FROM fresh
	ON CONFLICT (kind, provider_ref) WHERE status = 'open' DO UPDATE SET
		last_seen_run = EXCLUDED.last_seen_run, last_seen_at = now(), invoice_id = EXCLUDED.invoice_id,
		currency = EXCLUDED.currency, ledger_amount = EXCLUDED.ledger_amount,
		stripe_amount = EXCLUDED.stripe_amount, detail = EXCLUDED.detail
	RETURNING ` + discrepancyColumns + `, xmax = 0`

// recordComparison records one batch of a comparison in one transaction:
// the PaymentIntents compared (refs), the differences found, and the
// notification of each discrepancy it opens, so a discrepancy and its
// notification commit together.
func (s *Store) recordComparison(ctx context.Context, runID string, refs []string, diffs []difference) (recorded, error) {
	var rec recorded
	// A PaymentIntent shows once in a listing; a kind of it once in a batch.
	seen := make(map[[2]string]bool, len(diffs))
	n := len(diffs)
	args := struct {
		ids, kinds, refs, invoices, currencies, details []string
		ledger, stripe                                  []*Amount
	}{}
	for _, d := range diffs {
		k := [2]string{string(d.kind), d.ref}
		if seen[k] {
			n--
			continue
		}
		seen[k] = true
		args.ids = append(args.ids, ids.New("dsc"))
		args.kinds = append(args.kinds, string(d.kind))
		args.refs = append(args.refs, d.ref)
		args.invoices = append(args.invoices, d.invoiceID)
		args.currencies = append(args.currencies, d.currency)
		args.ledger = append(args.ledger, d.ledger)
		args.stripe = append(args.stripe, d.stripe)
		args.details = append(args.details, truncate(d.detail, 2000))
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if len(refs) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO provider_compare_seen (run_id, provider_ref)
				SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, runID, refs); err != nil {
				return fmt.Errorf("note compared payments: %w", err)
			}
		}
		if n == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, upsertDiscrepancies, pgx.NamedArgs{"ids": args.ids, "kinds": args.kinds,
			"refs": args.refs, "invoices": args.invoices, "currencies": args.currencies, "ledger": args.ledger,
			"stripe": args.stripe, "details": args.details, "run": runID, "reconciler": ActorReconciler})
		if err != nil {
			return fmt.Errorf("record %d discrepancies: %w", n, err)
		}
		var opened []Discrepancy
		written := 0
		_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
			var inserted bool
			d, err := scanDiscrepancy(rowWith{r, []any{&inserted}})
			written++
			if inserted {
				opened = append(opened, d)
			}
			return struct{}{}, err
		})
		if err != nil {
			return fmt.Errorf("record %d discrepancies: %w", n, err)
		}
		rec = recorded{opened: len(opened), acknowledged: n - written}
		return notifyDiscrepancies(ctx, tx, opened)
	})
	if err != nil {
		return recorded{}, err
	}
	return rec, nil
}

// closeDiscrepancies resolves, as the reconciler, the open discrepancies of
// the PaymentIntents the comparison of runID compared that it did not find
// again, and reports how many.
func (s *Store) closeDiscrepancies(ctx context.Context, runID string) (int, error) {
	tag, err := s.db.Exec(ctx, `
		UPDATE discrepancies d SET status = 'resolved', resolved_at = now(), actor = $2,
			resolution_notes = 'not found again by run ' || $1
		WHERE d.status = 'open' AND d.last_seen_run <> $1
		  AND EXISTS (SELECT 1 FROM provider_compare_seen c WHERE c.run_id = $1 AND c.provider_ref = d.provider_ref)`,
		runID, ActorReconciler)
	if err != nil {
		return 0, fmt.Errorf("close discrepancies run %s no longer found: %w", runID, err)
	}
	return int(tag.RowsAffected()), nil
}

// discrepancyNotification is the body of a reconciliation.discrepancy
// notification: a discrepancy is no invoice change, so its data holds the
// discrepancy instead of an invoice.
type discrepancyNotification struct {
	ID        string      `json:"id"`
	Type      outbox.Type `json:"type"`
	CreatedAt time.Time   `json:"created_at"`
	Data      struct {
		Discrepancy Discrepancy `json:"discrepancy"`
	} `json:"data"`
}

// notifyDiscrepancies writes the notification of each discrepancy opened,
// and its deliveries, inside the transaction that opened them. With no
// endpoint subscribed it writes nothing.
func notifyDiscrepancies(ctx context.Context, tx pgx.Tx, opened []Discrepancy) error {
	if len(opened) == 0 {
		return nil
	}
	var subs subscriptions
	if err := tx.QueryRow(ctx, subscribedTypes).Scan(&subs); err != nil {
		return fmt.Errorf("read subscriptions: %w", err)
	}
	if !subs.want(outbox.Discrepancy) {
		return nil
	}
	var batch pgx.Batch
	for _, d := range opened {
		body := discrepancyNotification{ID: ids.New("ntf"), Type: outbox.Discrepancy, CreatedAt: time.Now().UTC()}
		body.Data.Discrepancy = d
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode notification of discrepancy %s: %w", d.ID, err)
		}
		batch.Queue(writeNotification, body.ID, outbox.Discrepancy, d.InvoiceID, raw, outbox.DeliveriesChannel)
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("write notifications of %d discrepancies: %w", len(opened), err)
	}
	return nil
}
