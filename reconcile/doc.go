// Package reconcile is the ledger: invoices, the money recorded against
// them, and the reconciliation run that proves the stored totals right. It
// speaks only its own types; it knows no HTTP, no queue and no Stripe wire
// format (the edges in webhooks, admin and worker, and the Stripe adapter in
// internal/stripe, translate for it).
//
// Its rules, in short:
//   - Money is Amount, int64 minor units; never a float.
//   - Every change is one transaction that locks the invoice row, writes a
//     history row, and recomputes the invoice's totals and state from its
//     rows (the invoice_truth view); the stored totals are a cache of the
//     rows, and a reconciliation run repairs any drift with a history row.
//   - balance = amount - credited - paid - written_off, paid being net of
//     refunds and withdrawn disputes; a negative balance is an overpayment.
//   - Idempotency lives in PostgreSQL's unique keys (the event id, the
//     payment's identity, the operator job's id): a change replayed changes
//     nothing.
//   - A manual payment may not exceed what is unpaid; an online payment is
//     money already taken and is always recorded.
//   - A credit note lowers what is due, never past the balance, and is
//     reversed rather than deleted; an invoice with nothing left due after
//     its payments and credit notes is paid.
//   - A payment on a written-off invoice first recovers the bad debt; while a
//     write-off is live (whatever state the invoice reads), deleting a
//     payment or reversing a credit note is refused. A Stripe payment is
//     never deleted by an operator: it is refunded in Stripe.
//
// The Store is the ledger's PostgreSQL store; the Runner is the
// reconciliation run.
package reconcile
