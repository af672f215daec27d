-- One row per duplicates row (every column of it), placed by its duplicate study: day (the
-- study date, else the day the row was detected), institution, modality group (first word of
-- the procedure family, else the study's first modality) and procedure family, with the
-- study's patient_key and size (study_bytes). A metric query names it as a subquery (the file
-- name in braces); dedup.metrics.filtered_sql puts this query in its place.
SELECT
    d.*,
    s.patient_key,
    coalesce(s.bytes, 0)                                                AS study_bytes,
    coalesce(s.study_date, CAST(d.detected_at AS DATE))                AS day,
    coalesce(s.institution, 'unknown')                                  AS institution,
    coalesce(nullif(split_part(p.family, ' ', 1), ''),
             nullif(split_part(s.modalities, '\', 1), ''), 'unknown')   AS modality,
    coalesce(p.family, 'unknown')                                       AS family
FROM duplicates AS d
LEFT JOIN studies AS s USING (study_key)
LEFT JOIN study_procedures AS p USING (study_key)
