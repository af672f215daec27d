-- What the snapshot holds: enough to tell an empty archive from a quiet one.
SELECT
    (SELECT count(*) FROM studies)                 AS studies,
    (SELECT count(*) FROM instances)               AS instances,
    (SELECT CAST(coalesce(sum(bytes), 0) AS BIGINT) FROM studies) AS bytes,
    (SELECT count(*) FROM duplicates)              AS duplicates,
    (SELECT count(*) FROM runs)                    AS runs,
    (SELECT max(ended_at) FROM runs)               AS last_run_ended
