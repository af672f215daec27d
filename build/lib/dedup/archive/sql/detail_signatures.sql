-- One row per study in the view wanted_keys (study_key) with acquisition signatures:
-- study_key, the list of its instances' signatures (instances.detail) in instance order.
-- Left out: instances without one (no pixels, blank, or archived before schema version 6)
-- images whose pixel hash is in the view uninformative_pixels (a placeholder many patients'
-- studies hold is no evidence of a copy) and copies of another image of the study
-- (copy_of). No parameters.
SELECT i.study_key, list(i.detail ORDER BY i.instance_key)
FROM instances AS i
JOIN wanted_keys USING (study_key)
WHERE i.detail IS NOT NULL
  AND i.copy_of IS NULL
  AND i.pixel_hash NOT IN (SELECT pixel_hash FROM uninformative_pixels)
GROUP BY i.study_key
