-- Studies to match: never matched, or grown since they were matched.
SELECT s.study_key, s.n_instances
FROM studies AS s
LEFT JOIN matched_studies AS m USING (study_key)
WHERE m.study_key IS NULL OR m.n_instances <> s.n_instances
ORDER BY s.study_key
