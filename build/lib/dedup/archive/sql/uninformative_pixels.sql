-- The pixel hashes that say nothing about who was imaged, among the studies of the view
-- candidate_pairs(study_key, other_key): blank images (constant pixels, flagged when
-- fingerprinted) and the stop-list of common hashes, held by the studies of more than $1
-- different patients (blank frames archived before the flag, uniform test images, scout
-- placeholders). A pixel hash binds the image format too, so a hash is blank everywhere or
-- nowhere. One row per hash: pixel_hash. Matching leaves these images out of every
-- comparison: pixel sets (pixel_overlap.sql) and acquisition signatures
-- (detail_signatures.sql).
WITH involved AS (
    SELECT study_key FROM candidate_pairs UNION SELECT other_key FROM candidate_pairs
),
hashes AS (
    SELECT DISTINCT i.pixel_hash, coalesce(i.blank, false) AS blank
    FROM instances AS i JOIN involved USING (study_key)
    WHERE i.pixel_hash IS NOT NULL
)
SELECT pixel_hash FROM hashes WHERE blank
UNION
SELECT i.pixel_hash
FROM instances AS i JOIN studies AS s USING (study_key)
WHERE i.pixel_hash IN (SELECT pixel_hash FROM hashes)
GROUP BY i.pixel_hash
HAVING count(DISTINCT s.patient_key) > $1
