-- Bytes the stored duplicates inside one study reclaim (rows with study_key =
-- duplicate_of_study_key other than `exact`, whose bytes are re-sent files, not instances),
-- for the studies of the view wanted_keys (study_key), leaving out the studies of the view
-- match_queue (their rows are being replaced). One row per study: study_key, bytes.
SELECT d.study_key, sum(d.bytes_reclaimable) AS bytes
FROM duplicates AS d
JOIN wanted_keys USING (study_key)
WHERE d.study_key = d.duplicate_of_study_key
  AND d.kind <> 'exact'
  AND d.study_key NOT IN (SELECT study_key FROM match_queue)
GROUP BY d.study_key
