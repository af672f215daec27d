-- Commit one batch of new instances. Runs inside the batch transaction over the views
-- batch_new (one row per new instance, `ord` = walk order, `run_id` constant),
-- batch_copies (inputs whose content is already archived) and batch_quarantine.
-- A new instance whose SOP Instance UID is archived (or earlier in the batch) with other
-- pixels is inserted with conflict_of = the first instance of that UID.

INSERT INTO patients
SELECT nextval('patient_keys'), issuer, patient_id, patient_name,
       try_strptime(birth_date, '%Y%m%d')::DATE, sex, institution
FROM (SELECT *, row_number() OVER (PARTITION BY issuer, patient_id ORDER BY ord) AS rn
      FROM batch_new) AS b
WHERE rn = 1
  AND NOT EXISTS (SELECT 1 FROM patients AS p
                  WHERE p.issuer = b.issuer AND p.patient_id = b.patient_id);

INSERT INTO studies
SELECT nextval('study_keys'), b.study_uid, p.patient_key,
       try_strptime(b.study_date, '%Y%m%d')::DATE, b.study_time, b.accession,
       b.study_description, b.procedure_code, b.institution, b.modality, b.body_part,
       0, 0, 0, b.run_id, b.run_id
FROM (SELECT *, row_number() OVER (PARTITION BY study_uid ORDER BY ord) AS rn
      FROM batch_new) AS b
JOIN patients AS p USING (issuer, patient_id)
WHERE b.rn = 1
  AND NOT EXISTS (SELECT 1 FROM studies AS s WHERE s.study_uid = b.study_uid);

INSERT INTO series
SELECT nextval('series_keys'), b.series_uid, s.study_key, b.modality, b.series_number,
       b.series_description, b.body_part, 0
FROM (SELECT *, row_number() OVER (PARTITION BY series_uid ORDER BY ord) AS rn
      FROM batch_new) AS b
JOIN studies AS s USING (study_uid)
WHERE b.rn = 1
  AND NOT EXISTS (SELECT 1 FROM series AS x WHERE x.series_uid = b.series_uid);

INSERT INTO instances (instance_key, sop_uid, series_key, study_key, sop_class_uid,
                       transfer_syntax, instance_number, rows, columns, frames, pixel_hash,
                       file_hash, bytes, location, run_id, blank, detail, look, laterality)
SELECT nextval('instance_keys'), b.sop_uid, se.series_key, st.study_key, b.sop_class_uid,
       b.transfer_syntax, b.instance_number, b.rows, b.columns, b.frames, b.pixel_hash,
       b.file_hash, b.size, b.location, b.run_id, b.blank, b.detail, b.look,
       nullif(b.laterality, '')
FROM batch_new AS b
JOIN series AS se USING (series_uid)
JOIN studies AS st USING (study_uid)
ORDER BY b.ord;

UPDATE instances SET conflict_of = first.instance_key
FROM (SELECT sop_uid, min(instance_key) AS instance_key FROM instances
      WHERE sop_uid IN (SELECT sop_uid FROM batch_new)
      GROUP BY sop_uid HAVING count(*) > 1) AS first
WHERE instances.sop_uid = first.sop_uid
  AND instances.instance_key > first.instance_key
  AND instances.conflict_of IS NULL;

INSERT OR REPLACE INTO files
SELECT b.location, b.size, b.mtime, b.file_hash, i.instance_key, 'indexed', b.run_id
FROM batch_new AS b JOIN instances AS i ON i.location = b.location AND i.run_id = b.run_id;

-- a copy belongs to the archived file of its bytes, else to the instance of its UID and pixels
INSERT OR REPLACE INTO files
SELECT c.location, c.size, c.mtime, c.file_hash,
       coalesce(any_value(f.instance_key), min(i.instance_key)), 'copy', c.run_id
FROM batch_copies AS c
LEFT JOIN files AS f ON f.file_hash = c.file_hash AND f.instance_key IS NOT NULL
LEFT JOIN instances AS i ON i.sop_uid = c.sop_uid
     AND i.pixel_hash IS NOT DISTINCT FROM c.pixel_hash
GROUP BY c.location, c.size, c.mtime, c.file_hash, c.run_id;

INSERT OR REPLACE INTO files
SELECT location, size, mtime, NULL, NULL, 'quarantined', run_id
FROM batch_quarantine WHERE remember;

INSERT INTO quarantine
SELECT location, reason, detail, size, run_id, run_id FROM batch_quarantine
ON CONFLICT (location, reason) DO UPDATE
SET detail = excluded.detail, size = excluded.size, last_run = excluded.last_run;

UPDATE series SET n_instances = agg.n
FROM (SELECT series_key, count(*) AS n FROM instances
      WHERE series_key IN (SELECT se.series_key FROM series AS se
                           JOIN batch_new AS b USING (series_uid))
      GROUP BY series_key) AS agg
WHERE series.series_key = agg.series_key;

UPDATE studies
SET n_series = agg.n_series, n_instances = agg.n_instances, bytes = agg.bytes,
    modalities = agg.modalities, last_run = agg.run_id
FROM (SELECT i.study_key, count(DISTINCT i.series_key) AS n_series,
             count(*) AS n_instances, sum(i.bytes) AS bytes, max(i.run_id) AS run_id,
             string_agg(DISTINCT se.modality, '\' ORDER BY se.modality) AS modalities
      FROM instances AS i JOIN series AS se USING (series_key)
      WHERE i.study_key IN (SELECT s.study_key FROM studies AS s
                            JOIN batch_new AS b USING (study_uid))
      GROUP BY i.study_key) AS agg
WHERE studies.study_key = agg.study_key;
