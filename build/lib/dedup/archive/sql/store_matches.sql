-- Store one chunk of matching results (views chunk_keys: the queued studies, chunk_rows: the
-- pairs found) and mark the chunk matched. Rows a re-matched study produced before are
-- replaced, and so is any earlier verdict on a pair of two studies found again (a pair has one
-- kind; only a study's duplicates of its own have one row per kind and arrival). Exact rows
-- come from exact_duplicates.sql and are left alone.
DELETE FROM duplicates
WHERE kind <> 'exact'
  AND (matched_study_key IN (SELECT study_key FROM chunk_keys)
       OR (study_key, duplicate_of_study_key) IN (
           SELECT (study_key, duplicate_of_study_key) FROM chunk_rows
           WHERE study_key <> duplicate_of_study_key));

INSERT INTO duplicates
SELECT study_uid, duplicate_of_study_uid, kind, score, bytes_reclaimable, now(), study_key,
       duplicate_of_study_key, matched_study_key, run_id, evidence, arrival_run
FROM chunk_rows
ON CONFLICT (study_key, duplicate_of_study_key, kind, arrival_run) DO UPDATE
SET score = excluded.score, bytes_reclaimable = excluded.bytes_reclaimable,
    evidence = excluded.evidence, matched_study_key = excluded.matched_study_key,
    run_id = excluded.run_id;

INSERT OR REPLACE INTO matched_studies
SELECT c.study_key, s.n_instances, c.run_id, now()
FROM chunk_keys AS c JOIN studies AS s USING (study_key);
