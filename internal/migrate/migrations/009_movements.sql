-- Stripe's money, exactly once: money movements named by several ids,
-- refunds and disputes as objects with lifecycles.
--
-- Stripe names one money movement by several ids: its PaymentIntent (pi_),
-- Charge (ch_, py_), Checkout Session (cs_), Stripe invoice (in_) and
-- InvoicePayment (inpay_). Every event showing two of them links them here;
-- a movement is one payment however many of its ids its events show. When a
-- link joins two movements, they become one (the refs of one are moved to
-- the other), and so do their payments.
CREATE TABLE movement_refs (
    ref         text PRIMARY KEY CHECK (length(ref) BETWEEN 1 AND 255),
    movement_id text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX movement_refs_movement ON movement_refs (movement_id);

-- A Stripe payment belongs to its movement: one payment per movement.
-- refunded_amount and disputed_amount are a cache of the refund and dispute
-- rows below, recomputed in every change of the movement's money; a payment
-- merged into another (the same movement, first known as two) is deleted and
-- names the one it was merged into. provider_ref shows the movement's best
-- id (the PaymentIntent when known); it is no longer the key, and not
-- indexed: a payment is found by any of its ids through movement_refs.
ALTER TABLE payments
    ADD COLUMN movement_id text,
    ADD COLUMN disputed_amount bigint NOT NULL DEFAULT 0 CHECK (disputed_amount >= 0),
    ADD COLUMN merged_into text,
    ADD CONSTRAINT payments_money_check CHECK (refunded_amount + disputed_amount <= amount),
    DROP CONSTRAINT payments_provider_ref_key;

-- Every Stripe payment so far is a movement of its own, named by its ref.
UPDATE payments SET movement_id = 'mov_' || id WHERE source = 'stripe';
INSERT INTO movement_refs (ref, movement_id)
SELECT provider_ref, 'mov_' || id FROM payments WHERE source = 'stripe'
ON CONFLICT DO NOTHING;

CREATE UNIQUE INDEX payments_movement ON payments (movement_id);

-- The highest cumulative amount_refunded seen of a charge (or of a
-- PaymentIntent, for refunds recorded before charges were told apart), per
-- currency: a total in another currency than the payment's never counts.
CREATE TABLE refund_totals (
    ref             text NOT NULL,
    currency        text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    amount_refunded bigint NOT NULL CHECK (amount_refunded >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ref, currency)
);

INSERT INTO refund_totals (ref, currency, amount_refunded, updated_at)
SELECT provider_ref, currency, amount_refunded, updated_at FROM refunds;
INSERT INTO movement_refs (ref, movement_id)
SELECT provider_ref, 'mov_' || provider_ref FROM refunds
ON CONFLICT DO NOTHING;

DROP TABLE refunds;

-- Refunds known by id (re_), with the furthest status any event showed:
-- pending and succeeded count, failed and canceled give the money back.
CREATE TABLE refunds (
    id         text NOT NULL CHECK (length(id) BETWEEN 1 AND 255),
    currency   text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    -- The charge (or PaymentIntent) refunded: a ref of its movement.
    ref        text NOT NULL,
    amount     bigint NOT NULL CHECK (amount >= 0),
    status     text NOT NULL CHECK (status IN ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, currency)
);

CREATE INDEX refunds_ref ON refunds (ref);

-- Disputes (dp_, du_) with the furthest status any event showed, and
-- whether an event showed their funds reinstated.
CREATE TABLE disputes (
    id           text NOT NULL CHECK (length(id) BETWEEN 1 AND 255),
    currency     text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    ref          text NOT NULL,
    amount       bigint NOT NULL CHECK (amount >= 0),
    status       text NOT NULL CHECK (status IN ('warning_needs_response', 'warning_under_review', 'warning_closed',
                                                 'needs_response', 'under_review', 'won', 'lost', 'prevented')),
    withdrawn    boolean NOT NULL DEFAULT false,
    reinstated   boolean NOT NULL DEFAULT false,
    -- The outcome the ledger has written history for (dispute_lost).
    noted_status text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, currency)
);

CREATE INDEX disputes_ref ON disputes (ref);

