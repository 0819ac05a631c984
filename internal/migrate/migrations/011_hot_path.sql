-- Performance (issue 20): what the worker's hot path writes and looks for.

-- The worker applies several queued operators' jobs in one transaction. It
-- takes the oldest queued ones of the types it can group; this is what it
-- looks for, and only that: a job leaves the index when it starts.
CREATE INDEX jobs_queued ON jobs (created_at, id) WHERE status = 'queued';

-- Keys that most rows lack: a Stripe payment has no Idempotency-Key, a
-- Stripe event's history row no operation key, most invoices no Stripe
-- invoice. A unique constraint indexes every NULL too, an index entry
-- written for nothing on each payment, history row and invoice update;
-- these partial indexes keep the same guarantee, under the same names, for
-- the rows that have a key.
ALTER TABLE payments DROP CONSTRAINT payments_idempotency_key_key;
CREATE UNIQUE INDEX payments_idempotency_key_key ON payments (idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE invoice_history DROP CONSTRAINT invoice_history_op_key_key;
CREATE UNIQUE INDEX invoice_history_op_key_key ON invoice_history (op_key) WHERE op_key IS NOT NULL;
ALTER TABLE invoices DROP CONSTRAINT invoices_stripe_invoice_id_key;
CREATE UNIQUE INDEX invoices_stripe_invoice_id_key ON invoices (stripe_invoice_id) WHERE stripe_invoice_id IS NOT NULL;
