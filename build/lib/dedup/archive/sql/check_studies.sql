-- Studies a pre-order check can return: a known procedure family (a fallback family never
-- raises a repeat warning) and a study date. $birth (a DATE, or NULL for all) keeps the
-- patients born that day only. `location` is where the images are: the folder (or zip file)
-- common to the study's instances as first read, NULL for metadata-only archives.
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
       CAST(datediff('day', DATE '1970-01-01', s.study_date) AS INTEGER) AS study_day,
       s.study_uid,
       s.institution,
       s.description,
       s.modalities,
       s.n_instances,
       f.location
FROM studies AS s
JOIN study_procedures AS sp USING (study_key)
LEFT JOIN folder AS f USING (study_key)
WHERE sp.known AND s.study_date IS NOT NULL
  AND ($birth IS NULL
       OR s.patient_key IN (SELECT patient_key FROM patients WHERE birth_date = $birth))
