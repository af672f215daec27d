-- `dedup duplicates`: one row per duplicate pair (and, inside one study, per kind and
-- arrival: arrival_run is the run that brought the duplicate), stable columns first.
-- $1 = kind or NULL, $2 = detected on or after (timestamp) or NULL.
SELECT study_uid, duplicate_of_study_uid, kind, score, bytes_reclaimable, detected_at,
       arrival_run
FROM duplicates
WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR detected_at >= $2)
ORDER BY detected_at, kind, study_uid, duplicate_of_study_uid, arrival_run