-- A status never goes back: of two, the later in these ranks wins (ties, which
-- Stripe never sends for one object, by name), whatever order events arrive in.
CREATE FUNCTION refund_status_rank(status text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE status WHEN 'pending' THEN 1 WHEN 'requires_action' THEN 1 WHEN 'succeeded' THEN 2 ELSE 3 END;

CREATE FUNCTION dispute_status_rank(status text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE status
           WHEN 'warning_needs_response' THEN 1
           WHEN 'warning_under_review' THEN 2
           WHEN 'needs_response' THEN 3
           WHEN 'under_review' THEN 4
           WHEN 'warning_closed' THEN 5
           ELSE 6 -- won, lost, prevented
       END;

-- The money a dispute holds withdrawn now: inquiries (warning_*) and
-- disputes prevented before they began withdraw nothing; a chargeback
-- withdraws its amount until it is won or its funds are reinstated; a lost
-- one keeps it.
CREATE FUNCTION dispute_withdrawn(status text, withdrawn boolean, reinstated boolean, amount bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
           WHEN status = 'lost' THEN amount
           WHEN status IN ('won', 'prevented') OR reinstated THEN 0
           WHEN status IN ('needs_response', 'under_review') OR (withdrawn AND status NOT LIKE 'warning%') THEN amount
           ELSE 0
       END;

-- The refunded money of a movement in a currency (API.md): the refunds known
-- by id that are pending or succeeded, plus the part of the highest
-- cumulative amount_refunded seen that the refunds known by id, whatever
-- their status, do not explain. The movement's refs are gathered first, so
-- each table is read through its index on ref whatever its statistics.
CREATE FUNCTION movement_refunded(movement text, cur text) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (
    SELECT (COALESCE(r.counting, 0) + GREATEST(0, COALESCE(t.total, 0) - COALESCE(r.known, 0)))::bigint
    FROM (SELECT sum(x.amount) FILTER (WHERE x.status IN ('pending', 'requires_action', 'succeeded')) AS counting,
                 sum(x.amount) AS known
          FROM refunds x
          WHERE x.ref = ANY (ARRAY(SELECT ref FROM movement_refs WHERE movement_id = movement)) AND x.currency = cur) r,
         (SELECT max(x.amount_refunded) AS total
          FROM refund_totals x
          WHERE x.ref = ANY (ARRAY(SELECT ref FROM movement_refs WHERE movement_id = movement)) AND x.currency = cur) t);

-- The money a movement's disputes in a currency hold withdrawn now.
CREATE FUNCTION movement_disputed(movement text, cur text) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (
    SELECT COALESCE(sum(dispute_withdrawn(x.status, x.withdrawn, x.reinstated, x.amount)), 0)::bigint
    FROM disputes x
    WHERE x.ref = ANY (ARRAY(SELECT ref FROM movement_refs WHERE movement_id = movement)) AND x.currency = cur);

-- What a payment's cached refunded and disputed amounts should be, from the
-- rows: a manual payment has neither; refunds come first, and neither ever
-- takes the payment below zero.
CREATE VIEW payment_truth AS
SELECT p.id,
       r.refunded AS refunded_amount,
       LEAST(p.amount - r.refunded, CASE WHEN p.movement_id IS NULL THEN 0
                                         ELSE movement_disputed(p.movement_id, p.currency) END) AS disputed_amount
FROM payments p
CROSS JOIN LATERAL (
    SELECT LEAST(p.amount, CASE WHEN p.movement_id IS NULL THEN 0
                                ELSE movement_refunded(p.movement_id, p.currency) END) AS refunded
) r;

-- invoice_truth and invoice_truth_between sum a live payment's amount,
-- refunded_amount and now disputed_amount: the index they read payments
-- through carries all three, so the sums stay index-only.
CREATE INDEX payments_invoice_money ON payments (invoice_id) INCLUDE (amount, refunded_amount, disputed_amount)
    WHERE deleted_at IS NULL;
DROP INDEX payments_invoice;

-- Invoices show what their live payments have refunded and disputed.
ALTER TABLE invoices
    ADD COLUMN refunded_amount bigint NOT NULL DEFAULT 0,
    ADD COLUMN disputed_amount bigint NOT NULL DEFAULT 0;

-- Payment caches from the rows, as the ledger now computes them. An invoice
-- whose paid amount this changes (a refund in another currency than its
-- payment used to count) is left for the next reconciliation run, which
-- repairs it with a reconciled history row.
UPDATE payments p SET refunded_amount = t.refunded_amount, disputed_amount = t.disputed_amount
FROM payment_truth t
WHERE t.id = p.id AND p.source = 'stripe'
  AND (p.refunded_amount, p.disputed_amount) IS DISTINCT FROM (t.refunded_amount, t.disputed_amount);

UPDATE invoices i SET refunded_amount = s.refunded, disputed_amount = s.disputed
FROM (SELECT invoice_id, sum(refunded_amount)::bigint AS refunded, sum(disputed_amount)::bigint AS disputed
      FROM payments WHERE deleted_at IS NULL GROUP BY invoice_id) s
WHERE s.invoice_id = i.id;

-- paid is net of refunds and of disputed money withdrawn. The view keeps
-- its columns (006's, with credit notes) and adds two at the end.
CREATE OR REPLACE VIEW invoice_truth AS
SELECT i.id,
       t.credited_amount,
       t.paid_amount,
       t.written_off_amount,
       i.amount - t.credited_amount - t.paid_amount - t.written_off_amount AS balance,
       invoice_state(i.amount, i.sent_at, t.credited_amount, t.paid_amount, t.written_off_amount) AS state,
       w.created_at AS written_off_at,
       p.refunded AS refunded_amount,
       p.disputed AS disputed_amount
FROM invoices i
LEFT JOIN LATERAL (
    SELECT COALESCE(sum(p.amount - p.refunded_amount - p.disputed_amount), 0)::bigint AS paid,
           COALESCE(sum(p.refunded_amount), 0)::bigint AS refunded,
           COALESCE(sum(p.disputed_amount), 0)::bigint AS disputed
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

-- The same for a range of invoices (see 004 and 006); its columns change,
-- so it is made again.
DROP FUNCTION invoice_truth_between(text, text);
CREATE FUNCTION invoice_truth_between(first_id text, last_id text)
RETURNS TABLE (id text, credited_amount bigint, paid_amount bigint, written_off_amount bigint, balance bigint,
               state text, written_off_at timestamptz, refunded_amount bigint, disputed_amount bigint)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT i.id,
           t.credited_amount,
           t.paid_amount,
           t.written_off_amount,
           i.amount - t.credited_amount - t.paid_amount - t.written_off_amount,
           invoice_state(i.amount, i.sent_at, t.credited_amount, t.paid_amount, t.written_off_amount),
           w.created_at,
           COALESCE(p.refunded, 0),
           COALESCE(p.disputed, 0)
    FROM invoices i
    LEFT JOIN (
        SELECT p.invoice_id,
               sum(p.amount - p.refunded_amount - p.disputed_amount)::bigint AS paid,
               sum(p.refunded_amount)::bigint AS refunded,
               sum(p.disputed_amount)::bigint AS disputed
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
