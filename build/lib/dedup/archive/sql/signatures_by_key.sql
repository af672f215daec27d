-- One row per study in the view wanted_keys (study_key) with a signature of the kind asked:
-- study_key, signature. $1 = kind ('header' or 'pixel').
SELECT f.study_key, f.signature
FROM fingerprints AS f
JOIN wanted_keys USING (study_key)
WHERE f.kind = $1
