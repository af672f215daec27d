-- Brings a log written by an older dedup up to date (no rows; no parameters): the time a
-- caller reported for its decision, kept as reported, never used to order outcomes.
ALTER TABLE outcomes ADD COLUMN reported_at TEXT;
