-- Linked patient record pairs (the linkage model's decision), as patient positions of
-- check_patients.sql. Only linked pairs count as the same person: precision over recall.
WITH prow AS (
    SELECT patient_key, row_number() OVER (ORDER BY birth_date, patient_key) - 1 AS prow
    FROM patients
    WHERE birth_date IS NOT NULL AND ($birth IS NULL OR birth_date = $birth)
)
SELECT a.prow AS row_a, b.prow AS row_b, l.match_probability, l.reasons
FROM patient_links AS l
JOIN prow AS a ON a.patient_key = l.patient_key_a
JOIN prow AS b ON b.patient_key = l.patient_key_b
WHERE l.linked
