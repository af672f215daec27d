-- `dedup listen`: one row per duplicate row a run found. The log shows the surrogate keys
-- only (no UID, name or ID); the UIDs are for flagging the study on the PACS. $1 = the run.
SELECT study_key, kind, duplicate_of_study_key, score, bytes_reclaimable, study_uid,
       duplicate_of_study_uid
FROM duplicates
WHERE run_id = $1
ORDER BY study_key, kind, duplicate_of_study_key
