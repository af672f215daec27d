-- Adds the check-log rows of the registered view `folded_rows` to `checks` (no rows
-- returned; no parameters). Checks folded before (same check_id) are skipped.
INSERT OR IGNORE INTO checks BY NAME SELECT * FROM folded_rows
