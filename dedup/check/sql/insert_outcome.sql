-- Records what was decided after a check (one row of `outcomes`; no rows returned). The
-- caller (dedup.check.outcome) stores each at a time after the check's latest outcome, so
-- no row collides. Parameters, in order: the 7 columns below.
INSERT INTO outcomes (check_id, decided_at, outcome, reason, client, channel, reported_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
