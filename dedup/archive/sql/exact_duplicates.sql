-- Exact duplicates: re-sent copies of archived instances (files with status 'copy'), one row
-- per archived study; study_uid = duplicate_of_study_uid because the re-send brings no new
-- study. arrival_run is the first run that read copies, the evidence lists them all (a run
-- killed and resumed reads its copies in two runs: still one row). New rows are inserted;
-- rows whose copies grew are updated. $1 = run id.
INSERT INTO duplicates
SELECT s.study_uid, s.study_uid, 'exact', 1.0, c.bytes, now(), s.study_key, s.study_key,
       s.study_key, $1,
       json_object('copies', c.copies, 'instances_copied', c.instances,
                   'study_instances', s.n_instances, 'arrival_runs', c.arrival_runs)::VARCHAR,
       c.arrival_run
FROM (SELECT i.study_key, min(f.run_id) AS arrival_run,
             list(DISTINCT f.run_id ORDER BY f.run_id) AS arrival_runs, count(*) AS copies,
             count(DISTINCT i.instance_key) AS instances, sum(f.size) AS bytes
      FROM files AS f JOIN instances AS i USING (instance_key)
      WHERE f.status = 'copy'
      GROUP BY i.study_key) AS c
JOIN studies AS s USING (study_key)
ON CONFLICT (study_key, duplicate_of_study_key, kind, arrival_run) DO UPDATE
SET bytes_reclaimable = excluded.bytes_reclaimable, evidence = excluded.evidence,
    run_id = excluded.run_id
WHERE duplicates.bytes_reclaimable <> excluded.bytes_reclaimable
