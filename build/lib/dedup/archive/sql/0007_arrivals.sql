-- dedup archive, schema version 7: what arrived, not only which Study UID.
-- An arrival is the instances one run received for one study (instances.run_id). A study can
-- hold its own duplicates: an image re-sent under a new SOP Instance UID, or a lossy version
-- of it, which DICOM requires to get a new SOP Instance UID. So:
--   * instances.sop_uid is no longer unique: an instance whose SOP Instance UID is archived
--     with other pixels is recorded, with conflict_of naming the archived instance, and
--     matching decides whether it is a lossy or resampled copy (`near`) or a genuine
--     conflict (left flagged for a later run to settle; nothing is lost);
--   * instances.copy_of names the earlier instance of the same study an instance duplicates
--     (the same pixels under another SOP Instance UID, or a lossy or resampled copy), set by
--     matching: a study's content is its instances that are no copy, so a copy that arrived
--     under its source's Study UID neither changes the study's pixel set nor counts twice;
--   * each duplicates row names the arrival that brought the duplicate (arrival_run), and the
--     key holds the kind and the arrival, so one study can have an `exact` re-send, a
--     `same-content` and a `near` arrival of its own beside its rows with other studies.

CREATE TABLE instances_v7 (
    instance_key    BIGINT PRIMARY KEY,
    sop_uid         VARCHAR NOT NULL,
    series_key      BIGINT NOT NULL,
    study_key       BIGINT NOT NULL,
    sop_class_uid   VARCHAR,
    transfer_syntax VARCHAR,
    instance_number INTEGER,
    rows            INTEGER,
    columns         INTEGER,
    frames          INTEGER,
    pixel_hash      BLOB,                 -- xxh3-128 of canonical decoded pixels
    file_hash       BLOB NOT NULL,        -- xxh3-128 of the whole file
    bytes           BIGINT NOT NULL,
    location        VARCHAR NOT NULL,     -- where the first copy was read
    run_id          BIGINT NOT NULL,      -- the run it arrived in (its arrival)
    blank           BOOLEAN DEFAULT false,
    detail          BLOB,
    look            BIGINT,
    conflict_of     BIGINT,               -- the archived instance of this SOP UID, other pixels
    copy_of         BIGINT                -- the instance of the study it is a copy of
);
INSERT INTO instances_v7
SELECT instance_key, sop_uid, series_key, study_key, sop_class_uid, transfer_syntax,
       instance_number, rows, columns, frames, pixel_hash, file_hash, bytes, location, run_id,
       blank, detail, look, NULL, NULL
FROM instances;
DROP TABLE instances;
ALTER TABLE instances_v7 RENAME TO instances;
CREATE INDEX instances_by_sop_uid ON instances (sop_uid);

CREATE TABLE duplicates_v7 (
    study_uid               VARCHAR NOT NULL,
    duplicate_of_study_uid  VARCHAR NOT NULL,
    kind                    VARCHAR NOT NULL,  -- exact | same-content | partial | near | repeat
    score                   DOUBLE NOT NULL,   -- 0..1, kind-specific (see evidence)
    bytes_reclaimable       BIGINT NOT NULL,
    detected_at             TIMESTAMP NOT NULL,
    study_key               BIGINT NOT NULL,
    duplicate_of_study_key  BIGINT NOT NULL,
    matched_study_key       BIGINT NOT NULL,   -- the study whose matching produced the row
    run_id                  BIGINT,            -- the run that found it
    evidence                VARCHAR NOT NULL,  -- JSON: sets, distances, link, family, window
    arrival_run             BIGINT NOT NULL,   -- the run that brought the duplicate
    PRIMARY KEY (study_key, duplicate_of_study_key, kind, arrival_run)
);
INSERT INTO duplicates_v7
SELECT d.study_uid, d.duplicate_of_study_uid, d.kind, d.score, d.bytes_reclaimable,
       d.detected_at, d.study_key, d.duplicate_of_study_key, d.matched_study_key, d.run_id,
       d.evidence, coalesce(s.first_run, d.run_id, 0)
FROM duplicates AS d LEFT JOIN studies AS s USING (study_key)
WHERE d.kind <> 'exact';  -- recomputed per arrival by the next matching (exact_duplicates.sql)
DROP TABLE duplicates;
ALTER TABLE duplicates_v7 RENAME TO duplicates;
