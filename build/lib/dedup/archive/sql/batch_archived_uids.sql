-- One row per archived instance whose SOP Instance UID is in the batch (view batch_keys:
-- sop_uid, file_hash): sop_uid, pixel_hash. No parameters.
SELECT sop_uid, pixel_hash
FROM instances
WHERE sop_uid IN (SELECT sop_uid FROM batch_keys)
