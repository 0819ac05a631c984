-- Performance (issue 20): one index of the jobs not finished, where there
-- were two.
--
-- jobs_queued (011) held the queued jobs in queue order, for the worker's
-- claim of jobs to group; jobs_unfinished (001) held the queued, running
-- and retrying ones by their last change, for the relay sweep. Every job
-- is created queued, so each job created wrote an entry in both. This
-- index holds the unfinished jobs in queue order and serves both: the claim
-- reads the oldest and skips those not queued (a job that does not group,
-- started by its own task: few at a time), and the sweep reads every
-- unfinished job, few in a working system, and keeps those untouched for
-- its interval. The statuses are those of reconcile.unfinishedJobSQL,
-- which the sweep repeats; the claim's (queued) is one of them.
--
-- Not CONCURRENTLY, as in 010: run this release at a quiet hour.
CREATE INDEX jobs_waiting ON jobs (created_at, id) WHERE status IN ('queued', 'running', 'retrying');
DROP INDEX jobs_queued;
DROP INDEX jobs_unfinished;
