-- Reserved: migration 008 (operators, issue 19) is made on another branch.
-- tern refuses a gap in the numbering, so this branch holds the number with
-- an empty migration; delete this file when the real 008 is merged.
SELECT 1;
