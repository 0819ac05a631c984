-- invoice_truth computes one invoice at a time: a lateral sum of its
-- payments, which is what every ledger change needs but makes a full
-- reconciliation over a million invoices one index probe per invoice.
-- invoice_truth_between gives the same truth for a range of invoice ids at
-- once, summing the range's payments in one grouped pass. The rules that
-- turn an invoice's rows into its totals move into two functions both use,
-- so the two cannot disagree on them; they differ only in how they gather
-- the rows. The functions are plain SQL expressions, which PostgreSQL
-- inlines into the statements that use them: the plans stay as they were.

-- A live write-off covers the balance left after the payments, never more
-- than it wrote off: payments received later recover it first.
CREATE FUNCTION invoice_written_off(amount bigint, paid bigint, write_off bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN write_off IS NULL THEN 0 ELSE LEAST(write_off, GREATEST(amount - paid, 0)) END;

CREATE FUNCTION invoice_state(amount bigint, sent_at timestamptz, paid bigint, written_off bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
           WHEN paid >= amount THEN 'paid'
           WHEN written_off > 0 THEN 'written_off'
           WHEN sent_at IS NULL AND paid = 0 THEN 'draft'
           WHEN paid <= 0 THEN 'open'
           ELSE 'partial'
       END;

-- The same columns and rows as before, through the shared rules.
CREATE OR REPLACE VIEW invoice_truth AS
SELECT i.id,
       t.paid_amount,
       t.written_off_amount,
       i.amount - t.paid_amount - t.written_off_amount AS balance,
       invoice_state(i.amount, i.sent_at, t.paid_amount, t.written_off_amount) AS state,
       w.created_at AS written_off_at
FROM invoices i
LEFT JOIN LATERAL (
    SELECT COALESCE(sum(p.amount - p.refunded_amount), 0)::bigint AS paid
    FROM payments p
    WHERE p.invoice_id = i.id AND p.deleted_at IS NULL
) p ON true
LEFT JOIN write_offs w ON w.invoice_id = i.id AND w.reversed_at IS NULL
CROSS JOIN LATERAL (
    SELECT p.paid AS paid_amount,
           invoice_written_off(i.amount, p.paid, w.amount) AS written_off_amount
) t;

-- invoice_truth's rows for the invoices with first_id <= id <= last_id,
-- deleted ones included as there. Every payment and write-off of those
-- invoices has its invoice_id in the range too, so bounding their scans by
-- it loses none. Being one SQL statement, it is inlined into its caller,
-- and the bounds become index conditions on each table.
CREATE FUNCTION invoice_truth_between(first_id text, last_id text)
RETURNS TABLE (id text, paid_amount bigint, written_off_amount bigint, balance bigint, state text,
               written_off_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT i.id,
           t.paid_amount,
           t.written_off_amount,
           i.amount - t.paid_amount - t.written_off_amount,
           invoice_state(i.amount, i.sent_at, t.paid_amount, t.written_off_amount),
           w.created_at
    FROM invoices i
    LEFT JOIN (
        SELECT p.invoice_id, sum(p.amount - p.refunded_amount)::bigint AS paid
        FROM payments p
        WHERE p.deleted_at IS NULL AND p.invoice_id BETWEEN first_id AND last_id
        GROUP BY p.invoice_id
    ) p ON p.invoice_id = i.id
    LEFT JOIN write_offs w ON w.invoice_id = i.id AND w.reversed_at IS NULL
                          AND w.invoice_id BETWEEN first_id AND last_id
    CROSS JOIN LATERAL (
        SELECT COALESCE(p.paid, 0) AS paid_amount,
               invoice_written_off(i.amount, COALESCE(p.paid, 0), w.amount) AS written_off_amount
    ) t
    WHERE i.id BETWEEN first_id AND last_id;
END;
