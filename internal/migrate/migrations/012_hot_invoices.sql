-- Performance (issue 20): an invoice's recompute is a heap-only (HOT) update.
--
-- Every ledger change rewrites its invoice's totals, state and updated_at.
-- PostgreSQL can keep the new version on the same page without touching any
-- index only when no indexed column changes and the page has room. Three
-- indexes named those columns, so each change wrote an entry into all seven
-- of the invoice's indexes, at random places, each first touch after a
-- checkpoint a full page in the WAL: measured alone, 66 µs and 1.2 KB of
-- WAL per invoice updated, against 20 µs and 260 B as a HOT update.

-- Room on each page for the next versions of its rows. Invoices created
-- together sit on the same page and are often paid together, in one group
-- of the worker: a version is pruned only once no transaction can see it,
-- so the page needs room for a new version of most of its rows at once.
-- make bench's drain pays invoices seeded side by side: at 85, 32% of the
-- invoice updates were HOT; at 50, 97%. It applies to pages written from now
-- on; VACUUM FULL invoices applies it to an existing table.
ALTER TABLE invoices SET (fillfactor = 50);

-- Incremental reconciliation finds what changed since its watermark in the
-- history every change writes (invoice_history.at), not in updated_at.
-- History is appended in time order, so a block-range index finds a span of
-- it for a few pages of index, and costs an insert next to nothing.
DROP INDEX invoices_updated_id;
CREATE INDEX invoice_history_at ON invoice_history USING brin (at);

-- Listing by state filters the newest-first listing index, as a search
-- does: a page of a rare state reads further, where the index cost every
-- change its writes. The overpaid ones are kept in a table of their own.
DROP INDEX invoices_state_listing;
DROP INDEX invoices_overpaid;

-- The overpaid invoices, for the run's report of every one of them: a
-- recompute adds its invoice when its balance falls below zero and removes
-- it when it rises again, an index probe when nothing changes. It stands in
-- for an index on balance, which would cost every change its HOT update.
CREATE TABLE overpaid_invoices (
    invoice_id text PRIMARY KEY REFERENCES invoices (id)
);
INSERT INTO overpaid_invoices (invoice_id) SELECT id FROM invoices WHERE balance < 0;
