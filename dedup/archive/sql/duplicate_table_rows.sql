-- `dedup duplicates` as a table for people: one row per row of duplicate_rows.sql (same
-- filters, same order), with the duplicate study's date, institution, modalities and the
-- patient's name (the CLI shows initials only).
-- $1 = kind or NULL, $2 = detected on or after (timestamp) or NULL.
SELECT d.study_uid, d.duplicate_of_study_uid, d.kind, d.score, d.bytes_reclaimable,
       d.detected_at, s.study_date, s.institution, s.modalities, p.name AS patient_name
FROM duplicates AS d
LEFT JOIN studies AS s ON s.study_uid = d.study_uid
LEFT JOIN patients AS p ON p.patient_key = s.patient_key
WHERE ($1 IS NULL OR d.kind = $1) AND ($2 IS NULL OR d.detected_at >= $2)
ORDER BY d.detected_at, d.kind, d.study_uid, d.duplicate_of_study_uid, d.arrival_run
