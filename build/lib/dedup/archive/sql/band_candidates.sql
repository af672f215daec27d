-- Candidate pairs by LSH: a queued study (view match_queue) and any other study sharing at
-- least one band key of the same signature kind. An equi-join on (kind, band, band_key), so
-- no study is compared with the whole archive. A pair of two queued studies appears once,
-- under the larger key. Returns the number of shared bands per kind.
WITH queued AS (
    SELECT DISTINCT study_key FROM match_queue
),
hits AS (
    SELECT a.study_key, b.study_key AS other_key, a.kind, count(*) AS bands
    FROM lsh_bands AS a
    JOIN queued USING (study_key)
    JOIN lsh_bands AS b
      ON b.kind = a.kind AND b.band = a.band AND b.band_key = a.band_key
     AND b.study_key <> a.study_key
    GROUP BY ALL
)
SELECT study_key, other_key,
       coalesce(max(bands) FILTER (WHERE kind = 'pixel'), 0) AS pixel_bands,
       coalesce(max(bands) FILTER (WHERE kind = 'header'), 0) AS header_bands
FROM hits
WHERE other_key NOT IN (SELECT study_key FROM queued) OR other_key < study_key
GROUP BY ALL
