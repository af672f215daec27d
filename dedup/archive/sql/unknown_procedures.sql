-- Procedures no family row and no body region matched (fallback families, rule fallback or
-- none), most frequent first. No parameters.
SELECT p.family AS fallback_family, s.modalities, s.body_part, s.description,
       count(*) AS studies
FROM study_procedures AS p JOIN studies AS s USING (study_key)
WHERE NOT p.known
GROUP BY ALL
ORDER BY studies DESC, fallback_family, s.description
