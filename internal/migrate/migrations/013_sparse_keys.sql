-- Performance (issue 20): keys most rows lack, indexed only where present.
--
-- A unique index holds an entry for every NULL too: an index entry written
-- for nothing on each row, and again on each new version of a row an
-- update cannot keep on its page. Only the scheduler's runs have an
-- internal key, and a job is written when queued and again when it
-- finishes (its status is indexed, so that version is never kept on its
-- page); a manual payment has no money movement. These partial indexes
-- keep the same guarantee, under the same names, for the rows that have a
-- key (as 011_hot_path did for others). A lookup by key = ANY ($1) uses
-- them in a generic plan too: the condition implies the key is not null.
ALTER TABLE jobs DROP CONSTRAINT jobs_internal_key_key;
CREATE UNIQUE INDEX jobs_internal_key_key ON jobs (internal_key) WHERE internal_key IS NOT NULL;
DROP INDEX payments_movement;
CREATE UNIQUE INDEX payments_movement ON payments (movement_id) WHERE movement_id IS NOT NULL;
