-- Candidate pairs by shared pixels: a queued study (view match_queue) and every other study
-- holding at least one of its instance pixel hashes. An equi-join on pixel_hash, so one shared
-- image makes a candidate at any containment (one series of three re-sent under new UIDs),
-- where MinHash bands find only a high Jaccard. Blank images make no candidates, nor do
-- hashes held by the studies of more than $1 patients (placeholders, test images), which
-- verification would not count either. A pair of two queued studies appears once, under the
-- larger key. Returns study_key, other_key.
WITH queued AS (
    SELECT DISTINCT study_key FROM match_queue
),
mine AS (
    SELECT DISTINCT i.study_key, i.pixel_hash
    FROM instances AS i JOIN queued USING (study_key)
    WHERE i.pixel_hash IS NOT NULL AND NOT coalesce(i.blank, false)
      AND coalesce(i.rows, 0) > 0  -- a template report or presentation state is no evidence
),
holders AS (
    SELECT DISTINCT m.study_key, i.study_key AS other_key, m.pixel_hash
    FROM mine AS m
    JOIN instances AS i ON i.pixel_hash = m.pixel_hash AND i.study_key <> m.study_key
),
common AS (
    SELECT h.pixel_hash
    FROM holders AS h JOIN studies AS s ON s.study_key = h.other_key
    GROUP BY h.pixel_hash
    HAVING count(DISTINCT s.patient_key) > $1
)
SELECT DISTINCT study_key, other_key
FROM holders
WHERE pixel_hash NOT IN (SELECT pixel_hash FROM common)
  AND (other_key NOT IN (SELECT study_key FROM queued) OR other_key < study_key)
