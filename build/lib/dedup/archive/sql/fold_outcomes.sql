-- Adds the check-log rows of the registered view `folded_rows` to `outcomes` (no rows
-- returned; no parameters). Outcomes folded before (same check_id and decided_at) are skipped.
INSERT OR IGNORE INTO outcomes BY NAME SELECT * FROM folded_rows
