-- Performance (issue 20): analyzing the webhook inbox reads a tenth of it.
--
-- ANALYZE samples 300 rows for each unit of the largest statistics target
-- of a table's columns: 30,000 rows at the default of 100, and as many
-- random pages of the inbox, whose rows are as long as Stripe's payloads
-- (1.5 KB: five to a page). Autovacuum analyzes a table each time a tenth
-- of its rows changed, and the worker changes every event it applies, so
-- the inbox is analyzed again and again as it grows: measured by make
-- bench, 2.7 s of PostgreSQL's time in a 13 s drain, as much as a tenth of
-- the worker's cost per event. The inbox is read by id, and by status and
-- time through its indexes: its six statuses fit a list of ten most common
-- values, and a histogram of ten buckets places a time well enough. At a
-- target of 10 an analysis samples 3,000 rows (80 ms against 1.06 s for
-- 200,000 events measured alone); the payload, which no statement filters
-- on, has no statistics at all. A column added to events later must be
-- given a target too (TestInboxStatisticsStayLow).
ALTER TABLE events
    ALTER COLUMN id SET STATISTICS 10,
    ALTER COLUMN type SET STATISTICS 10,
    ALTER COLUMN status SET STATISTICS 10,
    ALTER COLUMN source SET STATISTICS 10,
    ALTER COLUMN payload SET STATISTICS 0,
    ALTER COLUMN stripe_created SET STATISTICS 10,
    ALTER COLUMN invoice_id SET STATISTICS 10,
    ALTER COLUMN error SET STATISTICS 10,
    ALTER COLUMN attempts SET STATISTICS 10,
    ALTER COLUMN received_at SET STATISTICS 10,
    ALTER COLUMN processed_at SET STATISTICS 10,
    ALTER COLUMN resolution_action SET STATISTICS 10,
    ALTER COLUMN resolution_notes SET STATISTICS 10,
    ALTER COLUMN resolution_actor SET STATISTICS 10,
    ALTER COLUMN resolved_at SET STATISTICS 10,
    ALTER COLUMN resolved_invoice_id SET STATISTICS 10;
