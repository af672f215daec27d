-- Record a new run as 'running'; returns one row, its run_id. $1 = command, $2 = dedup
-- version, $3 = host name.
INSERT INTO runs (run_id, command, started_at, status, version, host)
VALUES (nextval('run_ids'), $1, now(), 'running', $2, $3)
RETURNING run_id
