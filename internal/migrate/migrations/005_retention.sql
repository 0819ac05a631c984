-- Hardening (issue 16): the service's own job keys in a space of their own.

-- The scheduler keys its reconciliation runs by time slot. Those keys shared
-- the column of operators' Idempotency-Keys, so an operator who posted
-- "reconcile-slot:<a future slot>" made the scheduler's run of that slot
-- fail. The service's own keys live here; operators can never write it.
ALTER TABLE jobs ADD COLUMN internal_key text UNIQUE;

UPDATE jobs SET internal_key = idempotency_key, idempotency_key = NULL
WHERE request_hash = 'scheduler' AND idempotency_key LIKE 'reconcile-slot:%';
