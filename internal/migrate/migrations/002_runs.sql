-- Reconciliation runs, and where the pull of missed Stripe events stands.

-- One row per run: what it was asked to do, what each step counted, and how
-- it ended. "full" is a reserved word in PostgreSQL, hence is_full.
CREATE TABLE runs (
    id          text PRIMARY KEY,
    is_full     boolean NOT NULL,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    -- Set only when the run's ledger check completed: every invoice updated
    -- up to this time (less a margin for transactions still committing) was
    -- checked, so the next incremental run starts here.
    watermark   timestamptz,
    -- Each step's counts and error, as the admin API shows them.
    steps       jsonb NOT NULL DEFAULT '{}',
    error       text NOT NULL DEFAULT ''
);

CREATE INDEX runs_started ON runs (started_at DESC, id DESC);
CREATE INDEX runs_watermark ON runs (watermark DESC) WHERE watermark IS NOT NULL;

-- The incremental check walks invoices in (updated_at, id) order from a
-- cursor: with both columns in the index each batch reads only its own rows,
-- where an index on updated_at alone has every batch sort the rest of the
-- range. It supersedes invoices_updated, so writes keep one index on it.
CREATE INDEX invoices_updated_id ON invoices (updated_at, id);
DROP INDEX invoices_updated;

-- Overpaid invoices are reported by every run; this keeps finding them cheap
-- however many invoices there are (it holds only the few overpaid ones).
CREATE INDEX invoices_overpaid ON invoices (id) WHERE balance < 0 AND deleted_at IS NULL;

-- The one row of the Stripe pull's progress.
CREATE TABLE stripe_cursor (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- The newest event "created" a complete pull has seen (Stripe's clock);
    -- the next pull lists from here less a margin.
    last_created timestamptz,
    -- When the last complete pull without the delivery_success filter ended.
    last_full_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO stripe_cursor (id) VALUES (true);
