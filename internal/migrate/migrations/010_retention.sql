-- Hardening (issue 16): the service's own job keys in a space of their own,
-- and the indexes of the daily retention prune.

-- The scheduler keys its reconciliation runs by time slot. Those keys shared
-- the column of operators' Idempotency-Keys, so an operator who posted
-- "reconcile-slot:<a future slot>" made the scheduler's run of that slot
-- fail. The service's own keys live here; operators can never write it.
ALTER TABLE jobs ADD COLUMN internal_key text UNIQUE;

UPDATE jobs SET internal_key = idempotency_key, idempotency_key = NULL
WHERE request_hash = 'scheduler' AND idempotency_key LIKE 'reconcile-slot:%';

-- RETENTION: what the prune looks for, oldest first, and only that. A
-- payload once emptied, a row once deleted, leaves its index, so each day's
-- prune reads only what is left to prune, not the whole history.
--
-- Not CONCURRENTLY: that waits for every other session's snapshot, and a
-- second migrator waiting for tern's advisory lock holds one, so two
-- migrators would deadlock. Building them holds the inbox's inserts for as
-- long as a scan of the events table takes (webhooks may answer 503 and
-- Stripe retries); on a large inbox, run this release at a quiet hour.
CREATE INDEX events_payload_kept ON events (received_at)
    WHERE octet_length(payload) > 0 AND status IN ('processed', 'ignored', 'failed');
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('succeeded', 'failed');
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE status IN ('delivered', 'failed');
CREATE INDEX notifications_created ON notifications (created_at);
