-- dedup archive, schema version 2: matching results.

-- One row per duplicate pair. The columns up to detected_at are a stable interface
-- (`dedup duplicates`, the check service, metrics and dashboards read them).
-- `study_uid` is the duplicate, `duplicate_of_study_uid` what it duplicates:
--   exact         a re-send of instances already archived (same SOP Instance UIDs). No new
--                 study exists, so study_uid = duplicate_of_study_uid (the archived study);
--                 bytes_reclaimable = the re-sent copies (files with status 'copy').
--   same-content, partial, near: the study that arrived later is the duplicate.
--   repeat        the later acquisition (study date) is the repeat of the earlier one.
-- Every matching pair has a row; bytes_reclaimable is set on one row per duplicate study
-- only (its best storage match), so sum(bytes_reclaimable) never counts an instance twice.
CREATE TABLE duplicates (
    study_uid               VARCHAR NOT NULL,
    duplicate_of_study_uid  VARCHAR NOT NULL,
    kind                    VARCHAR NOT NULL,  -- exact | same-content | partial | near | repeat
    score                   DOUBLE NOT NULL,   -- 0..1, kind-specific (see evidence)
    bytes_reclaimable       BIGINT NOT NULL,
    detected_at             TIMESTAMP NOT NULL,
    study_key               BIGINT NOT NULL,
    duplicate_of_study_key  BIGINT NOT NULL,
    matched_study_key       BIGINT NOT NULL,   -- the study whose matching produced the row
    run_id                  BIGINT,
    evidence                VARCHAR NOT NULL,  -- JSON: sets, distances, link, family, window
    PRIMARY KEY (study_key, duplicate_of_study_key)
);

-- Patient record pairs compared by the Fellegi-Sunter model (a < b), linked or not.
CREATE TABLE patient_links (
    patient_key_a      BIGINT NOT NULL,
    patient_key_b      BIGINT NOT NULL,
    match_probability  DOUBLE NOT NULL,
    match_weight       DOUBLE NOT NULL,
    linked             BOOLEAN NOT NULL,
    reasons            VARCHAR NOT NULL,       -- JSON list, never names, IDs or dates
    run_id             BIGINT,
    PRIMARY KEY (patient_key_a, patient_key_b)
);

-- Patients whose linkage has been computed.
CREATE TABLE linked_patients (
    patient_key  BIGINT PRIMARY KEY,
    run_id       BIGINT
);

-- Procedure family of each study, from the editable mapping (mapping = its content hash).
CREATE TABLE study_procedures (
    study_key  BIGINT PRIMARY KEY,
    family     VARCHAR NOT NULL,
    known      BOOLEAN NOT NULL,               -- false: fallback, no mapping row matched
    rule       VARCHAR NOT NULL,               -- what matched: code, terms or fallback
    mapping    VARCHAR NOT NULL
);

-- The matched-state marker: a study is matched for the instance count it had then; a study
-- that grows later is matched again.
CREATE TABLE matched_studies (
    study_key    BIGINT PRIMARY KEY,
    n_instances  INTEGER NOT NULL,
    run_id       BIGINT,
    matched_at   TIMESTAMP NOT NULL
);
