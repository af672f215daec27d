-- Exact overlap of the instance pixel-hash sets of each candidate pair (view
-- candidate_pairs(study_key, other_key)), and the bytes of each side's instances whose
-- pixels the other side holds (what removing that side would reclaim).
-- Uninformative pixel hashes (view uninformative_pixels, see uninformative_pixels.sql) count
-- neither in the set sizes nor as shared, so they cannot make a pair same-content or
-- partial. Objects without pixels (reports, presentation states: rows = 0, hashed by their
-- content) are counted apart: n_*_objects and shared_objects. A template report or
-- presentation state hashes alike for many patients, so they count only beside shared images
-- (dedup/match/run.py). Their bytes still count as reclaimable when the rest makes the pair
-- a duplicate. An instance that is a copy of another instance of its study (copy_of, set by
-- set_instance_copies.sql) is not the study's content: it counts neither in the sets nor in
-- the bytes (its study's own duplicates row reclaims it).
WITH involved AS (
    SELECT study_key FROM candidate_pairs UNION SELECT other_key FROM candidate_pairs
),
scored AS (
    SELECT i.study_key, i.pixel_hash, sum(i.bytes) AS bytes,
           bool_and(coalesce(i.rows, 0) = 0) AS object,
           i.pixel_hash NOT IN (SELECT pixel_hash FROM uninformative_pixels) AS informative
    FROM instances AS i JOIN involved USING (study_key)
    WHERE i.pixel_hash IS NOT NULL AND i.copy_of IS NULL
    GROUP BY i.study_key, i.pixel_hash
),
sizes AS (
    SELECT study_key, count(*) FILTER (WHERE informative AND NOT object) AS n,
           count(*) FILTER (WHERE informative AND object) AS n_objects
    FROM scored GROUP BY study_key
),
shared AS (
    SELECT c.study_key, c.other_key,
           count(*) FILTER (WHERE a.informative AND NOT a.object) AS shared,
           count(*) FILTER (WHERE a.informative AND a.object) AS shared_objects,
           sum(a.bytes) AS bytes_study, sum(b.bytes) AS bytes_other
    FROM candidate_pairs AS c
    JOIN scored AS a ON a.study_key = c.study_key
    JOIN scored AS b ON b.study_key = c.other_key AND b.pixel_hash = a.pixel_hash
    GROUP BY ALL
)
SELECT c.study_key, c.other_key,
       coalesce(sa.n, 0) AS n_study, coalesce(sb.n, 0) AS n_other,
       coalesce(x.shared, 0) AS shared,
       coalesce(sa.n_objects, 0) AS n_study_objects, coalesce(sb.n_objects, 0) AS n_other_objects,
       coalesce(x.shared_objects, 0) AS shared_objects,
       coalesce(x.bytes_study, 0) AS bytes_study, coalesce(x.bytes_other, 0) AS bytes_other
FROM candidate_pairs AS c
LEFT JOIN sizes AS sa ON sa.study_key = c.study_key
LEFT JOIN sizes AS sb ON sb.study_key = c.other_key
LEFT JOIN shared AS x ON x.study_key = c.study_key AND x.other_key = c.other_key
