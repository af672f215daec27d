-- dedup archive, schema version 5: constant images.
-- An instance whose pixels are all one value (a blank frame, a uniform test image, a scout
-- placeholder) says nothing about who was imaged: the fingerprinter flags it, gives it no
-- perceptual hash, and matching leaves its pixel hash out of the study's pixel set.
-- Instances archived before this version keep false; the common-hash stop-list of
-- pixel_overlap.sql still catches blank frames that many patients' studies hold.
ALTER TABLE instances ADD COLUMN blank BOOLEAN DEFAULT false;
