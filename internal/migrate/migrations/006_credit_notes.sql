-- Credit notes (issue 17b): an operator lowers what an invoice is due by a
-- concession (an adjustment, a refund that settles the matter, a discount).
-- A credit note never exceeds what is still due, and is reversed rather
-- than deleted. The balance becomes
--     balance = amount - credited - paid - written_off
-- and every place that turns rows into totals learns it together: the
-- invoices' CHECK, the shared rules invoice_written_off() and
-- invoice_state(), invoice_truth and invoice_truth_between (and the
-- ledger's recompute, which reads invoice_truth).

CREATE TABLE credit_notes (
    id          text PRIMARY KEY,
    invoice_id  text NOT NULL REFERENCES invoices (id),
    amount      bigint NOT NULL CHECK (amount > 0),
    reason      text NOT NULL CHECK (reason IN ('adjustment', 'refund', 'discount', 'other')),
    notes       text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    -- Who issued it: the operator's name once jobs carry one, else the
    -- bootstrap admin.
    actor       text NOT NULL DEFAULT 'admin' CHECK (length(actor) BETWEEN 1 AND 200),
    -- The operator job that issued it: a job run twice issues one credit note.
    op_key      text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    reversed_at timestamptz
);

-- The truth sums an invoice's live credit notes; the summary takes those
-- issued in a date range.
CREATE INDEX credit_notes_invoice ON credit_notes (invoice_id) INCLUDE (amount) WHERE reversed_at IS NULL;
CREATE INDEX credit_notes_created ON credit_notes (created_at) WHERE reversed_at IS NULL;

ALTER TABLE invoices ADD COLUMN credited_amount bigint NOT NULL DEFAULT 0 CHECK (credited_amount >= 0);
ALTER TABLE invoices DROP CONSTRAINT IF EXISTS invoices_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_balance_check
    CHECK (balance = amount - credited_amount - paid_amount - written_off_amount);

-- Every history kind of the contract (API.md), so that this constraint
-- holds whichever branch's kinds arrive first, and 'deleted' (an invoice
-- removed, which the API never lists).
ALTER TABLE invoice_history DROP CONSTRAINT IF EXISTS invoice_history_kind_check;
ALTER TABLE invoice_history ADD CONSTRAINT invoice_history_kind_check CHECK (kind IN (
    'created', 'sent', 'payment_recorded', 'payment_deleted', 'payment_failed',
    'refund_recorded', 'refund_failed', 'dispute_opened', 'dispute_won', 'dispute_lost',
    'credit_noted', 'credit_note_reversed', 'written_off', 'reopened', 'reconciled',
    'event_resolved', 'deleted'));

-- A live write-off covers what is left due after the payments and the
-- credit notes, never more than it wrote off: payments received later
-- recover it first.
CREATE FUNCTION invoice_written_off(amount bigint, credited bigint, paid bigint, write_off bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN write_off IS NULL THEN 0 ELSE LEAST(write_off, GREATEST(amount - credited - paid, 0)) END;

-- Paid: nothing left due after the payments and the credit notes.
CREATE FUNCTION invoice_state(amount bigint, sent_at timestamptz, credited bigint, paid bigint, written_off bigint)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
           WHEN paid >= amount - credited THEN 'paid'
           WHEN written_off > 0 THEN 'written_off'
           WHEN sent_at IS NULL AND paid = 0 THEN 'draft'
           WHEN paid <= 0 THEN 'open'
           ELSE 'partial'
       END;

-- Dropped and made again rather than replaced: credited_amount sits beside
-- the other totals, and a view can only grow at its end.
DROP VIEW invoice_truth;
CREATE VIEW invoice_truth AS
SELECT i.id,
       t.credited_amount,
       t.paid_amount,
       t.written_off_amount,
       i.amount - t.credited_amount - t.paid_amount - t.written_off_amount AS balance,
       invoice_state(i.amount, i.sent_at, t.credited_amount, t.paid_amount, t.written_off_amount) AS state,
       w.created_at AS written_off_at
FROM invoices i
LEFT JOIN LATERAL (
    SELECT COALESCE(sum(p.amount - p.refunded_amount), 0)::bigint AS paid
    FROM payments p
    WHERE p.invoice_id = i.id AND p.deleted_at IS NULL
) p ON true
LEFT JOIN LATERAL (
    SELECT COALESCE(sum(c.amount), 0)::bigint AS credited
    FROM credit_notes c
    WHERE c.invoice_id = i.id AND c.reversed_at IS NULL
) c ON true
LEFT JOIN write_offs w ON w.invoice_id = i.id AND w.reversed_at IS NULL
CROSS JOIN LATERAL (
    SELECT c.credited AS credited_amount,
           p.paid AS paid_amount,
           invoice_written_off(i.amount, c.credited, p.paid, w.amount) AS written_off_amount
) t;

-- invoice_truth's rows for a range of invoice ids, as in 004, with the
-- range's credit notes summed in one grouped pass like its payments.
DROP FUNCTION invoice_truth_between(text, text);
CREATE FUNCTION invoice_truth_between(first_id text, last_id text)
RETURNS TABLE (id text, credited_amount bigint, paid_amount bigint, written_off_amount bigint, balance bigint,
               state text, written_off_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT i.id,
           t.credited_amount,
           t.paid_amount,
           t.written_off_amount,
           i.amount - t.credited_amount - t.paid_amount - t.written_off_amount,
           invoice_state(i.amount, i.sent_at, t.credited_amount, t.paid_amount, t.written_off_amount),
           w.created_at
    FROM invoices i
    LEFT JOIN (
        SELECT p.invoice_id, sum(p.amount - p.refunded_amount)::bigint AS paid
        FROM payments p
        WHERE p.deleted_at IS NULL AND p.invoice_id BETWEEN first_id AND last_id
        GROUP BY p.invoice_id
    ) p ON p.invoice_id = i.id
    LEFT JOIN (
        SELECT c.invoice_id, sum(c.amount)::bigint AS credited
        FROM credit_notes c
        WHERE c.reversed_at IS NULL AND c.invoice_id BETWEEN first_id AND last_id
        GROUP BY c.invoice_id
    ) c ON c.invoice_id = i.id
    LEFT JOIN write_offs w ON w.invoice_id = i.id AND w.reversed_at IS NULL
                          AND w.invoice_id BETWEEN first_id AND last_id
    CROSS JOIN LATERAL (
        SELECT COALESCE(c.credited, 0) AS credited_amount,
               COALESCE(p.paid, 0) AS paid_amount,
               invoice_written_off(i.amount, COALESCE(c.credited, 0), COALESCE(p.paid, 0), w.amount) AS written_off_amount
    ) t
    WHERE i.id BETWEEN first_id AND last_id;
END;

-- The rules without credit notes have no user left.
DROP FUNCTION invoice_written_off(bigint, bigint, bigint);
DROP FUNCTION invoice_state(bigint, timestamptz, bigint, bigint);
