-- Fold the demo's synthetic checks and outcomes (views demo_checks, demo_outcomes) into the
-- archive; rows already there (same keys) are left alone, so re-running changes nothing.
INSERT OR IGNORE INTO checks BY NAME SELECT * FROM demo_checks;
INSERT OR IGNORE INTO outcomes BY NAME SELECT * FROM demo_outcomes;
