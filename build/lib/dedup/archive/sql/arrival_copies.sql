-- Images and objects of the queued studies (view match_queue: study_key) whose content the
-- same study already held under another SOP Instance UID: an image re-sent with a new UID, or
-- a lossless transcode of it. "Already held": an instance of the study with the same pixel
-- (or content) hash committed before it (a smaller instance_key). Blank images and the hashes
-- of the view uninformative_pixels never count. One row per such instance: study_key,
-- arrival_run (the run it arrived in), instance_key, bytes, source_key (the first instance of
-- the study with its hash). No parameters.
WITH held AS (
    SELECT i.study_key, i.run_id, i.instance_key, i.bytes,
           min(i.instance_key) OVER (PARTITION BY i.study_key, i.pixel_hash) AS first_key
    FROM instances AS i
    JOIN match_queue USING (study_key)
    WHERE i.pixel_hash IS NOT NULL
      AND NOT coalesce(i.blank, false)
      AND i.pixel_hash NOT IN (SELECT pixel_hash FROM uninformative_pixels)
)
SELECT study_key, run_id AS arrival_run, instance_key, bytes, first_key AS source_key
FROM held
WHERE instance_key > first_key
ORDER BY study_key, instance_key
