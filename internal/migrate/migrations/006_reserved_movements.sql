-- Reserved: migration 006 (movements, refunds and disputes, issue 17a) is
-- made on another branch. tern refuses a gap in the numbering, so this
-- branch holds the number with an empty migration; delete this file when the
-- real 006 is merged.
SELECT 1;
