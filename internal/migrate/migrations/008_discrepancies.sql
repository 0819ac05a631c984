-- The ledger against Stripe: the differences a run finds between the
-- ledger's Stripe payments and Stripe's own PaymentIntents, and operators'
-- resolutions of events that wait for a person.

-- One row per difference while it lasts: a run that finds the same
-- difference again refreshes its row (last_seen_run) rather than adding
-- one, the first run that no longer finds it resolves it as 'reconciler',
-- and an operator may resolve it with notes. A difference found again after
-- it was resolved is a new row, except that one an operator resolved stays
-- resolved while its figures are unchanged (the run skips it).
CREATE TABLE discrepancies (
    id               text PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('missing_in_ledger', 'missing_in_stripe', 'amount_mismatch',
                                                   'refund_mismatch', 'dispute_mismatch', 'currency_mismatch')),
    -- The PaymentIntent (pi_...) the difference is about.
    provider_ref     text NOT NULL CHECK (length(provider_ref) BETWEEN 1 AND 255),
    -- The ledger invoice concerned, when the ledger has one.
    invoice_id       text,
    currency         text NOT NULL CHECK (currency = '' OR currency ~ '^[a-z]{3}$'),
    -- The two figures compared, in minor units of currency; NULL when that
    -- side has no payment at all (missing_in_ledger, missing_in_stripe).
    ledger_amount    bigint,
    stripe_amount    bigint,
    detail           text NOT NULL DEFAULT '' CHECK (length(detail) <= 2000),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    found_at         timestamptz NOT NULL DEFAULT now(),
    found_run        text NOT NULL,
    last_seen_run    text NOT NULL,
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    resolution_notes text NOT NULL DEFAULT '' CHECK (length(resolution_notes) <= 2000),
    -- Who resolved it: an operator's name, or 'reconciler' for a run that
    -- no longer found it.
    actor            text CHECK (actor <> ''),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK ((status = 'resolved') = (actor IS NOT NULL))
);

-- One open row per kind and PaymentIntent: the runs' upsert meets here.
CREATE UNIQUE INDEX discrepancies_open ON discrepancies (kind, provider_ref) WHERE status = 'open';
-- The listing, newest first by status, a page at a time from a cursor.
CREATE INDEX discrepancies_listing ON discrepancies (status, found_at DESC, id DESC);
-- The latest row of a kind and PaymentIntent (was it resolved by a person?).
CREATE INDEX discrepancies_ref ON discrepancies (provider_ref, kind, found_at DESC);

-- The PaymentIntents one comparison has compared, so that the ledger's
-- payments Stripe did not list are found by walking the ledger's window
-- against it, whatever the number of payments. Unlogged: it is scratch,
-- emptied at the end of each comparison, and lost harmlessly in a crash.
CREATE UNLOGGED TABLE provider_compare_seen (
    run_id       text NOT NULL,
    provider_ref text NOT NULL,
    PRIMARY KEY (run_id, provider_ref)
);

-- The one row of the comparison's progress, as stripe_cursor is the pull's.
CREATE TABLE provider_compare_cursor (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- The newest PaymentIntent "created" a complete comparison listed
    -- (Stripe's clock); the next one lists from here less a margin.
    last_created timestamptz,
    -- When the last complete comparison of the whole window (30 days) ended.
    last_full_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO provider_compare_cursor (id) VALUES (true);

-- The comparison walks the ledger's Stripe payments created in its window.
CREATE INDEX payments_stripe_created ON payments (created_at, id) WHERE source = 'stripe' AND deleted_at IS NULL;

-- A discrepancy is no invoice change: its notification names no invoice.
ALTER TABLE notifications ALTER COLUMN invoice_id DROP NOT NULL;

-- An operator's resolution of an event that waited for a person: ignored
-- (never matched again), or applied to an invoice the operator names, which
-- every later processing of the event uses instead of the one it names.
ALTER TABLE events
    ADD COLUMN resolution_action   text CHECK (resolution_action IN ('ignore', 'apply')),
    ADD COLUMN resolution_notes    text NOT NULL DEFAULT '' CHECK (length(resolution_notes) <= 2000),
    ADD COLUMN resolution_actor    text CHECK (resolution_actor <> ''),
    ADD COLUMN resolved_at         timestamptz,
    ADD COLUMN resolved_invoice_id text,
    ADD CHECK ((resolution_action IS NULL) = (resolved_at IS NULL)),
    ADD CHECK ((resolution_action IS NULL) = (resolution_actor IS NULL)),
    ADD CHECK ((resolution_action = 'apply') = (resolved_invoice_id IS NOT NULL));

-- Every history kind of the contract (API.md), so that this constraint
-- holds whichever branch's kinds arrive first, and 'deleted' (an invoice
-- removed, which the API never lists).
ALTER TABLE invoice_history DROP CONSTRAINT IF EXISTS invoice_history_kind_check;
ALTER TABLE invoice_history ADD CONSTRAINT invoice_history_kind_check CHECK (kind IN (
    'created', 'sent', 'payment_recorded', 'payment_deleted', 'payment_failed',
    'refund_recorded', 'refund_failed', 'dispute_opened', 'dispute_won', 'dispute_lost',
    'credit_noted', 'credit_note_reversed', 'written_off', 'reopened', 'reconciled',
    'event_resolved', 'deleted'));
