-- One row per study of the batch (view batch_new, after commit_batch.sql): study_uid,
-- study_key. No parameters.
SELECT study_uid, study_key
FROM studies
WHERE study_uid IN (SELECT DISTINCT study_uid FROM batch_new)
