-- How many images and objects each arrival of a queued study (view match_queue: study_key)
-- brought: study_key, arrival_run, instances. No parameters.
SELECT i.study_key, i.run_id AS arrival_run, count(*) AS instances
FROM instances AS i
JOIN match_queue USING (study_key)
GROUP BY ALL
