-- Linked patient record pairs: the linkage model's decisions. Only linked pairs count as the
-- same person (precision over recall). Both records are ones check_patients.sql returns (with
-- a birth date; both queries filter patients alike). $birth (a DATE, or NULL for all) keeps
-- the pairs of patients born that day (linked records always share their birth date).
SELECT l.patient_key_a, l.patient_key_b, l.match_probability, l.reasons
FROM patient_links AS l
JOIN patients AS a ON a.patient_key = l.patient_key_a
JOIN patients AS b ON b.patient_key = l.patient_key_b
WHERE l.linked
  AND a.birth_date IS NOT NULL AND b.birth_date IS NOT NULL
  AND ($birth IS NULL OR (a.birth_date = $birth AND b.birth_date = $birth))
