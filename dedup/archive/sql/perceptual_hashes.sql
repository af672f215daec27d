-- One row per study in the view wanted_keys (study_key) with perceptual hashes: study_key,
-- the list of its instances' hashes in instance order. No parameters.
SELECT i.study_key, list(i.phash ORDER BY i.instance_key)
FROM instances AS i
JOIN wanted_keys USING (study_key)
WHERE i.phash IS NOT NULL
GROUP BY i.study_key
