-- One row per study in the view wanted_keys (study_key): study_key, study_uid, first_run,
-- study_date, bytes (what pair classification needs of a study; bytes are those of its
-- content: instances that are no copy of another instance of the study). No parameters.
SELECT s.study_key, s.study_uid, s.first_run, s.study_date,
       coalesce(sum(i.bytes) FILTER (WHERE i.copy_of IS NULL), 0) AS bytes
FROM studies AS s
JOIN wanted_keys USING (study_key)
LEFT JOIN instances AS i USING (study_key)
GROUP BY ALL
