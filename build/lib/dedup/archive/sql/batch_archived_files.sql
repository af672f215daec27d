-- One row per file hash of the batch (view batch_keys: sop_uid, file_hash) already archived
-- as an indexed or copied file: file_hash. No parameters.
SELECT DISTINCT file_hash
FROM files
WHERE instance_key IS NOT NULL
  AND file_hash IN (SELECT file_hash FROM batch_keys)
