-- Metadata-only synthetic archive, step 2: one patient_links row per person with two
-- records, as the linkage model would have stored it. The two records of one person are
-- neighbours in key order (same patient ID suffix). No parameters.
INSERT INTO patient_links
SELECT patient_key, next_key, 0.99978, 12.2, true,
       '["birth date equal", "name: middle name missing or different", "sex equal"]', NULL
FROM (SELECT patient_key, split_part(patient_id, '-', 2) AS person,
             lead(patient_key) OVER (ORDER BY patient_key) AS next_key,
             lead(split_part(patient_id, '-', 2)) OVER (ORDER BY patient_key) AS next_person
      FROM patients)
WHERE person = next_person;
