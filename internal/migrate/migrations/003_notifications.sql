-- Outbound notifications: endpoints the business subscribes, and a
-- transactional outbox of notifications and their deliveries, written in the
-- same transaction as the ledger change they report.

CREATE TABLE endpoints (
    id          text PRIMARY KEY,
    url         text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
    -- NULL: every event type.
    events      text[],
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

CREATE TABLE notifications (
    id         text PRIMARY KEY,
    type       text NOT NULL,
    invoice_id text NOT NULL,
    -- The exact body every endpoint receives, so a retry sends the same bytes.
    body       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
    id               text PRIMARY KEY,
    notification_id  text NOT NULL REFERENCES notifications (id),
    endpoint_id      text NOT NULL REFERENCES endpoints (id),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         int NOT NULL DEFAULT 0,
    last_status_code int,
    last_error       text NOT NULL DEFAULT '',
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (notification_id, endpoint_id)
);

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at DESC);
