-- Patient records the pre-order check can match, in blocking order: birth date, then key.
-- Records without a birth date are never linked (see dedup.match.linkage), so they are left
-- out; $birth (a DATE, or NULL for all) keeps one birth date only, for a one-off CLI check.
SELECT patient_key,
       issuer,
       patient_id,
       name,
       CAST(datediff('day', DATE '1970-01-01', birth_date) AS INTEGER) AS birth_day,
       CAST(CASE upper(sex) WHEN 'M' THEN 1 WHEN 'F' THEN 2 ELSE 0 END AS TINYINT) AS sex
FROM patients
WHERE birth_date IS NOT NULL AND ($birth IS NULL OR birth_date = $birth)
ORDER BY birth_date, patient_key
