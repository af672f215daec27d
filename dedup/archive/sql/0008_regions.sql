-- dedup archive, schema version 8: body region and laterality of each study's procedure
-- family (dedup.match.procedures). A family is a modality class and a body region of DICOM's
-- Common Anatomic Regions (CID 4031); laterality keeps a left knee from being the prior or
-- the repeat of a right one. Rows of earlier versions have NULL in both until the next
-- `dedup match` reclassifies them (the mapping version changed with the region table).
--   region      the Body Part Examined defined term of the region (HEAD, KNEE, ...), NULL
--               when no region was found (a fallback family)
--   laterality  L, R, B (both), U (the region has no sides, as DICOM's Image Laterality
--               uses it), NULL when the side is not known
ALTER TABLE study_procedures ADD COLUMN region VARCHAR;
ALTER TABLE study_procedures ADD COLUMN laterality VARCHAR;
