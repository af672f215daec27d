-- `dedup listen`'s log: one row per duplicate row a run found (surrogate study keys only, so
-- the log carries no UID, name or ID). $1 = the run.
SELECT study_key, kind, duplicate_of_study_key, score, bytes_reclaimable
FROM duplicates
WHERE run_id = $1
ORDER BY study_key, kind, duplicate_of_study_key
