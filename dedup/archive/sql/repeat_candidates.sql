-- Candidate repeats: a queued study (view match_queue) and another study of the same person
-- (the same patient record, or a linked one) in the same known procedure family and on the
-- same side, whose study dates lie within that family's look-back window (view
-- lookback_windows: family, days; a row named by a modality class alone, e.g. XR, is the
-- default of that class's families). Sides: the same letter (U = a region without sides),
-- or one study of both sides (B) and the other of one; a side not known on either study
-- makes no repeat (a false repeat costs more than a missed one). A pair of two queued
-- studies appears once, under the larger key.
WITH queued AS (
    SELECT s.study_key, s.patient_key, s.study_date, p.family, p.laterality,
           coalesce(w.days, c.days) AS days
    FROM (SELECT DISTINCT study_key FROM match_queue) AS q
    JOIN studies AS s USING (study_key)
    JOIN study_procedures AS p USING (study_key)
    LEFT JOIN lookback_windows AS w ON w.family = p.family
    LEFT JOIN lookback_windows AS c ON c.family = split_part(p.family, ' ', 1)
    WHERE p.known AND s.study_date IS NOT NULL AND coalesce(w.days, c.days) IS NOT NULL
),
people AS (
    SELECT patient_key AS a, patient_key AS b, 1.0 AS link_probability, NULL AS reasons
    FROM patients
    UNION ALL
    SELECT patient_key_a, patient_key_b, match_probability, reasons
    FROM patient_links WHERE linked
    UNION ALL
    SELECT patient_key_b, patient_key_a, match_probability, reasons
    FROM patient_links WHERE linked
)
SELECT q.study_key, o.study_key AS other_key, q.family, q.days AS window_days,
       abs(datediff('day', o.study_date, q.study_date)) AS days_apart,
       pe.link_probability, pe.reasons AS link_reasons
FROM queued AS q
JOIN people AS pe ON pe.a = q.patient_key
JOIN studies AS o ON o.patient_key = pe.b AND o.study_key <> q.study_key
JOIN study_procedures AS op ON op.study_key = o.study_key AND op.family = q.family
WHERE o.study_date IS NOT NULL
  AND (op.laterality = q.laterality
       OR (op.laterality = 'B' AND q.laterality IN ('L', 'R'))
       OR (q.laterality = 'B' AND op.laterality IN ('L', 'R')))
  AND abs(datediff('day', o.study_date, q.study_date)) <= q.days
  AND (o.study_key NOT IN (SELECT study_key FROM queued) OR o.study_key < q.study_key)
