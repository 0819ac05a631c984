-- Reserved: migration 007 (credit notes, issue 17b) is made on another
-- branch. tern refuses a gap in the numbering, so this branch holds the
-- number with an empty migration; delete this file when the real 007 is
-- merged.
SELECT 1;
