-- Operators with their own keys and roles, their console sessions, and who
-- made each change: every job, history row and write-off names its actor
-- (an operator's name, 'stripe' for events, 'reconciler' for a run).

CREATE TABLE operators (
    id         text PRIMARY KEY,
    -- Unique for ever, revoked or not: history rows name operators, and one
    -- name must always mean one person. The bootstrap admin ('admin') and
    -- the system actors are no operators.
    name       text NOT NULL UNIQUE
               CHECK (name ~ '^[a-z0-9][a-z0-9._@-]{0,63}$' AND name NOT IN ('admin', 'stripe', 'reconciler')),
    role       text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    -- A key is "rk_<key_id>_<secret>": key_id finds the row, and the SHA-256
    -- of the whole key is compared in constant time. The key is 256 random
    -- bits, so a fast hash is enough; the key itself is never stored.
    key_id     text NOT NULL UNIQUE,
    key_hash   bytea NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- The console's sessions live here, not in a signed cookie alone, so that
-- logging out or revoking the operator ends them at once.
CREATE TABLE console_sessions (
    -- SHA-256 of the cookie's value: a copy of this table opens nothing.
    id_hash     bytea PRIMARY KEY,
    -- NULL: the bootstrap admin, logged in with ADMIN_TOKEN.
    operator_id text REFERENCES operators (id),
    -- For the bootstrap admin, a keyed digest of the ADMIN_TOKEN it logged
    -- in with: a new token ends those sessions.
    token_digest bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    CHECK ((operator_id IS NULL) = (token_digest IS NOT NULL))
);

CREATE INDEX console_sessions_operator ON console_sessions (operator_id) WHERE ended_at IS NULL;
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Who asked for each job. Until now only the bootstrap admin and the
-- scheduler queued jobs. The default fills existing rows without rewriting
-- the table; it is dropped so that every new job must name its actor.
ALTER TABLE jobs ADD COLUMN actor text NOT NULL DEFAULT 'admin' CHECK (actor <> '');
UPDATE jobs SET actor = 'reconciler' WHERE idempotency_key LIKE 'reconcile-slot:%';
ALTER TABLE jobs ALTER COLUMN actor DROP DEFAULT;

-- Who made each change. Before operators: a Stripe event's payment or
-- refund carried no operator job key; a repair was the run's; the rest was
-- the bootstrap admin's.
ALTER TABLE invoice_history ADD COLUMN actor text NOT NULL DEFAULT 'admin' CHECK (actor <> '');
UPDATE invoice_history SET actor = 'stripe'
    WHERE kind IN ('payment_recorded', 'refund_recorded') AND op_key IS NULL;
UPDATE invoice_history SET actor = 'reconciler' WHERE kind = 'reconciled';
ALTER TABLE invoice_history ALTER COLUMN actor DROP DEFAULT;

-- Who wrote off, and who reopened: the movements report names them.
ALTER TABLE write_offs ADD COLUMN actor text NOT NULL DEFAULT 'admin' CHECK (actor <> '');
ALTER TABLE write_offs ALTER COLUMN actor DROP DEFAULT;
ALTER TABLE write_offs ADD COLUMN reversed_by text CHECK (reversed_by <> '');
UPDATE write_offs SET reversed_by = 'admin' WHERE reversed_at IS NOT NULL;
ALTER TABLE write_offs ADD CHECK ((reversed_at IS NULL) = (reversed_by IS NULL));

-- Every notification body carries a "sequence" drawn from here while its
-- change holds the invoice's row lock, so the numbers of one invoice
-- increase in the order its changes commit: a receiver keeps the highest.
CREATE SEQUENCE notification_sequence;
