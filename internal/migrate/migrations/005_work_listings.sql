-- The operators' work queue lists jobs and events newest first, filtered by
-- status, type or invoice, a page at a time from a (time, id) cursor: each
-- page is an index range, however deep.
CREATE INDEX jobs_listing ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_invoice_listing ON jobs (invoice_id, created_at DESC, id DESC) WHERE invoice_id IS NOT NULL;
CREATE INDEX events_listing ON events (received_at DESC, id DESC);
CREATE INDEX events_status_listing ON events (status, received_at DESC, id DESC);
DROP INDEX events_status;
