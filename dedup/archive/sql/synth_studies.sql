-- Metadata-only synthetic archive, step 4: a studies row and a study_procedures row per row
-- of synthetic_families (then dropped), and a finished run that linked and matched
-- everything, so a later batch adds to the archive; the key sequences continue after the
-- generated keys. No parameters.
INSERT INTO studies (study_key, study_uid, patient_key, study_date, description,
                     institution, modalities, body_part, n_series, n_instances, bytes,
                     first_run, last_run)
SELECT study_key, study_uid, patient_key, study_date, family, institution,
       split_part(family, ' ', 1), split_part(family, ' ', 2), 1, 1, 0, 1, 1
FROM synthetic_families;

INSERT INTO study_procedures BY NAME
SELECT study_key, family, true AS known, 'description' AS rule, mapping
FROM synthetic_families;

DROP TABLE synthetic_families;

INSERT INTO runs (run_id, command, started_at, ended_at, status, version)
VALUES (nextval('run_ids'), 'synth-metadata', now(), now(), 'ok', 'synthetic');

INSERT INTO linked_patients SELECT patient_key, currval('run_ids') FROM patients;

INSERT INTO matched_studies SELECT study_key, n_instances, currval('run_ids'), now() FROM studies;

SELECT nextval('patient_keys') FROM range((SELECT max(patient_key) FROM patients));

SELECT nextval('study_keys') FROM range((SELECT max(study_key) FROM studies));
