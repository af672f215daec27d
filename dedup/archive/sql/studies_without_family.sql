-- Studies to classify into a procedure family: none yet, or from another mapping version ($1).
-- Columns follow classify_procedure(modalities, body_part, description, code, series,
-- tagged): tagged is the distinct sides the study's instances' tags give (e.g. 'LR').
SELECT s.study_key, s.modalities, s.body_part, s.description, s.procedure_code,
       (SELECT string_agg(DISTINCT se.description, ' | ' ORDER BY se.description)
        FROM series AS se WHERE se.study_key = s.study_key) AS series,
       (SELECT string_agg(DISTINCT i.laterality, '' ORDER BY i.laterality)
        FROM instances AS i WHERE i.study_key = s.study_key) AS tagged
FROM studies AS s
LEFT JOIN study_procedures AS p USING (study_key)
WHERE p.study_key IS NULL OR p.mapping <> $1
ORDER BY s.study_key
