-- Replace the signatures (view batch_fingerprints: study_key, kind, signature) and LSH band
-- rows (view batch_bands: study_key, kind, band, band_key) of every study in the views.
-- No parameters; runs inside the caller's transaction.
DELETE FROM fingerprints WHERE study_key IN (SELECT DISTINCT study_key FROM batch_fingerprints);
INSERT INTO fingerprints BY NAME SELECT * FROM batch_fingerprints;

DELETE FROM lsh_bands WHERE study_key IN (SELECT DISTINCT study_key FROM batch_bands);
INSERT INTO lsh_bands BY NAME SELECT * FROM batch_bands;
