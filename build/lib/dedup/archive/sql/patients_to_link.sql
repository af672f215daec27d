-- Patient records to compare: every record sharing a birth date with a record not linked
-- yet (is_new marks the latter).
WITH fresh AS (
    SELECT p.patient_key, p.birth_date
    FROM patients AS p LEFT JOIN linked_patients AS l USING (patient_key)
    WHERE l.patient_key IS NULL
)
SELECT p.patient_key, p.issuer, p.name, p.birth_date, p.sex,
       p.patient_key IN (SELECT patient_key FROM fresh) AS is_new
FROM patients AS p
WHERE p.birth_date IN (SELECT birth_date FROM fresh)
   OR p.patient_key IN (SELECT patient_key FROM fresh)
ORDER BY p.patient_key
