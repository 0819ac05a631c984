-- Performance (issue 20): the worker applies several queued operators'
-- jobs in one transaction. It takes the oldest queued ones of the types it
-- can group; this is what it looks for, and only that: a job leaves the
-- index when it starts.
CREATE INDEX jobs_queued ON jobs (created_at, id) WHERE status = 'queued';
