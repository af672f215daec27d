-- One row: patients, studies, patient_links (what the metadata generator made). No
-- parameters.
SELECT (SELECT count(*) FROM patients) AS patients,
       (SELECT count(*) FROM studies) AS studies,
       (SELECT count(*) FROM patient_links) AS links
