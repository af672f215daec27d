-- The latest batch runs, newest first: how each ended and what it did.
-- Parameter: $limit (rows).
SELECT
    run_id, command, status, started_at, ended_at,
    date_diff('second', started_at, ended_at) AS seconds,
    files, studies, series, instances, skipped, recognised, quarantined, bytes, errors, version
FROM runs
ORDER BY run_id DESC
LIMIT $limit
