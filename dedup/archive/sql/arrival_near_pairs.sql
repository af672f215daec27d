-- Pairs of images of one queued study (view match_queue: study_key) that may be a lossy copy
-- (copy_*) of an image the study held before (source_*): the copy has the same SOP Instance
-- UID with other pixels (conflict_of), or it arrived in a later run and is lossy-compressed
-- (a transfer syntax in $1) at its source's size. A study's own later series (a
-- reconstruction at another size, a reformat, the rest of a study sent the next day) is
-- stored without loss, so it is never a candidate. Both need acquisition signatures and other pixel hashes,
-- neither hash in the view uninformative_pixels. One row per pair: study_key, arrival_run,
-- copy_key, copy_bytes, copy_detail, source_key, source_detail.
-- $1 = the lossy transfer syntax UIDs (VARCHAR[]).
WITH images AS (
    SELECT i.*
    FROM instances AS i
    JOIN match_queue USING (study_key)
    WHERE i.detail IS NOT NULL
      AND i.pixel_hash NOT IN (SELECT pixel_hash FROM uninformative_pixels)
)
SELECT c.study_key, c.run_id AS arrival_run, c.instance_key AS copy_key, c.bytes AS copy_bytes,
       c.detail AS copy_detail, s.instance_key AS source_key, s.detail AS source_detail
FROM images AS c
JOIN images AS s ON s.study_key = c.study_key AND s.instance_key <> c.instance_key
WHERE c.pixel_hash IS DISTINCT FROM s.pixel_hash
  AND (c.conflict_of = s.instance_key
       OR (c.run_id > s.run_id AND list_contains($1, c.transfer_syntax)
           AND c.rows = s.rows AND c.columns = s.columns))
ORDER BY c.study_key, c.instance_key, s.instance_key
