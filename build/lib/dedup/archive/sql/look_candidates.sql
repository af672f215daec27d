-- Candidate pairs by look: a queued study (view match_queue) and every other study with an
-- image whose coarse look (instances.look, 64 bits) agrees with one of its images' in one of
-- four 16-bit bands. A lossy, resampled or re-identified copy agrees with its source in
-- nearly every bit, so it lands here whatever its header says; look-alikes of the same
-- protocol land here too and are left to verification on the acquisition signatures.
-- Blank images make no candidates. A pair of two queued studies appears once, under the
-- larger key. Returns study_key, other_key.
WITH queued AS (
    SELECT DISTINCT study_key FROM match_queue
),
bands AS (
    SELECT i.study_key, b.band, (i.look >> (16 * b.band)) & 65535 AS band_key
    FROM instances AS i, range(4) AS b(band)
    WHERE i.look IS NOT NULL AND NOT coalesce(i.blank, false)
),
mine AS (
    SELECT DISTINCT study_key, band, band_key FROM bands JOIN queued USING (study_key)
)
SELECT DISTINCT m.study_key, t.study_key AS other_key
FROM mine AS m
JOIN bands AS t
  ON t.band = m.band AND t.band_key = m.band_key AND t.study_key <> m.study_key
WHERE t.study_key NOT IN (SELECT study_key FROM queued) OR t.study_key < m.study_key
