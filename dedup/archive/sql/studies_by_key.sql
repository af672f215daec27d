-- One row per study in the view wanted_keys (study_key): study_key, study_uid, first_run,
-- study_date, bytes (what pair classification needs of a study). No parameters.
SELECT s.study_key, s.study_uid, s.first_run, s.study_date, s.bytes
FROM studies AS s
JOIN wanted_keys USING (study_key)
