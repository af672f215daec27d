-- Studies the demo's synthetic pre-order checks are derived from (dedup/synth/checks.py):
-- each `repeat` pair (a check that found the prior and was ordered anyway), and each study
-- of a known procedure family that is no duplicate itself (the prior of a later order).
SELECT
    'repeat'           AS source,
    s.study_uid,
    s.study_date,
    s.institution,
    s.patient_key,
    p.family,
    prior.study_uid    AS prior_uid
FROM duplicates AS d
JOIN studies AS s ON s.study_key = d.study_key
JOIN studies AS prior ON prior.study_key = d.duplicate_of_study_key
JOIN study_procedures AS p ON p.study_key = d.study_key
WHERE d.kind = 'repeat' AND s.study_date IS NOT NULL
UNION ALL
SELECT 'prior', s.study_uid, s.study_date, s.institution, s.patient_key, p.family, s.study_uid
FROM studies AS s
JOIN study_procedures AS p USING (study_key)
WHERE p.known
  AND s.study_date IS NOT NULL
  AND s.study_key NOT IN (SELECT study_key FROM duplicates)
ORDER BY source, study_uid
