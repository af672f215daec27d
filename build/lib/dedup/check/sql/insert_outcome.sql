-- Records what was decided after a check (one row of `outcomes`; no rows returned); the same
-- decision recorded twice is kept once. Parameters, in order: the 6 columns below.
INSERT OR IGNORE INTO outcomes (check_id, decided_at, outcome, reason, client, channel)
VALUES (?, ?, ?, ?, ?, ?)
