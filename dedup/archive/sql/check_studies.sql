-- Studies a pre-order check can return: a procedure family that names something (rule
-- 'none', a modality class with no body region or body part, names nothing) and a study date,
-- of a patient record check_patients.sql returns (one with a birth date; both queries filter
-- patients alike, so every study has its record). $birth (a DATE, or NULL for all) keeps the
-- patients born that day only. `side` codes the laterality as dedup.check.prior_index reads
-- it: 0 not known, 1 L, 2 R, 3 B, 4 U (no sides). `location` is where the images are: the
-- folder (or zip file) common to the study's instances as first read, NULL for
-- metadata-only archives.
WITH spread AS (
    SELECT study_key, min(location) AS lo, max(location) AS hi
    FROM instances
    GROUP BY study_key
),
folder AS (
    SELECT study_key,
           rtrim(regexp_replace(left(lo, coalesce(list_position(list_transform(
               range(1, least(length(lo), length(hi)) + 1),
               lambda i: substr(lo, i, 1) = substr(hi, i, 1)), false) - 1,
               least(length(lo), length(hi)))), '[^/\\!]*$', ''), '!/') AS location
    FROM spread
)
SELECT s.patient_key,
       sp.family,
       CAST(CASE sp.laterality WHEN 'L' THEN 1 WHEN 'R' THEN 2 WHEN 'B' THEN 3 WHEN 'U' THEN 4
            ELSE 0 END AS TINYINT) AS side,
       CAST(datediff('day', DATE '1970-01-01', s.study_date) AS INTEGER) AS study_day,
       s.study_uid,
       s.institution,
       s.description,
       s.modalities,
       s.n_instances,
       f.location
FROM studies AS s
JOIN patients AS p USING (patient_key)
JOIN study_procedures AS sp USING (study_key)
LEFT JOIN folder AS f USING (study_key)
WHERE sp.rule <> 'none' AND s.study_date IS NOT NULL
  AND p.birth_date IS NOT NULL AND ($birth IS NULL OR p.birth_date = $birth)
