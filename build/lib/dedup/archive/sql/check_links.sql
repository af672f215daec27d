-- Linked patient record pairs: the linkage model's decisions. Only linked pairs count as the
-- same person (precision over recall). $birth (a DATE, or NULL for all) keeps the pairs of
-- patients born that day (linked records always share their birth date).
SELECT patient_key_a, patient_key_b, match_probability, reasons
FROM patient_links
WHERE linked
  AND ($birth IS NULL
       OR patient_key_a IN (SELECT patient_key FROM patients WHERE birth_date = $birth))
