-- One row per stored signature of a study in the batch (view batch_new): study_key, kind,
-- signature (the MinHash the batch's tokens are merged into). No parameters.
SELECT study_key, kind, signature
FROM fingerprints
WHERE study_key IN (SELECT s.study_key FROM studies AS s JOIN batch_new USING (study_uid))
