-- Reserved: migration 005 (hardening) is made on another branch. tern
-- refuses a gap in the numbering, so this branch holds the number with an
-- empty migration; delete this file when the real 005 is merged.
SELECT 1;
