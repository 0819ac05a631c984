-- Performance (issue 20): a key most jobs lack, indexed only where present.
--
-- A unique index holds an entry for every NULL too: an index entry written
-- for nothing on each job, and again on each of its new versions (a job
-- is written when queued and when it finishes, and a status change is
-- never kept on its page: the status is indexed). Only the scheduler's
-- runs have an internal key. This partial index keeps the same guarantee,
-- under the same name, for the jobs that have one (as 011_hot_path did
-- for other keys).
--
-- payments_movement stays whole, although a manual payment has no
-- movement: it is looked up with movement_id = ANY ($1), and a generic
-- plan cannot prove such a condition implies the partial index's.
ALTER TABLE jobs DROP CONSTRAINT jobs_internal_key_key;
CREATE UNIQUE INDEX jobs_internal_key_key ON jobs (internal_key) WHERE internal_key IS NOT NULL;
