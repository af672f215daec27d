-- Patient records the pre-order check can match, in blocking order: birth date, then key.
-- Records without a birth date are never linked (see dedup.match.linkage), so they are left
-- out (check_studies.sql and check_links.sql filter alike); $birth (a DATE, or NULL for all)
-- keeps one birth date only, for a one-off CLI check. Sex is coded as
-- dedup.check.link.sex_code does: 1 male, 2 female, 0 anything else or missing.
SELECT patient_key,
       issuer,
       patient_id,
       name,
       CAST(datediff('day', DATE '1970-01-01', birth_date) AS INTEGER) AS birth_day,
       CAST(CASE upper(trim(sex)) WHEN 'M' THEN 1 WHEN 'MALE' THEN 1
                                  WHEN 'F' THEN 2 WHEN 'FEMALE' THEN 2 ELSE 0 END
            AS TINYINT) AS sex
FROM patients
WHERE birth_date IS NOT NULL AND ($birth IS NULL OR birth_date = $birth)
ORDER BY birth_date, patient_key
