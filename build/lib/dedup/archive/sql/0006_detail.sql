-- dedup archive, schema version 6: the acquisition signature of each image replaces the
-- perceptual hash. 1024 bits (128 bytes) summarising the fine structure and noise of the
-- middle frame (dedup/fingerprint/detail.py): a lossy copy keeps them and a new acquisition
-- of the same anatomy does not, so `near` is decided on it, where the 256-bit block-mean hash
-- could not tell a copy from another patient scanned with the same protocol. Instances
-- archived before this version have no signature: they can be the original of a `near` copy
-- only once they are indexed again (their pixel hashes still make exact, same-content and
-- partial duplicates).
ALTER TABLE instances DROP COLUMN phash;
ALTER TABLE instances ADD COLUMN detail BLOB;
-- 64 bits of the coarse image (32 x 32 means), four 16-bit bands of which make candidates by
-- an equi-join (look_candidates.sql): a copy re-identified with new UIDs, another name and
-- shifted dates shares no header with its source, only its look.
ALTER TABLE instances ADD COLUMN look BIGINT;
