-- The ledger: invoices, payments, refunds, write-offs and their history.
-- Money is bigint minor units everywhere; the invoice's totals are a cache of
-- the rows below, recomputed through invoice_truth in every change.

CREATE TABLE invoices (
    id                 text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    number             text NOT NULL CHECK (length(number) BETWEEN 1 AND 200),
    client             text NOT NULL CHECK (length(client) BETWEEN 1 AND 200),
    currency           text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    amount             bigint NOT NULL CHECK (amount > 0),
    paid_amount        bigint NOT NULL DEFAULT 0,
    written_off_amount bigint NOT NULL DEFAULT 0 CHECK (written_off_amount >= 0),
    balance            bigint NOT NULL,
    state              text NOT NULL DEFAULT 'draft'
                       CHECK (state IN ('draft', 'open', 'partial', 'paid', 'written_off')),
    issue_date         date,
    due_date           date,
    stripe_invoice_id  text UNIQUE,
    sent_at            timestamptz,
    paid_at            timestamptz,
    written_off_at     timestamptz,
    deleted_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (balance = amount - paid_amount - written_off_amount)
);

-- Listing newest first with keyset pagination, optionally by state or client.
CREATE INDEX invoices_listing ON invoices (created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX invoices_state_listing ON invoices (state, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX invoices_client_listing ON invoices (client, created_at DESC, id DESC) WHERE deleted_at IS NULL;
-- Incremental reconciliation walks what changed since its watermark.
CREATE INDEX invoices_updated ON invoices (updated_at);

CREATE TABLE payments (
    id              text PRIMARY KEY,
    invoice_id      text NOT NULL REFERENCES invoices (id),
    source          text NOT NULL CHECK (source IN ('manual', 'stripe')),
    amount          bigint NOT NULL CHECK (amount > 0),
    refunded_amount bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    currency        text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    paid_date       date NOT NULL,
    method          text CHECK (method IN ('bank_transfer', 'check', 'cash', 'other', 'card')),
    notes           text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    -- The PaymentIntent id of an online payment: one PaymentIntent, one payment.
    provider_ref    text UNIQUE,
    -- The operator job that recorded a manual payment: a job run twice records once.
    idempotency_key text UNIQUE,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((source = 'stripe') = (provider_ref IS NOT NULL))
);

CREATE INDEX payments_invoice ON payments (invoice_id) INCLUDE (amount, refunded_amount) WHERE deleted_at IS NULL;
CREATE INDEX payments_paid_date ON payments (paid_date) WHERE deleted_at IS NULL;

-- Refunds arrive as Stripe's cumulative amount_refunded, possibly before the
-- payment they refund: the highest total seen per PaymentIntent is kept here
-- and copied onto the payment whenever both exist.
CREATE TABLE refunds (
    provider_ref    text PRIMARY KEY,
    amount_refunded bigint NOT NULL CHECK (amount_refunded >= 0),
    currency        text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    invoice_id      text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE write_offs (
    id              text PRIMARY KEY,
    invoice_id      text NOT NULL REFERENCES invoices (id),
    -- The balance written off; payments received later recover it first.
    amount          bigint NOT NULL CHECK (amount > 0),
    notes           text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    written_off_on  date NOT NULL DEFAULT CURRENT_DATE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    reversed_at     timestamptz
);

-- One live write-off per invoice.
CREATE UNIQUE INDEX write_offs_live ON write_offs (invoice_id) WHERE reversed_at IS NULL;
CREATE INDEX write_offs_date ON write_offs (written_off_on) WHERE reversed_at IS NULL;

CREATE TABLE invoice_history (
    id         bigserial PRIMARY KEY,
    invoice_id text NOT NULL REFERENCES invoices (id),
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text NOT NULL CHECK (kind IN ('created', 'sent', 'payment_recorded', 'payment_deleted',
                                             'refund_recorded', 'written_off', 'reopened', 'reconciled', 'deleted')),
    amount     bigint,
    payment_id text,
    notes      text NOT NULL DEFAULT '',
    details    jsonb,
    -- The operator job or Stripe event that made this change: the same key
    -- twice is a replay and changes nothing.
    op_key     text UNIQUE
);

CREATE INDEX invoice_history_invoice ON invoice_history (invoice_id, id);

-- What every invoice's totals should be, computed from its rows. The ledger
-- writes through it in each change; reconciliation compares against it.
CREATE VIEW invoice_truth AS
SELECT i.id,
       t.paid_amount,
       t.written_off_amount,
       i.amount - t.paid_amount - t.written_off_amount AS balance,
       CASE
           WHEN t.paid_amount >= i.amount THEN 'paid'
           WHEN t.written_off_amount > 0 THEN 'written_off'
           WHEN i.sent_at IS NULL AND t.paid_amount = 0 THEN 'draft'
           WHEN t.paid_amount <= 0 THEN 'open'
           ELSE 'partial'
       END AS state,
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
           CASE WHEN w.id IS NULL THEN 0
                ELSE LEAST(w.amount, GREATEST(i.amount - p.paid, 0))
           END::bigint AS written_off_amount
) t;

-- The webhook inbox: every Stripe event, stored raw before it is answered.
CREATE TABLE events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    status       text NOT NULL DEFAULT 'received'
                 CHECK (status IN ('received', 'processed', 'ignored', 'unmatched', 'needs_review', 'failed')),
    source       text NOT NULL DEFAULT 'webhook' CHECK (source IN ('webhook', 'pull')),
    payload      bytea NOT NULL,
    stripe_created timestamptz,
    invoice_id   text,
    error        text NOT NULL DEFAULT '',
    attempts     int NOT NULL DEFAULT 0,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);

CREATE INDEX events_status ON events (status, received_at);

-- Operators' jobs: the outbox of the admin API. A job answered 202 is a row
-- here first, its Asynq task second.
CREATE TABLE jobs (
    id              text PRIMARY KEY,
    type            text NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'retrying', 'succeeded', 'failed')),
    invoice_id      text,
    payload         jsonb NOT NULL,
    idempotency_key text UNIQUE,
    -- What the key was first used for: the same key on another request is refused.
    request_hash    text NOT NULL DEFAULT '',
    result          jsonb,
    error           text NOT NULL DEFAULT '',
    attempts        int NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);

CREATE INDEX jobs_unfinished ON jobs (updated_at) WHERE status IN ('queued', 'running', 'retrying');
