-- dedup archive, schema version 9: each instance's side as its DICOM tags give it
-- (dedup.ingest.laterality: Image Laterality, else the Frame Laterality of its Frame Anatomy,
-- else the series' Laterality). A study's side is taken from these before the words of its
-- descriptions (dedup.match.procedures). Instances of earlier versions have NULL: their side
-- comes from the words until they are indexed again.
--   laterality  L, R, B (both), U (unpaired), NULL when no tag gives it
ALTER TABLE instances ADD COLUMN laterality VARCHAR;
