-- Performance (issue 20): the inbox's index on status holds only the events
-- still waiting for something.
--
-- events_status_listing held an entry for every event, and the worker's
-- update of an event from received to processed (the commonest change the
-- ledger makes) moves the row, so each event applied wrote a second entry
-- there, read by nobody: the inbox is searched by status only for the few
-- events still to finish or to look at (the relay sweep's received, each
-- run's unmatched, the operators' needs_review and failed). An event
-- processed or ignored, the great majority, now leaves that index, and its
-- update writes one index entry fewer; listings of processed or ignored
-- events read the inbox newest first through events_listing, where they
-- are most rows. The statuses are those of reconcile.waitingStatusSQL,
-- which the queries that read this index repeat, so that a plan made for
-- any status parameter may use it.
--
-- Not CONCURRENTLY, as in 010: on a large inbox, run this release at a quiet
-- hour.
CREATE INDEX events_waiting ON events (status, received_at DESC, id DESC)
    WHERE status IN ('received', 'unmatched', 'needs_review', 'failed');
DROP INDEX events_status_listing;
